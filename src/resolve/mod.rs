//! Resolve: loads modules and their imports (stdlib, relative, project-rooted),
//! detects import cycles, and provides scopes for name lookup.

mod error;
mod scope;

pub use error::ResolveError;
pub use scope::{Def, ItemRef, MAX_ITEM_DEPTH, Scope};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Origin, STDLIB, SourceMap, Span};
use crate::syntax::{self, ast};

/// Index of a module in a [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

/// One parsed file and what its imports refer to.
#[derive(Debug)]
pub struct Module {
    pub file: FileId,
    pub tree: ast::SourceTree,
    /// Import alias → module; `None` when the import could not be resolved.
    pub imports: HashMap<String, Option<ModuleId>>,
    /// The project root this module belongs to (`None` for the stdlib):
    /// canonical, for containment checks.
    pub root: Option<PathBuf>,
    /// The root as the user wrote it, to name imported files consistently.
    pub root_display: Option<PathBuf>,
    pub is_stdlib: bool,
}

/// All modules of one compilation: the entry files, what they import, and the prelude.
#[derive(Debug)]
pub struct Program {
    pub modules: Vec<Module>,
    /// The modules named on the command line, in the order given.
    pub entries: Vec<ModuleId>,
    /// `std/core`, whose names every module sees.
    pub prelude: ModuleId,
}

impl Program {
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0 as usize]
    }

    /// The item an item reference names, if it exists.
    pub fn item(&self, r: &ItemRef) -> Option<&ast::Item> {
        let (first, rest) = r.path().split_first()?;
        let mut item = self
            .modules
            .get(r.module.0 as usize)?
            .tree
            .items
            .get(*first as usize)?;
        for &index in rest {
            match item.kind.body()?.entries.get(index as usize)? {
                ast::Entry::Item(inner) => item = inner,
                ast::Entry::Attr(_) => return None,
            }
        }
        Some(item)
    }

    pub fn ids(&self) -> impl Iterator<Item = ModuleId> + '_ {
        (0..self.modules.len() as u32).map(ModuleId)
    }
}

/// What to compile: entry files, each with the project root its relative imports must stay in.
pub struct Entry {
    pub path: PathBuf,
    pub display: String,
    pub root: PathBuf,
}

/// Loads and parses the entry files and everything they import.
///
/// Returns the program and all source-level and syntax diagnostics. Files that
/// cannot be read are reported and left out; everything else is loaded.
pub fn load(sources: &mut SourceMap, entries: &[Entry]) -> (Program, Vec<Diagnostic>) {
    let mut loader = Loader::new(sources);
    let prelude = loader.stdlib("std/core").unwrap_or(ModuleId(0));
    let mut ids = Vec::new();
    for entry in entries {
        match loader.sources.load(&entry.path, entry.display.clone()) {
            Ok(file) => {
                let root = entry
                    .root
                    .canonicalize()
                    .unwrap_or_else(|_| entry.root.clone());
                ids.push(loader.module(file, Some((root, entry.root.clone()))));
            }
            Err(d) => loader.diags.push(d),
        }
    }
    let program = Program {
        modules: loader.modules,
        entries: ids,
        prelude,
    };
    (program, loader.diags)
}

/// Loads a program from in-memory text (tests, benchmarks, the fuzzer).
/// Relative imports are not available; `std/...` imports are.
pub fn load_text(sources: &mut SourceMap, name: &str, text: &str) -> (Program, Vec<Diagnostic>) {
    let mut loader = Loader::new(sources);
    let prelude = loader.stdlib("std/core").unwrap_or(ModuleId(0));
    let file = loader.sources.add(name, Origin::Memory, text.to_string());
    let id = loader.module(file, None);
    let program = Program {
        modules: loader.modules,
        entries: vec![id],
        prelude,
    };
    (program, loader.diags)
}

struct Loader<'s> {
    sources: &'s mut SourceMap,
    modules: Vec<Module>,
    by_file: HashMap<FileId, ModuleId>,
    diags: Vec<Diagnostic>,
    /// Modules being loaded, for cycle detection: (module, the import that led here).
    stack: Vec<(ModuleId, Option<Span>)>,
}

impl<'s> Loader<'s> {
    fn new(sources: &'s mut SourceMap) -> Loader<'s> {
        Loader {
            sources,
            modules: Vec::new(),
            by_file: HashMap::new(),
            diags: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn stdlib(&mut self, name: &str) -> Option<ModuleId> {
        let file = self.sources.add_stdlib(name)?;
        Some(self.module(file, None))
    }

    /// Parses a file into a module (once) and loads its imports depth first.
    fn module(&mut self, file: FileId, roots: Option<(PathBuf, PathBuf)>) -> ModuleId {
        let (root, root_display) = match roots {
            Some((canonical, shown)) => (Some(canonical), Some(shown)),
            None => (None, None),
        };
        if let Some(&id) = self.by_file.get(&file) {
            return id;
        }
        let text = &self.sources.get(file).text;
        let is_stdlib = matches!(self.sources.get(file).origin, Origin::Stdlib(_));
        let (tree, diags) = syntax::parse(file, text);
        self.diags.extend(diags);
        let id = ModuleId(self.modules.len() as u32);
        self.modules.push(Module {
            file,
            tree,
            imports: HashMap::new(),
            root: root.clone(),
            root_display: root_display.clone(),
            is_stdlib,
        });
        self.by_file.insert(file, id);
        self.stack.push((id, None));
        let imports: Vec<(ast::StrLit, ast::Ident)> = self.modules[id.0 as usize]
            .tree
            .items
            .iter()
            .filter_map(|item| match &item.kind {
                ast::ItemKind::Import { path, alias } => Some((path.clone(), alias.clone())),
                _ => None,
            })
            .collect();
        for (path, alias) in imports {
            if let Some(top) = self.stack.last_mut() {
                top.1 = Some(path.span);
            }
            let target = self.import(file, root.as_deref().zip(root_display.as_deref()), &path);
            self.modules[id.0 as usize]
                .imports
                .insert(alias.name.to_string(), target);
        }
        self.stack.pop();
        id
    }

    fn import(
        &mut self,
        from: FileId,
        roots: Option<(&Path, &Path)>,
        path: &ast::StrLit,
    ) -> Option<ModuleId> {
        let root = roots.map(|(canonical, _)| canonical);
        let Some(text) = path.as_plain() else {
            self.diags
                .push(ResolveError::InterpolatedImport { span: path.span }.into());
            return None;
        };
        let target = if let Some(name) = text.strip_prefix("std/").map(|_| text.as_str()) {
            match self.sources.add_stdlib(name) {
                Some(file) => file,
                None => {
                    let suggestion =
                        crate::diagnostic::did_you_mean(name, STDLIB.iter().map(|(n, _, _)| *n))
                            .map(str::to_string);
                    self.diags.push(
                        ResolveError::UnknownModule {
                            span: path.span,
                            name: text.clone(),
                            suggestion,
                        }
                        .into(),
                    );
                    return None;
                }
            }
        } else {
            // Relative imports need a file on disk inside a project folder.
            let (Some(root), Origin::Disk(importer)) = (root, &self.sources.get(from).origin)
            else {
                self.diags.push(
                    ResolveError::RelativeImportWithoutRoot {
                        span: path.span,
                        name: text.clone(),
                    }
                    .into(),
                );
                return None;
            };
            let candidate = importer.parent().unwrap_or(Path::new(".")).join(&text);
            let canonical = match candidate.canonicalize() {
                Ok(c) => c,
                Err(_) => {
                    self.diags.push(
                        ResolveError::MissingFile {
                            span: path.span,
                            name: text.clone(),
                        }
                        .into(),
                    );
                    return None;
                }
            };
            if !canonical.starts_with(root) {
                self.diags.push(
                    ResolveError::OutsideRoot {
                        span: path.span,
                        name: text.clone(),
                    }
                    .into(),
                );
                return None;
            }
            if let Some(existing) = self.sources.find(&Origin::Disk(canonical.clone())) {
                existing
            } else {
                let shown_root = roots.map_or(Path::new("."), |(_, shown)| shown);
                let display = canonical.strip_prefix(root).map_or_else(
                    |_| text.clone(),
                    |p| shown_root.join(p).display().to_string(),
                );
                match self.sources.load(&canonical, display) {
                    Ok(file) => file,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                }
            }
        };
        // A module still on the stack imports itself through this chain.
        if let Some(&target_id) = self.by_file.get(&target) {
            if let Some(pos) = self.stack.iter().position(|(m, _)| *m == target_id) {
                let chain: Vec<Span> = self.stack[pos..].iter().filter_map(|(_, s)| *s).collect();
                let mut names: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|(m, _)| {
                        self.sources
                            .get(self.modules[m.0 as usize].file)
                            .name
                            .clone()
                    })
                    .collect();
                // Show the loop closing: a → b → a.
                names.push(names[0].clone());
                self.diags.push(
                    ResolveError::ImportCycle {
                        span: path.span,
                        chain,
                        modules: names,
                    }
                    .into(),
                );
                return None;
            }
            return Some(target_id);
        }
        let roots = if matches!(self.sources.get(target).origin, Origin::Stdlib(_)) {
            None
        } else {
            roots.map(|(canonical, shown)| (canonical.to_path_buf(), shown.to_path_buf()))
        };
        Some(self.module(target, roots))
    }
}
