//! Every example under `examples/` checks clean and is formatted canonically,
//! and so is every stdlib module.

use std::path::{Path, PathBuf};

use rel::source::SourceMap;

mod support;
use support::rel_files;

/// The example projects: each folder directly under `examples/` that holds .rel files.
fn projects() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("examples folder")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir() && !rel_files(p).is_empty())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn examples_check_clean() {
    let projects = projects();
    assert!(!projects.is_empty(), "no example projects found");
    for dir in projects {
        let files = rel_files(&dir);
        let entries: Vec<rel::resolve::Entry> = files
            .iter()
            .map(|f| rel::resolve::Entry {
                display: f.display().to_string(),
                path: f.clone(),
                root: dir.clone(),
            })
            .collect();
        let mut sources = SourceMap::new();
        let diags = rel::check_entries(&mut sources, &entries);
        let rendered = rel::diagnostic::render::render_human(&sources, &diags, Default::default());
        assert!(
            diags.is_empty(),
            "{} has diagnostics:\n{rendered}",
            dir.display()
        );
    }
}

#[test]
fn examples_and_stdlib_are_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rel_files(&root.join("examples"));
    files.extend(rel_files(&root.join("stdlib")));
    assert!(
        files.len() >= 6,
        "expected the stdlib and at least one example"
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("UTF-8 source");
        let (tree, diags) = rel::syntax::parse(rel::source::FileId(0), &text);
        assert!(diags.is_empty(), "{} does not parse", file.display());
        let formatted = rel::format::format_source(&tree, &text);
        assert!(
            formatted == text,
            "{} is not formatted; run `rel fmt {}`",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn stdlib_checks_clean() {
    for (module, _, _) in rel::source::STDLIB {
        let mut sources = SourceMap::new();
        let text = format!("import \"{module}\" as m\n");
        let diags = rel::check_text(&mut sources, "import.rel", &text);
        let rendered = rel::diagnostic::render::render_human(&sources, &diags, Default::default());
        assert!(diags.is_empty(), "{module}:\n{rendered}");
    }
}

#[test]
fn editor_grammar_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/rel.tmLanguage.json");
    let text = std::fs::read_to_string(path).expect("the TextMate grammar exists");
    let grammar: serde_json::Value =
        serde_json::from_str(&text).expect("the TextMate grammar is JSON");
    assert_eq!(grammar["scopeName"], "source.rel");
    for key in [
        "comments",
        "strings",
        "interpolation",
        "expressions",
        "items",
    ] {
        assert!(
            grammar["repository"][key].is_object(),
            "repository has {key}"
        );
    }
}
