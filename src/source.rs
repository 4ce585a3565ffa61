//! Source files: ids, byte spans, line index, loading with input limits, and the embedded stdlib.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, codes};

/// Largest source file rel accepts; larger inputs are refused before parsing so
/// that a stray artifact in a project folder cannot make `rel check` slow.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one file. Lines and columns are computed only when rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// An empty span at the end of this one (where something missing belongs).
    pub fn end_point(self) -> Span {
        Span {
            file: self.file,
            start: self.end,
            end: self.end,
        }
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// The embedded standard library: module name, display name and text.
pub const STDLIB: &[(&str, &str, &str)] = &[
    (
        "std/core",
        "<stdlib/core.rel>",
        include_str!("../stdlib/core.rel"),
    ),
    (
        "std/aws",
        "<stdlib/aws.rel>",
        include_str!("../stdlib/aws.rel"),
    ),
    (
        "std/gcp",
        "<stdlib/gcp.rel>",
        include_str!("../stdlib/gcp.rel"),
    ),
    (
        "std/k8s",
        "<stdlib/k8s.rel>",
        include_str!("../stdlib/k8s.rel"),
    ),
    (
        "std/monitoring",
        "<stdlib/monitoring.rel>",
        include_str!("../stdlib/monitoring.rel"),
    ),
];

/// Where a file came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file on disk (canonical path).
    Disk(PathBuf),
    /// A stdlib module, by module name such as `std/aws`.
    Stdlib(&'static str),
    /// Text handed in directly (tests, benchmarks, stdin).
    Memory,
}

#[derive(Debug)]
pub struct SourceFile {
    /// Name shown to users: a path relative to the project root, or `<stdlib/x.rel>`.
    pub name: String,
    pub origin: Origin,
    pub text: String,
    line_starts: Vec<u32>,
    /// Whether the text is ASCII: then columns are byte distances and need
    /// no counting, which keeps rendering linear on very long lines.
    ascii: bool,
}

impl SourceFile {
    /// 1-based line and column (column counted in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.line_starts[line] as usize;
        let offset = (offset as usize).min(self.text.len());
        let col = if self.ascii {
            offset - start
        } else {
            self.text
                .get(start..offset)
                .map_or(offset - start, |s| s.chars().count())
        };
        (line + 1, col + 1)
    }

    /// 0-based index of the line holding a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&(offset as u32)) {
            Ok(l) => l,
            Err(l) => l - 1,
        }
    }

    /// Byte range of a 0-based line, without its newline.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |s| *s as usize);
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |s| *s as usize - 1);
        start..end.max(start)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

/// All files of one compilation.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, origin: Origin, text: String) -> FileId {
        let mut line_starts = vec![0u32];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i as u32 + 1));
        let ascii = text.is_ascii();
        self.files.push(SourceFile {
            name: name.into(),
            origin,
            text,
            line_starts,
            ascii,
        });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The file already loaded from this origin, if any.
    pub fn find(&self, origin: &Origin) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| &f.origin == origin)
            .map(|i| FileId(i as u32))
    }

    /// Adds a stdlib module by name (`std/aws`), or returns `None` if there is none.
    pub fn add_stdlib(&mut self, module: &str) -> Option<FileId> {
        let &(name, display, text) = STDLIB.iter().find(|(n, _, _)| *n == module)?;
        if let Some(id) = self.find(&Origin::Stdlib(name)) {
            return Some(id);
        }
        Some(self.add(display, Origin::Stdlib(name), text.to_string()))
    }

    /// Reads a file from disk, refusing inputs that cannot be rel source.
    ///
    /// The returned diagnostic has no span in the file (there is no usable text),
    /// except for invalid UTF-8, where the file is registered with the valid prefix
    /// so the error can point at the first bad byte.
    pub fn load(&mut self, path: &Path, display: String) -> Result<FileId, Diagnostic> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(id) = self.find(&Origin::Disk(canonical.clone())) {
            return Ok(id);
        }
        let meta = std::fs::metadata(path).map_err(|e| {
            Diagnostic::error(
                codes::UNREADABLE_FILE,
                format!("cannot read `{display}`: {e}"),
            )
            .with_help("Check that the path exists and is readable.")
        })?;
        if meta.len() as usize > MAX_FILE_BYTES {
            return Err(Diagnostic::error(
                codes::FILE_TOO_LARGE,
                format!("`{display}` is {} bytes, more than the {} byte limit for a source file", meta.len(), MAX_FILE_BYTES),
            )
            .with_help("Split the file into modules and import them, or move generated data out of the project folder."));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            Diagnostic::error(
                codes::UNREADABLE_FILE,
                format!("cannot read `{display}`: {e}"),
            )
            .with_help("Check that the path exists and is readable.")
        })?;
        let origin = Origin::Disk(canonical);
        self.add_bytes(display, origin, bytes)
    }

    /// Registers raw bytes as a file, checking encoding and content.
    pub fn add_bytes(
        &mut self,
        name: String,
        origin: Origin,
        bytes: Vec<u8>,
    ) -> Result<FileId, Diagnostic> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Diagnostic::error(
                codes::FILE_TOO_LARGE,
                format!("`{name}` is {} bytes, more than the {} byte limit for a source file", bytes.len(), MAX_FILE_BYTES),
            )
            .with_help("Split the file into modules and import them, or move generated data out of the project folder."));
        }
        // NUL bytes mark binary files, which are usually not UTF-8 either;
        // say "binary" rather than point at the first bad byte.
        if let Some(pos) = bytes.iter().position(|b| *b == 0) {
            let text = String::from_utf8_lossy(&bytes[..pos]).into_owned();
            let at = text.len();
            let id = self.add(name.clone(), origin, text);
            return Err(Diagnostic::error(
                codes::BINARY_FILE,
                format!("`{name}` contains a NUL byte and looks like a binary file"),
            )
            .with_label(Span::new(id, at, at), "NUL byte here")
            .with_help("rel source files are UTF-8 text; remove the file or the stray bytes."));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(self.add(name, origin, text)),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                bytes.truncate(valid);
                let text = String::from_utf8(bytes).unwrap_or_default();
                let id = self.add(name.clone(), origin, text);
                Err(Diagnostic::error(
                    codes::INVALID_UTF8,
                    format!("`{name}` is not valid UTF-8 (first bad byte at offset {valid})"),
                )
                .with_label(Span::new(id, valid, valid), "invalid UTF-8 starts here")
                .with_help("Save the file as UTF-8; rel source files are UTF-8 text."))
            }
        }
    }
}
