//! Syntax: text → syntax tree and diagnostics. nom stays inside this module.
//!
//! Parsing never fails: it returns a tree for what could be read and a
//! diagnostic for each broken part, recovering at item and entry boundaries.

pub mod ast;
pub mod dump;
mod error;
mod lexer;
mod parser;
mod strings;

pub use error::SyntaxError;

use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// Deepest nesting of blocks, lists, maps, parentheses and operators accepted.
pub const MAX_DEPTH: u32 = 128;

/// How many syntax errors one file reports before giving up on it.
pub const MAX_ERRORS: usize = 100;

/// Stack for the parser's thread. Nesting is bounded by [`MAX_DEPTH`], but an
/// unoptimised build spends kilobytes of stack per level, more than a test
/// thread's default 2 MiB; this much is ample and only reserved, not touched.
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Parses one file. Always returns a tree; diagnostics say what was skipped.
pub fn parse(file: FileId, text: &str) -> (ast::SourceTree, Vec<Diagnostic>) {
    let run = || {
        let (tree, errors) = parser::parse_tree(file, text);
        (tree, errors.into_iter().map(Diagnostic::from).collect())
    };
    // Small inputs cannot nest deeply enough to matter.
    if text.len() < 4096 && text.bytes().filter(|b| matches!(b, b'[' | b'{' | b'(' | b'-' | b'!')).count() < 32 {
        return run();
    }
    std::thread::scope(|scope| match std::thread::Builder::new().stack_size(PARSER_STACK).spawn_scoped(scope, run) {
        Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        // No thread to be had: parse here, within this thread's stack.
        Err(_) => run(),
    })
}

/// Reserved words; they cannot name items, but may name attributes and members.
pub const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "param",
    "let",
    "output",
    "schema",
    "component",
    "resource",
    "app",
    "service",
    "job",
    "domain",
    "environment",
    "from",
    "if",
    "then",
    "else",
    "for",
    "in",
    "true",
    "false",
    "null",
];

pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Block keywords that may appear as a name in an expression. They are
/// contextual there, so `${service}` reads the
/// implicit service name.
pub const CONTEXTUAL: &[&str] = &["app", "service", "job", "domain", "environment"];

pub fn is_reserved(word: &str) -> bool {
    is_keyword(word) && !CONTEXTUAL.contains(&word)
}
