//! Property test: broken variants of every repository `.rel` file never make
//! the front end or the formatter panic, hang or overflow the stack.
//!
//! Each case takes a file from `tests/corpus/**`, `stdlib/` or `examples/**`,
//! applies a few random edits at character boundaries (deletions,
//! duplications, inserted characters and tokens, swaps, truncation, deep runs
//! of one bracket) and checks the invariants of `fuzz/invariants.rs`.
//!
//! The run is bounded and deterministic: 2048 cases from a fixed seed. Set
//! `PROPTEST_CASES` and `PROPTEST_RNG_SEED` to explore further. Failing cases
//! are saved in `tests/mutation.proptest-regressions` and replayed first;
//! they name a seed file by its index in the sorted file list, so they replay
//! the same input only while that list is unchanged. Put the input itself in
//! `tests/corpus/fuzz/` to keep it for good.

#[path = "../fuzz/invariants.rs"]
mod invariants;
mod support;

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

/// Cases per run unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 2048;

/// Seed of the default run, so that a failure reproduces everywhere.
const SEED: u64 = 0x7265_6c5f_6675_7a7a;

/// Longest one case may take before it counts as a hang. Generous: a debug
/// build on a loaded machine checks a file in milliseconds.
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// Tokens inserted whole: brackets, quotes, comment and interpolation openers,
/// operators, keywords, and a few literals at the edges of what the lexer
/// accepts.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\"", "\"\"\"", "${", "\\", "\\u{", "//", "/*", "*/", "#", "=", ".", ",", ":",
    "@", "?", "|", "=>", "-", "!", "+", "*", "/", "%", "==", "!=", "<=", ">=", "<", ">", "&&", "||", " ", "\n",
    "\r\n", "\r", "\t", "\u{feff}",
    "import", "as", "param", "let", "output", "schema", "component", "resource", "app", "service", "job", "domain",
    "environment", "from", "if", "then", "else", "for", "in", "true", "false", "null", "list(", "map(", "string",
    "int", "secret", "@range(", "@pattern(\"(\")", "x", "_",
    "0", "1.5e3", "1e999", "9223372036854775808", "-9223372036854775808", "1_", "0x1F", "\"std/aws\"",
    "\"./x.rel\"",
];

/// Openers and prefixes repeated many times to reach and pass the nesting limit.
#[rustfmt::skip]
const REPEATED: &[&str] = &[
    "(", "[", "{", ")", "]", "}", "-", "!", "\"${", "${", "if x then ", "[for x in ", "x.", "x[", "f(", "a = ",
    "{a = ", "app a {", "1 + ", "1 == ",
];

/// One edit. Positions are indices into the text's character boundaries, so
/// the result stays valid UTF-8 and shrinks towards the start of the file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Removes up to `chars` characters.
    Delete { at: Index, chars: usize },
    /// Repeats up to `chars` characters right after themselves.
    Duplicate { at: Index, chars: usize },
    /// Inserts one ASCII character, control characters included.
    InsertAscii { at: Index, byte: u8 },
    /// Inserts one of [`TOKENS`].
    InsertToken { at: Index, token: Index },
    /// Exchanges two ranges of up to `chars` characters, if they do not overlap.
    Swap {
        first: Index,
        second: Index,
        chars: usize,
    },
    /// Cuts the text short.
    Truncate { at: Index },
    /// Replaces one character (or appends at the end) with any character.
    ReplaceChar { at: Index, with: char },
    /// Inserts one of [`REPEATED`] `times` times.
    Repeat {
        at: Index,
        token: Index,
        times: usize,
    },
    /// Inserts up to `chars` characters of another seed file.
    Splice {
        at: Index,
        seed: Index,
        from: Index,
        chars: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        3 => (at(), 1..64usize).prop_map(|(at, chars)| Mutation::Delete { at, chars }),
        2 => (at(), 1..64usize).prop_map(|(at, chars)| Mutation::Duplicate { at, chars }),
        3 => (at(), 0..128u8).prop_map(|(at, byte)| Mutation::InsertAscii { at, byte }),
        4 => (at(), at()).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        2 => (at(), at(), 1..32usize)
            .prop_map(|(first, second, chars)| Mutation::Swap { first, second, chars }),
        1 => at().prop_map(|at| Mutation::Truncate { at }),
        2 => (at(), any::<char>()).prop_map(|(at, with)| Mutation::ReplaceChar { at, with }),
        1 => (at(), at(), 1..600usize)
            .prop_map(|(at, token, times)| Mutation::Repeat { at, token, times }),
        2 => (at(), at(), at(), 1..200usize)
            .prop_map(|(at, seed, from, chars)| Mutation::Splice { at, seed, from, chars }),
    ]
}

/// Byte offsets of every character boundary of `text`, its end included.
fn boundaries(text: &str) -> Vec<usize> {
    let starts = text.char_indices().map(|(i, _)| i);
    starts.chain(std::iter::once(text.len())).collect()
}

/// The byte range of up to `chars` characters from boundary `at`.
fn range(bounds: &[usize], at: &Index, chars: usize) -> (usize, usize) {
    let first = at.index(bounds.len());
    let last = (first + chars).min(bounds.len() - 1);
    (bounds[first], bounds[last])
}

fn apply(text: &mut String, mutation: &Mutation) {
    let bounds = boundaries(text);
    let at = |i: &Index| bounds[i.index(bounds.len())];
    match mutation {
        Mutation::Delete { at: i, chars } => {
            let (start, end) = range(&bounds, i, *chars);
            text.replace_range(start..end, "");
        }
        Mutation::Duplicate { at: i, chars } => {
            let (start, end) = range(&bounds, i, *chars);
            let copy = text[start..end].to_string();
            text.insert_str(end, &copy);
        }
        Mutation::InsertAscii { at: i, byte } => text.insert(at(i), char::from(*byte)),
        Mutation::InsertToken { at: i, token } => text.insert_str(at(i), token.get::<&str>(TOKENS)),
        Mutation::Swap {
            first,
            second,
            chars,
        } => {
            let a = range(&bounds, first, *chars);
            let b = range(&bounds, second, *chars);
            let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
            if a.1 <= b.0 {
                let (before, between, after) = (&text[..a.0], &text[a.1..b.0], &text[b.1..]);
                *text = [before, &text[b.0..b.1], between, &text[a.0..a.1], after].concat();
            }
        }
        Mutation::Truncate { at: i } => text.truncate(at(i)),
        Mutation::ReplaceChar { at: i, with } => {
            let (start, end) = range(&bounds, i, 1);
            text.replace_range(start..end, with.encode_utf8(&mut [0; 4]));
        }
        Mutation::Repeat {
            at: i,
            token,
            times,
        } => {
            text.insert_str(at(i), &token.get::<&str>(REPEATED).repeat(*times));
        }
        Mutation::Splice {
            at: i,
            seed,
            from,
            chars,
        } => {
            let (_, other) = seed.get(&SEEDS);
            let (start, end) = range(&boundaries(other), from, *chars);
            text.insert_str(at(i), &other[start..end]);
        }
    }
}

/// The seed texts, with their paths relative to the repository.
static SEEDS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for dir in ["tests/corpus", "stdlib", "examples"] {
        // Pending inputs break an invariant until the compiler is fixed.
        let pending = root.join("tests/corpus/fuzz-pending");
        for path in support::rel_files(&root.join(dir))
            .into_iter()
            .filter(|p| !p.starts_with(&pending))
        {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            // A file that is not UTF-8 (on purpose) cannot seed text mutations.
            if let Ok(text) = std::fs::read_to_string(&path) {
                seeds.push((name, text));
            }
        }
    }
    assert!(!seeds.is_empty(), "no .rel files under {}", root.display());
    seeds
});

fn config() -> ProptestConfig {
    // `default()` reads the PROPTEST_* variables; keep theirs if set.
    let defaults = ProptestConfig::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    ProptestConfig {
        cases: if set("PROPTEST_CASES") {
            defaults.cases
        } else {
            CASES
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            defaults.rng_seed
        } else {
            RngSeed::Fixed(SEED)
        },
        failure_persistence: if set("PROPTEST_DISABLE_FAILURE_PERSISTENCE") {
            None
        } else {
            Some(Box::new(FileFailurePersistence::WithSource(
                "proptest-regressions",
            )))
        },
        // Shrinking a hang costs CASE_LIMIT per attempt; keep it bounded.
        max_shrink_time: if set("PROPTEST_MAX_SHRINK_TIME") {
            defaults.max_shrink_time
        } else {
            120_000
        },
        ..defaults
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_files_keep_the_invariants(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let (name, original) = seed.get(&SEEDS);
        let mut text = original.clone();
        for m in &mutations {
            apply(&mut text, m);
        }
        if let Err(problem) = invariants::check_bytes_within(text.as_bytes(), CASE_LIMIT) {
            return Err(TestCaseError::fail(format!("{name} after {mutations:?}:\n{problem}\n--- input ---\n{text:?}")));
        }
    }
}
