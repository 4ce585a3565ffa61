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

/// Parses one file. Always returns a tree; diagnostics say what was skipped.
pub fn parse(file: FileId, text: &str) -> (ast::SourceTree, Vec<Diagnostic>) {
    let (tree, errors) = parser::parse_tree(file, text);
    (tree, errors.into_iter().map(Diagnostic::from).collect())
}

/// Runs `f` with enough stack for one more level of a recursive walk.
///
/// Nesting is bounded by [`MAX_DEPTH`], but an unoptimised build spends
/// kilobytes of stack per level, more than a test thread's 2 MiB; recursive
/// walks (the parser, the checker, the formatter) call this at each level and
/// get a fresh stack segment when the current one runs low.
#[inline]
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, f)
}

/// [`with_stack`] for walks that count their depth: the stack is looked at
/// every fourth level only, which the red zone leaves ample room for.
#[inline]
pub fn with_stack_at<R>(depth: u32, f: impl FnOnce() -> R) -> R {
    if depth % 4 == 0 { with_stack(f) } else { f() }
}

/// Stack that must remain before a level starts (four levels of the
/// deepest unoptimised walk use well under this).
const RED_ZONE: usize = 256 * 1024;
/// Size of each stack segment added when the red zone is reached.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

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
