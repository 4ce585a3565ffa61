//! Fuzz target: arbitrary bytes are loaded as a source file, and if they are
//! UTF-8, parsed, checked and (when they parse cleanly) formatted twice. Any
//! panic, hang, stack overflow or broken invariant of `fuzz/invariants.rs`
//! is a finding; add its minimised input to `tests/corpus/fuzz/`.

#![no_main]

#[allow(dead_code)] // `check_bytes_within` is for the tests; libFuzzer has its own timeout.
#[path = "../invariants.rs"]
mod invariants;
#[path = "../../tests/support/mod.rs"]
mod support;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Err(problem) = invariants::check_bytes(bytes) {
        panic!("{problem}");
    }
});
