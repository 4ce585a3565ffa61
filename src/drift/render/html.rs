//! Drift reports as one self-contained HTML page (tera, autoescaped).

use super::*;
use crate::diagnostic::{Diagnostic, codes};

const TEMPLATE_NAME: &str = "drift-report.html";

/// A self-contained HTML page: inline styles, no scripts, nothing fetched.
/// The template is autoescaped and never marks user data safe.
pub fn html(report: &Report) -> Result<String, Diagnostic> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on([".html"]);
    tera.add_raw_template(TEMPLATE_NAME, include_str!("report.html.tera"))
        .map_err(|e| html_failed(&e))?;
    let context = tera::Context::from_serialize(&View::new(report)).map_err(|e| html_failed(&e))?;
    tera.render(TEMPLATE_NAME, &context)
        .map_err(|e| html_failed(&e))
}

fn html_failed(e: &tera::Error) -> Diagnostic {
    let message = crate::eval::builtins::tera_message(e);
    Diagnostic::error(
        codes::EMIT_FAILED,
        "the drift report could not be written as HTML",
    )
    .with_note(format!("The template failed: {message}."))
}
