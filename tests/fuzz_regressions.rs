//! What the fuzz targets found stays fixed: every seed and every saved crash input under
//! `fuzz/` goes through its target again (the same `gatehouse::fuzzing` entry points the
//! fuzzer drives), with a few inputs that break naive parsers. Any panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use gatehouse::fuzzing::TARGETS;

/// Inputs every target gets besides its own files.
fn awkward() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"\n".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        "é".repeat(5_000).into_bytes(),
        b"a".repeat(1 << 20),
        b"&=&==&%%%zz%ff%".repeat(1_000),
        b"Basic \xff\xff\nclient_id=%E0%A4%A".to_vec(),
        b"\"\"\"\r\n,,,\r\n\"".repeat(100),
        b"eyJ.eyJ.".to_vec(),
    ]
}

#[test]
fn saved_fuzz_inputs_are_handled_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in TARGETS {
        for folder in ["seeds", "regressions"] {
            let dir = root.join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                replayed += 1;
            }
        }
        for input in awkward() {
            target(&input);
        }
    }
    assert!(replayed >= TARGETS.len(), "every target has seeds");
}
