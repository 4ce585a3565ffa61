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
