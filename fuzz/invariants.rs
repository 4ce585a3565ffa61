//! The invariants every input must keep, however broken it is: parsing,
//! checking and formatting return, every diagnostic is coded and points
//! inside its file, the tree's spans nest, and a file that parses cleanly
//! formats to a fixed point with the same meaning.
//!
//! Shared by `tests/mutation.rs`, `tests/fuzz_regressions.rs` and the fuzz
//! target `fuzz/fuzz_targets/parse_check.rs`, which include it with `#[path]`
//! next to `tests/support/mod.rs` (mounted as `crate::support`).

use std::sync::mpsc;
use std::time::Duration;

use rel::diagnostic::codes;
use rel::diagnostic::render::{HumanOptions, render_human, render_json};
use rel::diagnostic::{Diagnostic, Severity};
use rel::format::format_source;
use rel::source::{FileId, Origin, SourceMap};
use rel::syntax::dump::dump;
use rel::syntax::parse;

/// The name the text is checked under; it only appears in diagnostics.
const NAME: &str = "input.rel";

/// Loads `bytes` as the CLI does, then, if they are UTF-8, runs the front end
/// and the formatter on them; returns the first broken invariant. Bytes the
/// loader refuses (not UTF-8, NUL bytes) must be refused with an error. A
/// panic or a stack overflow in the compiler is not caught here.
pub fn check_bytes(bytes: &[u8]) -> Result<(), String> {
    let mut loaded = SourceMap::new();
    if let Err(d) = loaded.add_bytes(NAME.to_string(), Origin::Memory, bytes.to_vec()) {
        if !d.is_error() {
            return Err(format!(
                "load: refused with a warning only: {} {}",
                d.code.id, d.message
            ));
        }
        check_diagnostics("load", &loaded, std::slice::from_ref(&d))?;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => check_input(text),
        Err(_) => Ok(()),
    }
}

/// Runs the front end and the formatter on `text` and returns the first broken
/// invariant. A panic or a stack overflow in the compiler is not caught here.
pub fn check_input(text: &str) -> Result<(), String> {
    let (tree, diagnostics) = parse(FileId(0), text);
    crate::support::check_spans(&tree, text.len())
        .map_err(|e| format!("parse: span invariant broken:\n{e}"))?;
    // The dump walks every node, broken ones included.
    let _ = dump(&tree);
    let mut parsed = SourceMap::new();
    let file = parsed.add(NAME, Origin::Memory, text.to_string());
    if file != FileId(0) {
        return Err(format!(
            "the first file of a source map has id {file:?}, not FileId(0)"
        ));
    }
    check_diagnostics("parse", &parsed, &diagnostics)?;

    let mut sources = SourceMap::new();
    let checked = rel::check_text(&mut sources, NAME, text);
    check_diagnostics("check_text", &sources, &checked)?;

    if !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        check_format(text, &tree)?;
    }
    Ok(())
}

/// Runs [`check_bytes`] on a thread of its own and gives up after `limit`, so
/// that a hang fails the test instead of stalling it. The thread gets the
/// default stack of a spawned thread (2 MiB unless `RUST_MIN_STACK` says
/// otherwise), the same as a test thread. A hung thread is left running; the
/// test process ends it when it exits.
pub fn check_bytes_within(bytes: &[u8], limit: Duration) -> Result<(), String> {
    let (sender, receiver) = mpsc::channel();
    let owned = bytes.to_vec();
    let worker = std::thread::Builder::new()
        .name("check-input".into())
        .spawn(move || {
            // The receiver is gone only if the caller already gave up.
            let _ = sender.send(check_bytes(&owned));
        })
        .map_err(|e| format!("cannot start a thread for the input: {e}"))?;
    match receiver.recv_timeout(limit) {
        Ok(result) => {
            // The worker has sent its result and ends by itself.
            let _ = worker.join();
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("hang: no result after {limit:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => Err(format!("panic: {}", panic_message(payload.as_ref()))),
            Ok(()) => Err("the checking thread ended without a result".to_string()),
        },
    }
}

/// The text of a panic payload, when it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a payload that is not a string)".to_string()
    }
}

/// Every diagnostic has a known code, a message and a primary label, and all
/// its labels lie inside a file of `sources`, on character boundaries. The
/// renderers, which slice the text at those spans, must not panic.
fn check_diagnostics(
    phase: &str,
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
) -> Result<(), String> {
    for d in diagnostics {
        let what = format!("{phase}: {} {:?}", d.code.id, d.message);
        if codes::lookup(d.code.id).is_none() {
            return Err(format!("{what}: code not in the code table"));
        }
        if d.message.trim().is_empty() {
            return Err(format!("{what}: empty message"));
        }
        if d.primary_span().is_none() {
            return Err(format!("{what}: no primary label"));
        }
        for label in &d.labels {
            let span = label.span;
            let Some((_, file)) = sources.files().find(|(id, _)| *id == span.file) else {
                return Err(format!("{what}: label in unknown file {:?}", span.file));
            };
            let (start, end) = (span.start as usize, span.end as usize);
            if start > end || end > file.text.len() {
                return Err(format!(
                    "{what}: label {start}..{end} outside {} (len {})",
                    file.name,
                    file.text.len()
                ));
            }
            if !file.text.is_char_boundary(start) || !file.text.is_char_boundary(end) {
                return Err(format!(
                    "{what}: label {start}..{end} splits a character of {}",
                    file.name
                ));
            }
        }
    }
    let options = HumanOptions {
        color: false,
        unicode: true,
        width: 100,
    };
    let _ = render_human(sources, diagnostics, options);
    let _ = render_json(sources, diagnostics);
    Ok(())
}

/// The formatter's output parses cleanly to the same tree and is a fixed point.
fn check_format(text: &str, tree: &rel::syntax::ast::SourceTree) -> Result<(), String> {
    let formatted = format_source(tree, text);
    let (reparsed, diagnostics) = parse(FileId(0), &formatted);
    if let Some(d) = diagnostics.iter().find(|d| d.severity == Severity::Error) {
        return Err(format!(
            "format: output does not parse ({} {}):\n{formatted}",
            d.code.id, d.message
        ));
    }
    crate::support::check_spans(&reparsed, formatted.len())
        .map_err(|e| format!("format: span invariant broken in the output:\n{e}\n{formatted}"))?;
    let (before, after) = (dump(tree), dump(&reparsed));
    if before != after {
        return Err(format!(
            "format: meaning changed\n--- before ---\n{before}--- after ---\n{after}--- output ---\n{formatted}"
        ));
    }
    let twice = format_source(&reparsed, &formatted);
    if twice != formatted {
        return Err(format!(
            "format: not idempotent\n--- first ---\n{formatted}--- second ---\n{twice}"
        ));
    }
    Ok(())
}
