//! Finding .rel files under the paths given on the command line.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, codes};
use crate::resolve::Entry;

/// Expands paths into entry files, each with its project root: a folder is
/// its own root; a file's root is its folder.
pub fn entries(paths: &[PathBuf]) -> (Vec<Entry>, Vec<Diagnostic>) {
    let mut entries = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut diags);
            found.sort();
            if found.is_empty() {
                diags.push(
                    Diagnostic::error(codes::NO_SOURCE_FILES, format!("no .rel files in `{}`", path.display()))
                        .with_help("Give the folder that holds the project's .rel files, or the files themselves."),
                );
            }
            for file in found {
                let display = file.strip_prefix(path).map_or_else(
                    |_| file.display().to_string(),
                    |p| path.join(p).display().to_string(),
                );
                entries.push(Entry {
                    display,
                    path: file,
                    root: path.clone(),
                });
            }
        } else if path.is_file() {
            let root = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            entries.push(Entry {
                display: path.display().to_string(),
                path: path.clone(),
                root,
            });
        } else {
            diags.push(
                Diagnostic::error(
                    codes::UNREADABLE_FILE,
                    format!("no file or folder `{}`", path.display()),
                )
                .with_help("Check the path; rel takes .rel files and folders that contain them."),
            );
        }
    }
    (entries, diags)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            diags.push(Diagnostic::error(
                codes::UNREADABLE_FILE,
                format!("cannot read folder `{}`: {e}", dir.display()),
            ));
            return;
        }
    };
    for entry in read.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Hidden folders (.git, .venv) and build output are never sources.
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out, diags),
            Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "rel") => out.push(path),
            _ => {}
        }
    }
}
