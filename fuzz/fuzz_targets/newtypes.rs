//! Fuzzes `gatehouse::fuzzing::newtypes`: arbitrary bytes must be accepted or refused, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatehouse::fuzzing::newtypes(data));
