//! Drift reports as Markdown for pull requests and chat.

use std::fmt::Write;

use super::*;

/// Text for a Markdown paragraph or table cell: it cannot open HTML, a
/// link, emphasis or code, or end the cell.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Code in a paragraph or table cell: an HTML `code` element around
/// escaped text, which unlike a code span can hold any character.
fn md_code(s: &str) -> String {
    format!("<code>{}</code>", md_text(s))
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn md_pieces(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| {
            if p.code {
                md_code(&p.text)
            } else {
                md_text(&p.text)
            }
        })
        .collect()
}

/// Markdown for pull requests and chat.
pub fn markdown(report: &Report) -> String {
    let view = View::new(report);
    let mut out = String::new();
    let _ = writeln!(out, "## rel drift report\n");
    let _ = writeln!(out, "**{}**\n", md_text(&view.headline));
    let _ = writeln!(out, "Generated at {}.", md_text(&view.generated_at));
    if view.any_findings {
        out.push_str(
            "\nMarkers: `~` modified, `-` deleted, `+` unmanaged, `=` ignored, `?` not checked.",
        );
        if view.any_lines {
            out.push_str(" Differences: `-` expected (last applied by rel), `+` actual (live).");
        }
        out.push('\n');
    }
    md_counts(&view, &mut out);
    for e in &view.environments {
        md_environment(e, &mut out);
    }
    out
}

fn md_counts(view: &View, out: &mut String) {
    if view.environments.is_empty() {
        return;
    }
    out.push_str("\n| environment | target | modified | deleted | unmanaged | ignored | not checked | in sync | checked |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for e in &view.environments {
        md_counts_row(&md_text(&e.name), &md_text(&e.target), &e.counts, out);
    }
    if view.environments.len() > 1 {
        md_counts_row("**total**", "", &view.total, out);
    }
}

fn md_counts_row(name: &str, target: &str, c: &Counts, out: &mut String) {
    let _ = writeln!(
        out,
        "| {name} | {target} | {} | {} | {} | {} | {} | {} | {} of {} |",
        c.modified,
        c.deleted,
        c.unmanaged,
        c.ignored,
        c.not_checked,
        c.in_sync,
        c.checked,
        c.resources
    );
}

fn md_environment(e: &EnvironmentView, out: &mut String) {
    let _ = writeln!(
        out,
        "\n### Environment {} ({})\n\n{}",
        md_text(&e.name),
        md_text(&e.target),
        md_text(&e.status)
    );
    if !e.warnings.is_empty() {
        out.push_str("\n> [!WARNING]\n");
        for w in &e.warnings {
            let _ = writeln!(out, "> - {}", md_text(w));
        }
    }
    for p in &e.parts {
        md_part(p, out);
    }
}

fn md_part(p: &PartView, out: &mut String) {
    let _ = writeln!(
        out,
        "\n#### {} ({})\n\n{}",
        md_text(&p.name),
        p.kind,
        md_text(&p.status)
    );
    if !p.findings.is_empty() {
        out.push_str("\n| | resource | type | detail |\n|---|---|---|---|\n");
        for f in &p.findings {
            md_finding_row(f, out);
        }
    }
    md_diff(p, out);
    if !p.in_sync.is_empty() {
        let names: Vec<String> = p.in_sync.iter().map(|r| md_code(r)).collect();
        let _ = writeln!(
            out,
            "\n<details><summary>{} in sync</summary>\n\n{}\n\n</details>",
            p.in_sync.len(),
            names.join(", ")
        );
    }
}

fn md_finding_row(f: &FindingView, out: &mut String) {
    let about = if f.about.is_empty() {
        String::new()
    } else {
        format!("<br><sub>{}</sub>", md_text(&f.about))
    };
    let _ = writeln!(
        out,
        "| {} | {}{about} | {} | {} |",
        md_text(&format!("{} {}", f.marker, f.word)),
        if f.itself {
            format!("*{}*", md_text(&f.resource))
        } else {
            md_code(&f.resource)
        },
        md_code(&f.type_name),
        md_pieces(&f.detail)
    );
}

/// The part's differences in one `diff` block: each line starts with its
/// sign, so that the block is coloured.
fn md_diff(p: &PartView, out: &mut String) {
    let mut body = String::new();
    for f in p.findings.iter().filter(|f| !f.lines.is_empty()) {
        if !body.is_empty() {
            body.push('\n');
        }
        let _ = writeln!(body, "{} {} ({})", f.marker, f.resource, f.type_name);
        for line in &f.lines {
            let _ = writeln!(body, "{}   {}", line.sign, line.text);
        }
    }
    if body.is_empty() {
        return;
    }
    // No run of backticks inside can close the block.
    let fence = "`".repeat((longest_backtick_run(&body) + 1).max(3));
    let _ = write!(out, "\n{fence}diff\n{body}{fence}\n");
}
