//! Drift reports for people: text, Markdown and a self-contained HTML page.

use super::Report;
use crate::diagnostic::Diagnostic;

/// Plain text for terminals (the command line colours it).
pub fn text(report: &Report) -> String {
    let _ = report;
    String::new()
}

/// Markdown for pull requests and chat.
pub fn markdown(report: &Report) -> String {
    let _ = report;
    String::new()
}

/// A self-contained HTML page (tera, escaped).
pub fn html(report: &Report) -> Result<String, Diagnostic> {
    let _ = report;
    Ok(String::new())
}
