//! The syntax phase's errors, converted into diagnostics at the phase boundary.

use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SyntaxError {
    #[error("expected {expected}, found {found}")]
    Unexpected {
        span: Span,
        expected: String,
        found: String,
        help: Option<&'static str>,
    },
    #[error("unterminated string")]
    UnterminatedString { span: Span, multiline: bool },
    #[error("unterminated block comment")]
    UnterminatedComment { span: Span },
    #[error("unknown escape `{escape}`")]
    UnknownEscape { span: Span, escape: String },
    #[error("{message}")]
    InvalidEscape { span: Span, message: String },
    #[error("nesting too deep")]
    NestingTooDeep { span: Span },
    #[error("invalid number `{text}`")]
    InvalidNumber {
        span: Span,
        text: String,
        reason: &'static str,
        help: &'static str,
    },
    #[error("attribute outside a block")]
    AttributeOutsideBlock { span: Span },
    #[error("unclosed `{delim}`")]
    Unclosed { open: Span, at: Span, delim: char },
    #[error("empty file")]
    EmptyFile { span: Span },
    #[error("too many syntax errors")]
    TooManyErrors { span: Span },
}

impl From<SyntaxError> for Diagnostic {
    fn from(e: SyntaxError) -> Diagnostic {
        let message = e.to_string();
        match e {
            SyntaxError::Unexpected { span, expected, help, .. } => {
                let d = Diagnostic::error(codes::UNEXPECTED_TOKEN, message).with_label(span, format!("expected {expected}"));
                d.with_help(help.unwrap_or("See grammar/rel.ebnf for what may appear here."))
            }
            SyntaxError::UnterminatedString { span, multiline } => Diagnostic::error(codes::UNTERMINATED_STRING, message)
                .with_label(span, "this string is never closed")
                .with_help(if multiline {
                    "Close the multi-line string with \"\"\"."
                } else {
                    "Add the closing quote on the same line; a string that spans lines must use \"\"\" quotes."
                }),
            SyntaxError::UnterminatedComment { span } => Diagnostic::error(codes::UNTERMINATED_COMMENT, message)
                .with_label(span, "this comment is never closed")
                .with_help("Close the comment with `*/`; block comments do not nest."),
            SyntaxError::UnknownEscape { span, .. } => Diagnostic::error(codes::UNKNOWN_ESCAPE, message)
                .with_label(span, "not a known escape")
                .with_help("Use one of \\n \\r \\t \\\\ \\\" \\$ \\u{...}; write a literal backslash as \\\\."),
            SyntaxError::NestingTooDeep { span } => Diagnostic::error(codes::NESTING_TOO_DEEP, message)
                .with_label(span, format!("more than {} levels deep here", super::MAX_DEPTH))
                .with_help("Flatten the structure with `let` bindings or components."),
            SyntaxError::InvalidNumber { span, reason, help, .. } => {
                Diagnostic::error(codes::INVALID_NUMBER, message).with_label(span, reason).with_help(help)
            }
            SyntaxError::InvalidEscape { span, .. } => Diagnostic::error(codes::UNKNOWN_ESCAPE, message)
                .with_label(span, "invalid escape")
                .with_help("A unicode escape is \\u{...} with 1 to 6 hex digits naming a Unicode scalar value, e.g. \\u{e9}."),
            SyntaxError::AttributeOutsideBlock { span } => Diagnostic::error(codes::ATTRIBUTE_OUTSIDE_BLOCK, message)
                .with_label(span, "attributes belong inside a block")
                .with_help("Introduce a top-level name with `let NAME = VALUE` or `param NAME: TYPE = VALUE`."),
            SyntaxError::Unclosed { open, at, delim } => Diagnostic::error(codes::UNCLOSED_DELIMITER, message)
                .with_label(at, "the file ends here")
                .with_secondary(open, format!("this `{delim}` is never closed"))
                .with_help(format!("Add the matching `{}`.", closing(delim))),
            SyntaxError::EmptyFile { span } => Diagnostic::error(codes::EMPTY_FILE, message)
                .with_label(span, "no items in this file")
                .with_help("Add items to the file or delete it."),
            SyntaxError::TooManyErrors { span } => Diagnostic::error(codes::UNEXPECTED_TOKEN, message)
                .with_label(span, "stopped reading the file here")
                .with_note(format!("rel reports at most {} syntax errors per file.", super::MAX_ERRORS))
                .with_help("Fix the errors above and run the command again; is this really a rel file?"),
        }
    }
}

fn closing(open: char) -> char {
    match open {
        '{' => '}',
        '[' => ']',
        '(' => ')',
        other => other,
    }
}
