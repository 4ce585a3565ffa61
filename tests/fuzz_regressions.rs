//! Replays every input in `tests/corpus/fuzz/` (found by fuzzing, by
//! `tests/mutation.rs`, or built by hand to be nasty) through the invariants
//! of `fuzz/invariants.rs`: no panic, no hang, coded diagnostics with spans
//! inside the file, and a clean format round trip.
//!
//! Inputs are read as bytes and loaded as the CLI loads them, so a file that
//! is not UTF-8 or holds NUL bytes tests that the loader refuses it with a
//! diagnostic. Inputs that still break an invariant wait in
//! `tests/corpus/fuzz-pending/` until the compiler is fixed; this test does
//! not read that folder.

#[path = "../fuzz/invariants.rs"]
mod invariants;
mod support;

use std::path::Path;
use std::time::Duration;

/// Longest one input may take before it counts as a hang.
const INPUT_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn fuzz_corpus_keeps_the_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/fuzz");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rel"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{} holds no inputs", dir.display());

    let mut failures = Vec::new();
    for path in &paths {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if let Err(problem) = invariants::check_bytes_within(&bytes, INPUT_LIMIT) {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs break an invariant:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}
