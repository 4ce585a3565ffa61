//! `rel fmt`: rewrite files in the canonical style, or list those that would change.

use std::path::PathBuf;

use super::{Format, files, plural, print_diagnostics};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::SourceMap;

pub fn run(paths: &[PathBuf], check: bool, color: bool) -> u8 {
    let (entries, mut diags) = files::entries(paths);
    let mut sources = SourceMap::new();
    let mut changed = Vec::new();
    let mut failed = false;
    for entry in &entries {
        let file = match sources.load(&entry.path, entry.display.clone()) {
            Ok(file) => file,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let text = &sources.get(file).text;
        let (tree, syntax) = crate::syntax::parse(file, text);
        if syntax.iter().any(Diagnostic::is_error) {
            // A file that does not parse is left untouched.
            diags.extend(syntax);
            continue;
        }
        let formatted = crate::format::format_source(&tree, text);
        if formatted == *text {
            continue;
        }
        if check {
            println!("would reformat: {}", entry.display);
            changed.push(entry.display.clone());
        } else {
            match crate::atomic_file::write_atomically(&entry.path, formatted.as_bytes()) {
                Ok(()) => {
                    println!("formatted: {}", entry.display);
                    changed.push(entry.display.clone());
                }
                Err(e) => {
                    diags.push(Diagnostic::error(
                        codes::WRITE_FAILED,
                        format!("cannot write `{}`: {e}", entry.display),
                    ));
                    failed = true;
                }
            }
        }
    }
    crate::diagnostic::sort(&mut diags);
    print_diagnostics(&sources, &diags, Format::Human, color);
    failed |= diags.iter().any(Diagnostic::is_error);
    let verb = if check {
        "would be reformatted"
    } else {
        "reformatted"
    };
    eprintln!(
        "{}: {} {verb}",
        plural(entries.len(), "file"),
        changed.len()
    );
    u8::from(failed || check && !changed.is_empty())
}
