//! Plans for people: text for terminals and Markdown for pull requests.
//! The summary comes first, destroys and replacements are pinned at the
//! top, then each stack's changes with field-level diffs (`similar`).
//! Secrets read `(sensitive)`; values known after apply say so.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::plan::{Action, FieldChange, Plan, ResourceChange, Summary};

fn summary_line(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} to replace, {} to delete, {} unchanged",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
}

fn value_text(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn intrinsic_text(v: &serde_json::Value) -> String {
    format!(
        "(known after apply: {})",
        serde_json::to_string(v).unwrap_or_default()
    )
}

/// The lines of a field before and after, as the diff shows them.
fn field_sides(f: &FieldChange) -> (Option<String>, Option<String>) {
    let path = if f.path.is_empty() {
        "(whole)"
    } else {
        &f.path
    };
    let replace = if f.forces_replacement {
        "  # forces replacement"
    } else {
        ""
    };
    if f.sensitive {
        let after = if f.before.is_some() {
            crate::state::SENSITIVE_CHANGED
        } else {
            crate::state::SENSITIVE
        };
        return (
            f.before.as_ref().map(|_| format!("{path} = (sensitive)")),
            f.after
                .as_ref()
                .map(|_| format!("{path} = {after}{replace}")),
        );
    }
    let before = f
        .before
        .as_ref()
        .map(|v| format!("{path} = {}", value_text(v)));
    let after = f.after.as_ref().map(|v| {
        // A manifest's string says itself which part is not known yet.
        let marked = v
            .as_str()
            .is_some_and(|s| s.contains("(known after apply: "));
        let shown = if f.known_after_apply && !marked {
            intrinsic_text(v)
        } else {
            value_text(v)
        };
        format!("{path} = {shown}{replace}")
    });
    (before, after)
}

/// A resource's fields as a diff: removed lines `-`, added `+`. On a
/// terminal the sign follows the indent; in a Markdown `diff` block it
/// comes first, so that the lines are coloured.
fn field_diff(r: &ResourceChange, indent: &str, sign_first: bool, out: &mut String) {
    let (mut before, mut after) = (String::new(), String::new());
    for f in &r.fields {
        let (b, a) = field_sides(f);
        if let Some(b) = b {
            before.push_str(&b);
            before.push('\n');
        }
        if let Some(a) = a {
            after.push_str(&a);
            after.push('\n');
        }
    }
    let diff = TextDiff::from_lines(&before, &after);
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
            ChangeTag::Equal => ' ',
        };
        let line = change.value().trim_end_matches('\n');
        let _ = if sign_first {
            writeln!(out, "{sign}{indent}{line}")
        } else {
            writeln!(out, "{indent}{sign} {line}")
        };
    }
}

/// A stack's resource changes and template changes. For a terminal, lines
/// are indented under the stack's heading; in a Markdown `diff` block
/// every line starts with its sign.
fn stack_changes(s: &super::plan::StackPlan, markdown: bool, out: &mut String) {
    let (lead, indent) = if markdown {
        ("", "     ")
    } else {
        ("  ", "      ")
    };
    for c in &s.changes {
        let _ = writeln!(
            out,
            "{lead}{} {}  {}  {}{}",
            symbol(c.action),
            c.address,
            c.type_name,
            c.action.word(),
            if c.changed_outside {
                "  (changed outside rel)"
            } else {
                ""
            }
        );
        field_diff(c, indent, markdown, out);
    }
    if !s.template_changes.is_empty() {
        let _ = writeln!(out, "{lead}~ stack outputs, inputs and settings");
        field_diff(&template_pseudo(s), indent, markdown, out);
    }
}

/// A stack's outputs and description changes, shown like a resource's.
fn template_pseudo(s: &super::plan::StackPlan) -> ResourceChange {
    ResourceChange {
        address: String::new(),
        logical_id: String::new(),
        type_name: String::new(),
        action: Action::Update,
        physical_id: None,
        fields: s.template_changes.clone(),
        changed_outside: false,
    }
}

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

/// The plan for a terminal.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for environment `{}` ({}{})",
        plan.environment,
        plan.target,
        if plan.refreshed {
            ", refreshed from the provider"
        } else {
            ", from state only: not refreshed"
        }
    );
    let _ = writeln!(out, "\n  {}\n", summary_line(&plan.summary));
    for s in plan.parts() {
        let _ = writeln!(
            out,
            "  {:<28} {:<8} {}",
            s.name,
            s.action.word(),
            summary_line(&s.summary)
        );
    }
    // A deleted stack is one line: its resources go with it.
    let pinned: Vec<(&str, &ResourceChange)> = plan
        .parts()
        .filter(|s| s.action != Action::Delete)
        .flat_map(|s| s.changes.iter().map(move |c| (s.name.as_str(), c)))
        .filter(|(_, c)| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    let stack_deletes: Vec<&str> = plan
        .parts()
        .filter(|s| s.action == Action::Delete)
        .map(|s| s.name.as_str())
        .collect();
    if !pinned.is_empty() || !stack_deletes.is_empty() {
        out.push_str("\nDestroyed or replaced:\n");
        for s in &stack_deletes {
            let n = plan
                .parts()
                .find(|x| x.name == *s)
                .map_or(0, |x| x.summary.delete);
            let _ = writeln!(out, "  - stack {s} is deleted with its {n} resources");
        }
        for (stack, c) in &pinned {
            let why: Vec<&str> = c
                .fields
                .iter()
                .filter(|f| f.forces_replacement)
                .map(|f| f.path.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {} {} ({}) in {stack}{}",
                symbol(c.action),
                c.address,
                c.type_name,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {} forces replacement", why.join(", "))
                }
            );
        }
    }
    if !plan.adopted.is_empty() {
        out.push_str("\nAdopted (--adopt): rel takes these over and manages them from now on:\n");
        for a in &plan.adopted {
            let _ = writeln!(out, "  @ {} (was {})", a.name, a.owner);
        }
    }
    if !plan.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }
    for s in plan.parts() {
        if !s.outside_changes.is_empty() {
            let _ = writeln!(out, "\nChanged outside rel in {}:", s.name);
            for c in &s.outside_changes {
                let _ = writeln!(out, "  ! {c}");
            }
        }
    }
    for s in plan.parts().filter(|s| s.action != Action::NoOp) {
        let _ = writeln!(out, "\n{} ({}):", s.name, s.action.word());
        stack_changes(s, false, &mut out);
    }
    if !plan.validation_records.is_empty() {
        out.push_str(&validation_records(&plan.validation_records));
    }
    if !plan.manual_dns_validation.is_empty() {
        out.push_str("\nCertificates whose DNS validation records must be created by hand:\n");
        for m in &plan.manual_dns_validation {
            let _ = writeln!(
                out,
                "  {}: {} ({} records, {})",
                m.certificate,
                m.domains.join(", "),
                m.record_type,
                m.records
            );
        }
    }
    if plan.has_changes() {
        let _ = writeln!(out, "\nPlan: {}.", summary_line(&plan.summary));
    } else {
        out.push_str("\nNo changes: the live stacks match the templates.\n");
    }
    out
}

/// The records to create for certificates validated by hand, one line each.
pub fn validation_records(certificates: &[super::plan::CertificateRecords]) -> String {
    let mut out = String::from("\nCreate these DNS records to validate certificates:\n");
    for c in certificates {
        let _ = writeln!(out, "  {} ({})", c.certificate, c.arn);
        for r in &c.records {
            let _ = writeln!(
                out,
                "    {} {} {}  ({}: {})",
                r.name, r.record_type, r.value, r.domain, r.status
            );
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '|' | '<' | '>' | '*' | '_' | '`' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The plan as a pull-request comment.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### rel plan: `{}`\n", plan.environment);
    let _ = writeln!(out, "**{}**\n", summary_line(&plan.summary));
    out.push_str("| stack | action | create | update | replace | delete | unchanged |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for s in plan.parts() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_escape(&s.name),
            s.action.word(),
            s.summary.create,
            s.summary.update,
            s.summary.replace,
            s.summary.delete,
            s.summary.unchanged
        );
    }
    let pinned: Vec<&ResourceChange> = plan
        .parts()
        .filter(|s| s.action != Action::Delete)
        .flat_map(|s| &s.changes)
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    if !pinned.is_empty() {
        out.push_str("\n> [!WARNING]\n> Destroyed or replaced:\n");
        for c in pinned {
            let _ = writeln!(
                out,
                "> - **{}** {} ({})",
                c.action.word(),
                md_escape(&c.address),
                md_escape(&c.type_name)
            );
        }
    }
    for a in &plan.adopted {
        let _ = writeln!(
            out,
            "\n> [!IMPORTANT]\n> Adopts {} (was {})",
            md_escape(&a.name),
            md_escape(&a.owner)
        );
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "\n> [!CAUTION]\n> {}", md_escape(w));
    }
    for s in plan.parts() {
        if !s.outside_changes.is_empty() {
            let _ = writeln!(
                out,
                "\n**Changed outside rel in {}:**\n",
                md_escape(&s.name)
            );
            for c in &s.outside_changes {
                let _ = writeln!(out, "- {}", md_escape(c));
            }
        }
    }
    for s in plan.parts().filter(|s| s.action != Action::NoOp) {
        let _ = writeln!(
            out,
            "\n<details><summary>{} ({}): {}</summary>\n\n```diff",
            md_escape(&s.name),
            s.action.word(),
            summary_line(&s.summary)
        );
        let mut body = String::new();
        stack_changes(s, true, &mut body);
        // A fence inside the diff cannot close the block.
        out.push_str(&body.replace("```", "`\u{200b}``"));
        out.push_str("```\n\n</details>\n");
    }
    if !plan.validation_records.is_empty() {
        out.push_str("\n**DNS records to create to validate certificates:**\n\n| certificate | domain | name | type | value | status |\n|---|---|---|---|---|---|\n");
        for c in &plan.validation_records {
            for r in &c.records {
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` | {} | `{}` | {} |",
                    md_escape(&c.certificate),
                    md_escape(&r.domain),
                    r.name.replace('`', ""),
                    md_escape(&r.record_type),
                    r.value.replace('`', ""),
                    md_escape(&r.status)
                );
            }
        }
    }
    if !plan.manual_dns_validation.is_empty() {
        out.push_str(
            "\n**Certificates whose DNS validation records must be created by hand:**\n\n",
        );
        for m in &plan.manual_dns_validation {
            let _ = writeln!(
                out,
                "- {}: {}",
                md_escape(&m.certificate),
                md_escape(&m.domains.join(", "))
            );
        }
    }
    if !plan.has_changes() {
        out.push_str("\nNo changes.\n");
    }
    out
}
