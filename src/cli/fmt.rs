//! `rel fmt`: rewrite files in the canonical style, or list those that would change.

use std::path::{Path, PathBuf};

use super::{Format, files, plural, print_diagnostics};
use crate::diagnostic::Diagnostic;
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
            match write_atomically(&entry.path, &formatted) {
                Ok(()) => {
                    println!("formatted: {}", entry.display);
                    changed.push(entry.display.clone());
                }
                Err(e) => {
                    eprintln!("error: cannot write `{}`: {e}", entry.display);
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

/// Writes through a temporary file in the same folder and renames it over the
/// original, so an interrupted run never leaves a half-written source file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.rel-fmt-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
