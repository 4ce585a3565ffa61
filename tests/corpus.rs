//! Data-driven tests over `tests/corpus/{parse,check}/{ok,err}/*.rel`.
//!
//! `ok` files must give no diagnostics, `err` files at least one. Every tree's
//! spans must lie inside the file and nest. Snapshots (insta) hold the tree
//! dump and the rendered diagnostics. In `check/err`, `# ^^^ CODE` lines under
//! a line state exactly which diagnostics are expected and where.

mod support;

use std::path::Path;

use rel::source::SourceMap;

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn expect_ok_or_err(path: &Path, count: usize) {
    let name = relative(path);
    if name.contains("/ok/") {
        assert_eq!(count, 0, "{name}: an ok file must give no diagnostics");
    } else {
        assert!(
            count > 0,
            "{name}: an err file must give at least one diagnostic"
        );
    }
}

#[test]
fn parse_corpus() {
    insta::glob!("corpus/parse/**/*.rel", |path| {
        let text = std::fs::read_to_string(path).expect("corpus files are UTF-8");
        let mut sources = SourceMap::new();
        let file = sources.add(relative(path), rel::source::Origin::Memory, text.clone());
        let (tree, diags) = rel::syntax::parse(file, &text);
        if let Err(e) = support::check_spans(&tree, text.len()) {
            panic!("{}: span invariant broken:\n{e}", relative(path));
        }
        for d in &diags {
            for l in &d.labels {
                assert!(
                    l.span.end as usize <= text.len(),
                    "{}: diagnostic span outside the file",
                    relative(path)
                );
            }
        }
        expect_ok_or_err(path, diags.len());
        let snapshot = format!(
            "--- tree ---\n{}--- diagnostics ---\n{}",
            rel::syntax::dump::dump(&tree),
            support::render(&sources, &diags)
        );
        insta::assert_snapshot!(snapshot);
    });
}

#[test]
fn check_corpus() {
    insta::glob!("corpus/check/**/*.rel", |path| {
        let text = std::fs::read_to_string(path).expect("corpus files are UTF-8");
        let mut sources = SourceMap::new();
        let entry = rel::resolve::Entry {
            display: relative(path),
            path: path.to_path_buf(),
            root: Path::new(&relative(path))
                .parent()
                .expect("corpus files live in a folder")
                .to_path_buf(),
        };
        let diags = rel::check_entries(&mut sources, &[entry]);
        expect_ok_or_err(path, diags.len());

        let expected = support::expectations(&text);
        if !expected.is_empty() {
            let mut actual: Vec<support::Expectation> = diags
                .iter()
                .filter_map(|d| {
                    let span = d.primary_span()?;
                    let file = sources.get(span.file);
                    if file.name != relative(path) {
                        return None;
                    }
                    let (line, column) = file.line_col(span.start);
                    Some(support::Expectation {
                        line,
                        column,
                        code: d.code.id.to_string(),
                    })
                })
                .collect();
            actual.sort();
            let mut expected = expected;
            expected.sort();
            assert_eq!(
                actual,
                expected,
                "{}: diagnostics differ from the `# ^^^` expectations",
                relative(path)
            );
        }
        insta::assert_snapshot!(support::render(&sources, &diags));
    });
}
