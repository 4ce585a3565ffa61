//! Terminal rendering with source snippets, through miette's graphical handler.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::locate;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

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
struct NamedText<'a> {
    name: &'a str,
    text: &'a str,
}

impl SourceCode for NamedText<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
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
            // it: such labels become notes with their own location.
            let same_line = |p: crate::source::Span| {
                let file = sources.get(p.file);
                file.line_col(p.start).0 == file.line_col(label.span.start).0
            };
            if primary.is_some_and(|p| {
                p.file == label.span.file
                    && (label.primary || label.span.start >= p.start || same_line(p))
            }) {
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
        let source = primary.map(|p| {
            let file = sources.get(p.file);
            NamedText {
                name: &file.name,
                text: &file.text,
            }
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
