//! Fuzzes `gatehouse::fuzzing::authentix_csv`: arbitrary bytes must be accepted or refused, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse::fuzzing::authentix_csv(data));
