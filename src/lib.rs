//! rel: a declarative infrastructure compiler.
//!
//! The pipeline, in module order (dependencies point backwards only):
//! `source` → `syntax` → `resolve` → `check`; `format` works on syntax
//! alone; `cli` is the only module that does process IO.

// Errors are diagnostics, returned on rare paths and collected into lists;
// their size there does not matter.
#![allow(clippy::result_large_err)]

pub mod address;
pub mod atomic_file;
pub mod check;
pub mod cli;
pub mod compile;
pub mod deploy;
pub mod diagnostic;
pub mod drift;
pub mod emit;
pub mod eval;
pub mod format;
pub mod graph;
pub mod identity;
pub mod resolve;
pub mod source;
pub mod state;
pub mod syntax;

use diagnostic::Diagnostic;
use source::SourceMap;

/// The front end over entry files: load and parse everything they import,
/// stop if anything failed to read or parse, else resolve and check.
///
/// Diagnostics come back sorted by file and position.
pub fn check_entries(sources: &mut SourceMap, entries: &[resolve::Entry]) -> Vec<Diagnostic> {
    let (program, mut diags) = resolve::load(sources, entries);
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(check::check(&program, sources).diagnostics);
    }
    diagnostic::sort(&mut diags);
    diags
}

/// The project the entry files declare (`project "NAME"`), read without
/// checking anything else.
pub fn declared_project(
    sources: &mut SourceMap,
    entries: &[resolve::Entry],
) -> Option<identity::ProjectName> {
    let (program, _) = resolve::load(sources, entries);
    program
        .ids()
        .flat_map(|id| program.module(id).tree.items.iter())
        .find_map(|item| match &item.kind {
            syntax::ast::ItemKind::Project { name } => {
                identity::ProjectName::new(&name.as_plain()?).ok()
            }
            _ => None,
        })
}

/// The front end for compiling: load, parse, resolve and check. Errors
/// stop here, sorted.
fn front_end(
    sources: &mut SourceMap,
    entries: &[resolve::Entry],
) -> Result<(resolve::Program, check::Checked), Vec<Diagnostic>> {
    let (program, mut diags) = resolve::load(sources, entries);
    if !diags.iter().any(Diagnostic::is_error) {
        let checked = check::check(&program, sources);
        diags.extend(checked.diagnostics.iter().cloned());
        if !diags.iter().any(Diagnostic::is_error) {
            return Ok((program, checked));
        }
    }
    diagnostic::sort(&mut diags);
    Err(diags)
}

/// Compiles one environment of the project the entry files make up: the
/// front end, then [`compile::compile`]. Diagnostics are sorted.
pub fn compile_entries(
    sources: &mut SourceMap,
    entries: &[resolve::Entry],
    options: &compile::Options,
) -> Result<compile::Model, Vec<Diagnostic>> {
    let (program, checked) = front_end(sources, entries)?;
    compile::compile(&program, &checked, sources, options).map_err(|mut d| {
        diagnostic::sort(&mut d);
        d
    })
}

/// Compiles and emits one environment. Kubernetes objects are written on a
/// second thread while compilation goes on; the artifacts are the same as
/// `emit::build` of `compile_entries`'s model. Diagnostics are sorted.
pub fn build_entries(
    sources: &mut SourceMap,
    entries: &[resolve::Entry],
    options: &compile::Options,
    build_options: &emit::BuildOptions,
) -> Result<(compile::Model, emit::Build), Vec<Diagnostic>> {
    let (program, checked) = front_end(sources, entries)?;
    let renderer = emit::kubernetes::Renderer::start();
    let compiled = compile::compile_observed(&program, &checked, sources, options, &mut |r| {
        renderer.show(r)
    });
    let prerendered = renderer.finish();
    drop((program, checked));
    return_freed_memory();
    compiled
        .and_then(|model| {
            let build = emit::build_with(&model, build_options, prerendered)?;
            Ok((model, build))
        })
        .map_err(|mut d| {
            diagnostic::sort(&mut d);
            d
        })
}

/// Hands the pages freed so far on this thread back to the operating
/// system. The binary allocates with mimalloc (`src/main.rs`), which keeps
/// freed pages for reuse; after compilation the tree's pages would
/// otherwise stay resident under the artifacts (a fifth of a large build's
/// peak). Under another allocator this does nothing.
fn return_freed_memory() {
    // SAFETY: `mi_collect` only reorganises mimalloc's own free lists; it
    // may be called at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// The front end over one in-memory text (tests, benchmarks, fuzzing).
pub fn check_text(sources: &mut SourceMap, name: &str, text: &str) -> Vec<Diagnostic> {
    let (program, mut diags) = resolve::load_text(sources, name, text);
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(check::check(&program, sources).diagnostics);
    }
    diagnostic::sort(&mut diags);
    diags
}
