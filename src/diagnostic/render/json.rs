//! Machine-readable diagnostics (`--format json`), version 1.

use serde::Serialize;

use super::locate;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    byte_start: Option<u32>,
    byte_end: Option<u32>,
    help: Option<&'a str>,
    notes: &'a [String],
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    byte_start: u32,
    byte_end: u32,
    message: &'a str,
    primary: bool,
}

/// Renders all diagnostics as one pretty-printed JSON document.
pub fn render_json(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let diagnostics = diags
        .iter()
        .map(|d| {
            let primary = d.primary_span();
            let loc = primary.map(|s| locate(sources, s));
            JsonDiagnostic {
                code: d.code.id,
                name: d.code.name,
                severity: d.severity,
                message: &d.message,
                file: loc.as_ref().map(|l| l.file),
                line: loc.as_ref().map(|l| l.line),
                column: loc.as_ref().map(|l| l.column),
                end_line: loc.as_ref().map(|l| l.end_line),
                end_column: loc.as_ref().map(|l| l.end_column),
                byte_start: primary.map(|s| s.start),
                byte_end: primary.map(|s| s.end),
                help: d.help.as_deref(),
                notes: &d.notes,
                labels: d
                    .labels
                    .iter()
                    .map(|l| {
                        let loc = locate(sources, l.span);
                        JsonLabel {
                            file: loc.file,
                            line: loc.line,
                            column: loc.column,
                            byte_start: l.span.start,
                            byte_end: l.span.end,
                            message: &l.message,
                            primary: l.primary,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let report = Report {
        version: 1,
        errors: diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count(),
        warnings: diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count(),
        diagnostics,
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}
