//! Drift reports as plain text for terminals.

use std::fmt::Write;

use super::*;

/// Plain text for terminals (the command line colours it by each line's
/// marker).
pub fn text(report: &Report) -> String {
    let view = View::new(report);
    let mut out = String::new();
    let _ = writeln!(out, "{}", view.headline);
    let _ = writeln!(out, "Generated at {}.", view.generated_at);
    if view.any_findings {
        let _ = writeln!(out, "Markers: {MARKERS}");
    }
    if view.any_lines {
        let _ = writeln!(out, "Differences: {DIFF_LEGEND}");
    }
    for e in &view.environments {
        text_environment(e, &mut out);
    }
    out
}

fn text_environment(e: &EnvironmentView, out: &mut String) {
    let _ = writeln!(out, "\nEnvironment {} ({}): {}", e.name, e.target, e.status);
    for w in &e.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    for p in &e.parts {
        let _ = writeln!(out, "\n  {} ({}): {}", p.name, p.kind, p.status);
        for f in &p.findings {
            text_finding(f, out);
        }
    }
}

fn text_finding(f: &FindingView, out: &mut String) {
    let summary = pieces_text(&f.summary);
    let _ = writeln!(
        out,
        "    {} {} ({}) {}{}{}",
        f.marker,
        f.resource,
        f.type_name,
        f.word,
        if summary.is_empty() { "" } else { ": " },
        summary
    );
    if !f.about.is_empty() {
        let _ = writeln!(out, "        {}", f.about);
    }
    for line in &f.lines {
        let _ = writeln!(out, "        {} {}", line.sign, line.text);
    }
}
