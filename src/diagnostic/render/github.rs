//! GitHub Actions workflow commands (`--format github`): one annotation per diagnostic.

use super::locate;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

/// Escapes workflow-command data (the message part).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes workflow-command property values (file, title).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render_github(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let title = escape_property(&format!("{} {}", d.code.id, d.code.name));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        match d.primary_span() {
            Some(span) => {
                let l = locate(sources, span);
                out.push_str(&format!(
                    "::{level} file={},line={},col={},endLine={},endColumn={},title={title}::{}\n",
                    escape_property(l.file),
                    l.line,
                    l.column,
                    l.end_line,
                    l.end_column,
                    escape_data(&message)
                ));
            }
            None => out.push_str(&format!(
                "::{level} title={title}::{}\n",
                escape_data(&message)
            )),
        }
    }
    out
}
