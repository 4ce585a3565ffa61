//! `rel check`: parse, resolve and type-check, then print every problem.

use std::path::PathBuf;

use super::{Format, count, files, plural, print_diagnostics};
use crate::diagnostic::Severity;
use crate::source::SourceMap;

pub fn run(paths: &[PathBuf], format: Format, color: bool) -> u8 {
    let (entries, mut diags) = files::entries(paths);
    let mut sources = SourceMap::new();
    let files = entries.len();
    diags.extend(crate::check_entries(&mut sources, &entries));
    print_diagnostics(&sources, &diags, format, color);
    let errors = count(&diags, Severity::Error);
    let warnings = count(&diags, Severity::Warning);
    if format == Format::Human {
        if errors + warnings == 0 {
            eprintln!("checked {}: no problems", plural(files, "file"));
        } else {
            eprintln!(
                "checked {}: {}, {}",
                plural(files, "file"),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
    }
    u8::from(errors > 0)
}
