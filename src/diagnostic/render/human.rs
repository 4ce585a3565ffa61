//! Terminal rendering with source snippets, through miette's graphical handler.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::locate;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceFile, SourceMap};

/// How to render for a terminal.
#[derive(Clone, Copy, Debug)]
pub struct HumanOptions {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            unicode: true,
            width: 100,
        }
    }
}

/// One file's text, named as users see it.
///
/// Snippets are cut with the file's line index, so rendering a diagnostic
/// costs the size of its snippet, not of the file; a line longer than
/// [`LONG_LINE`] is shown as a window around the label.
struct NamedText<'a> {
    file: &'a SourceFile,
}

/// Lines longer than this are shown only around the label.
const LONG_LINE: usize = 2000;
/// Bytes shown on each side of a label on a long line.
const WINDOW: usize = 200;

impl SourceCode for NamedText<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let file = self.file;
        let text = &file.text;
        let start = span.offset();
        let end = start + span.len();
        if end > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let span_line = file.line_index(start);
        let end_line = file.line_index(end.saturating_sub(1).max(start));
        let first_line = span_line.saturating_sub(before);
        let last_line = (end_line + after).min(file.line_count() - 1);
        // Like miette's own reader: without context the data starts at the
        // span and the column is the span's (in bytes); with context it
        // starts at the first context line.
        let (mut data_start, column) = if before == 0 {
            (start, start - file.line_range(span_line).start)
        } else {
            (file.line_range(first_line).start, 0)
        };
        let last = file.line_range(last_line);
        let mut data_end = if last.end < text.len() {
            last.end + 1
        } else {
            last.end
        };
        let newlines = last_line + usize::from(data_end > last.end);
        if file.line_range(span_line).len() > LONG_LINE {
            data_start = floor_char(text, data_start.max(start.saturating_sub(WINDOW)));
            data_end = ceil_char(text, data_end.min(end + WINDOW));
        }
        Ok(Box::new(MietteSpanContents::new_named(
            file.name.clone(),
            &text.as_bytes()[data_start..data_end],
            SourceSpan::new(data_start.into(), data_end - data_start),
            if before == 0 { span_line } else { first_line },
            column,
            newlines,
        )))
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Adapter that presents one of our diagnostics to miette.
struct Adapter<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedText<'a>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{} {}",
            self.diag.code.id, self.diag.code.name
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.clone().into_iter()))
        }
    }
}

/// Renders diagnostics for a terminal, each with a snippet of its file.
///
/// Labels in another file than the primary one, or before it, become notes
/// with a location, since one snippet shows one file from the primary label on.
pub fn render_human(sources: &SourceMap, diags: &[Diagnostic], opts: HumanOptions) -> String {
    let theme = match (opts.unicode, opts.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, _) => GraphicalTheme::ascii(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_context_lines(1);
    let mut out = String::new();
    for diag in diags {
        let primary = diag.primary_span();
        let mut notes = Vec::new();
        let mut labels = Vec::new();
        for label in &diag.labels {
            // The snippet's header names the first label's position, so a
            // label on an earlier line than the primary one would misplace
            // it: such labels become notes with their own location. So do
            // labels outside the window shown of a very long line.
            let shown_with = |p: crate::source::Span| {
                if p.file != label.span.file {
                    return false;
                }
                if label.primary {
                    return true;
                }
                let file = sources.get(p.file);
                let line = file.line_index(p.start as usize);
                if file.line_range(line).len() > LONG_LINE {
                    let near = |a: u32, b: u32| a.abs_diff(b) as usize <= WINDOW;
                    return file.line_index(label.span.start as usize) == line
                        && near(label.span.start, p.start)
                        && near(label.span.end, p.end);
                }
                label.span.start >= p.start || file.line_index(label.span.start as usize) == line
            };
            if primary.is_some_and(shown_with) {
                let span = SourceSpan::new((label.span.start as usize).into(), label.span.len());
                let text = Some(label.message.clone()).filter(|m| !m.is_empty());
                labels.push(if label.primary {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                });
            } else {
                let loc = locate(sources, label.span);
                notes.push(format!(
                    "{}:{}:{}: {}",
                    loc.file, loc.line, loc.column, label.message
                ));
            }
        }
        notes.extend(diag.notes.iter().cloned());
        let mut help = diag.help.clone();
        if !notes.is_empty() {
            let joined = notes
                .iter()
                .map(|n| format!("note: {n}"))
                .collect::<Vec<_>>()
                .join("\n");
            help = Some(match help {
                Some(h) => format!("{h}\n{joined}"),
                None => joined,
            });
        }
        let source = primary.map(|p| NamedText {
            file: sources.get(p.file),
        });
        let adapter = Adapter {
            diag,
            source,
            labels,
            help,
        };
        if handler.render_report(&mut out, &adapter).is_err() {
            out.push_str(&format!(
                "{}[{}]: {}\n",
                severity_word(diag.severity),
                diag.code.id,
                diag.message
            ));
        }
    }
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
