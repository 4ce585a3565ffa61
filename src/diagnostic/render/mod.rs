//! Renderers for diagnostics, apart from the data: human (source snippets), JSON and CI annotations.

mod github;
mod human;
mod json;

pub use github::render_github;
pub use human::{HumanOptions, render_human};
pub use json::render_json;

use crate::source::{SourceMap, Span};

/// A span resolved to a file name and 1-based line/column positions.
pub(crate) struct Location<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

pub(crate) fn locate(sources: &SourceMap, span: Span) -> Location<'_> {
    let file = sources.get(span.file);
    let (line, column) = file.line_col(span.start);
    let (end_line, end_column) = file.line_col(span.end);
    Location {
        file: &file.name,
        line,
        column,
        end_line,
        end_column,
    }
}
