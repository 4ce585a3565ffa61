//! Helpers of the formatter tests: the property check, tree walks, file
//! discovery, and the generators of source variants.

use std::path::{Path, PathBuf};

use rel::diagnostic::Severity;
use rel::format::format_source;
use rel::source::{FileId, Span};
use rel::syntax::ast::*;
use rel::syntax::dump::dump;
use rel::syntax::parse;

/// Formats `text`, failing the test if it does not parse cleanly.
pub fn format(text: &str) -> String {
    let (tree, diagnostics) = parse(FileId(0), text);
    assert!(
        diagnostics.is_empty(),
        "sample does not parse:\n{text}\n{diagnostics:#?}"
    );
    format_source(&tree, text)
}

/// Whether `text` parses without errors.
pub fn parses_cleanly(text: &str) -> bool {
    let (_, diagnostics) = parse(FileId(0), text);
    !diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// The comments of `text` in order, as the formatter may print them: LF line
/// endings and no trailing white space on their lines.
pub fn comment_texts(text: &str) -> Vec<String> {
    let (tree, _) = parse(FileId(0), text);
    tree.comments
        .iter()
        .map(|span| {
            let raw = &text[span.start as usize..span.end as usize];
            raw.split('\n')
                .map(|line| line.trim_end_matches([' ', '\t', '\r']))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// Checks properties 1 to 3 and the basic shape of the output; returns it.
pub fn check_properties(name: &str, text: &str) -> String {
    let (tree, diagnostics) = parse(FileId(0), text);
    assert!(
        diagnostics.is_empty(),
        "{name}: sample does not parse:\n{text}\n{diagnostics:#?}"
    );
    let formatted = format_source(&tree, text);

    let (reparsed, diagnostics) = parse(FileId(0), &formatted);
    assert!(
        diagnostics.is_empty(),
        "{name}: output does not parse:\n{formatted}\n{diagnostics:#?}"
    );
    assert_eq!(
        dump(&reparsed),
        dump(&tree),
        "{name}: meaning changed; output:\n{formatted}"
    );

    let twice = format_source(&reparsed, &formatted);
    assert_eq!(
        twice, formatted,
        "{name}: not idempotent; first output:\n{formatted}"
    );

    assert_eq!(
        comment_texts(&formatted),
        comment_texts(text),
        "{name}: comments changed; output:\n{formatted}"
    );

    if !formatted.is_empty() {
        assert!(
            formatted.ends_with('\n') && !formatted.ends_with("\n\n"),
            "{name}: not one final newline:\n{formatted:?}"
        );
    }
    // Line ends inside string literals and block comments are copied as
    // they are; all others are plain LF with no white space before them.
    let mut strings = string_spans(&reparsed);
    strings.extend(&reparsed.comments);
    let mut line_start = 0;
    for line in formatted.split_inclusive('\n') {
        let line_end = line_start + line.trim_end_matches('\n').len();
        let verbatim = strings
            .iter()
            .any(|s| (s.start as usize) < line_end && line_end < s.end as usize);
        if !verbatim {
            assert_eq!(
                line.trim_end(),
                line.trim_end_matches('\n'),
                "{name}: trailing white space or CR in {line:?}"
            );
            assert!(
                !line.starts_with('\n') || !formatted[..line_start].ends_with("\n\n"),
                "{name}: two blank lines:\n{formatted}\nfrom:\n{text}"
            );
        }
        line_start += line.len();
    }
    formatted
}

/// The spans of the outermost string literals of a tree.
pub fn string_spans(tree: &SourceTree) -> Vec<Span> {
    fn item(item: &Item, out: &mut Vec<Span>) {
        match &item.kind {
            ItemKind::Import { path, .. } | ItemKind::Project { name: path } => out.push(path.span),
            ItemKind::Param(f) => field(f, out),
            ItemKind::Let { value, .. } | ItemKind::Output { value, .. } => expr(value, out),
            ItemKind::Schema { fields, .. } => fields.iter().for_each(|f| field(f, out)),
            ItemKind::Component { body, .. }
            | ItemKind::Block { body, .. }
            | ItemKind::Instance { body, .. } => entries(body, out),
            ItemKind::Resource {
                type_name: name,
                body,
                ..
            }
            | ItemKind::Environment { name, body, .. } => {
                out.push(name.span);
                entries(body, out);
            }
        }
    }
    fn entries(body: &Body, out: &mut Vec<Span>) {
        for entry in &body.entries {
            match entry {
                Entry::Attr(attr) => expr(&attr.value, out),
                Entry::Item(i) => item(i, out),
            }
        }
    }
    fn field(field: &FieldDecl, out: &mut Vec<Span>) {
        let mut types = vec![&field.ty];
        while let Some(ty) = types.pop() {
            match &ty.kind {
                TypeKind::Enum(values) => out.extend(values.iter().map(|v| v.span)),
                TypeKind::List(inner) | TypeKind::Map(inner) => types.push(inner),
                TypeKind::Named(_) => {}
            }
        }
        field
            .constraints
            .iter()
            .flat_map(|c| &c.args)
            .chain(&field.default)
            .for_each(|e| expr(e, out));
    }
    fn expr(e: &Expr, out: &mut Vec<Span>) {
        let comprehension = |c: &Comprehension, out: &mut Vec<Span>| {
            [&c.iterable, &c.body]
                .into_iter()
                .chain(&c.cond)
                .for_each(|e| expr(e, out))
        };
        match &e.kind {
            ExprKind::Str(s) => out.push(s.span),
            ExprKind::List(items) | ExprKind::Call(_, items) => {
                items.iter().for_each(|e| expr(e, out))
            }
            ExprKind::Map(entries) => entries.iter().for_each(|m| {
                if let MapKey::Str(s) = &m.key {
                    out.push(s.span);
                }
                expr(&m.value, out);
            }),
            ExprKind::Member(inner, _) | ExprKind::Unary(_, inner) | ExprKind::Paren(inner) => {
                expr(inner, out)
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                [a, b].into_iter().for_each(|e| expr(e, out))
            }
            ExprKind::If(a, b, c) => [a, b, c].into_iter().for_each(|e| expr(e, out)),
            ExprKind::ListFor(c) => comprehension(c, out),
            ExprKind::MapFor(c, value) => {
                comprehension(c, out);
                expr(value, out);
            }
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Name(_) => {}
        }
    }
    let mut out = Vec::new();
    tree.items.iter().for_each(|i| item(i, &mut out));
    out
}

/// Every `ok` folder under `tests/corpus`, at any depth.
pub fn corpus_ok_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return dirs;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "ok") {
                dirs.push(path);
            } else {
                dirs.extend(corpus_ok_dirs(&path));
            }
        }
    }
    dirs
}

/// Samples whose literals or comments span lines: re-indenting their source
/// changes the text copied verbatim, so the whitespace variants skip them.
pub fn layout_is_verbatim_sensitive(name: &str, text: &str) -> bool {
    let (tree, _) = parse(FileId(0), text);
    let multi_line_comment = tree
        .comments
        .iter()
        .any(|c| text[c.start as usize..c.end as usize].contains('\n'));
    multi_line_comment || text.contains("\"\"\"") || name == "comments_inside_strings"
}

/// Whitespace-only rewrites of a clean sample that must format to exactly
/// the same text: line endings, indentation, trailing spaces, blank-line runs.
pub fn whitespace_variants(text: &str) -> Vec<(&'static str, String)> {
    let per_line =
        |f: &dyn Fn(&str) -> String| text.split('\n').map(f).collect::<Vec<_>>().join("\n");
    vec![
        ("crlf", text.replace('\n', "\r\n")),
        (
            "no indentation",
            per_line(&|line| line.trim_start().to_string()),
        ),
        (
            "tab indentation",
            per_line(&|line| {
                if line.is_empty() {
                    String::new()
                } else {
                    format!("\t  \t{line}")
                }
            }),
        ),
        (
            "trailing white space",
            per_line(&|line| format!("{line} \t ")),
        ),
        ("doubled blank lines", text.replace("\n\n", "\n\n\n\n")),
        ("leading blank lines", format!("\n\n \n{text}\n\n")),
    ]
}

/// Places where a comment could go: every char boundary of the sample,
/// keeping those where the file still parses to the same tree (that is, not
/// inside a name, number or string).
pub fn comment_insertions(text: &str, comment: &str) -> Vec<String> {
    let (tree, _) = parse(FileId(0), text);
    let meaning = dump(&tree);
    (0..=text.len())
        .filter(|&at| text.is_char_boundary(at))
        .map(|at| format!("{}{comment}{}", &text[..at], &text[at..]))
        .filter(|changed| {
            let (tree, diagnostics) = parse(FileId(0), changed);
            diagnostics.is_empty() && dump(&tree) == meaning
        })
        .collect()
}

/// A small deterministic generator, so failures reproduce.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}
