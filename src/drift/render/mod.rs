//! Drift reports for people: text for terminals, Markdown for pull
//! requests and chat, and a self-contained HTML page.
//!
//! The three formats are drawn from one view of the report, so they say
//! the same things in the same order: a headline with every count, then
//! per environment its warnings, and per part the part's own finding and
//! its resources grouped modified, deleted, unmanaged, ignored, not
//! checked. In-sync resources are counted; Markdown and HTML also list
//! them, folded away.
//!
//! Every finding line of the text starts with a marker (after the
//! indentation), by which the command line colours it:
//!
//! - `~` modified, `-` deleted, `+` unmanaged, `=` ignored, `?` not checked.
//!
//! Under a finding, its differences are a diff, one field at a time: `-`
//! what rel last applied (expected), `+` what is live (actual), a space
//! for the unchanged lines of a multi-line value. A `#` line is a note (a
//! rule that expired) and an `=` line a difference a rule ignores. Secrets
//! read `(sensitive)`; every value is JSON, multi-line values pretty-printed.
//!
//! User values reach the terminal on one line each (control characters
//! replaced), Markdown escaped so that they cannot break a table or
//! carry HTML, and HTML through tera's autoescaping.
//!
//! `text.rs`, `markdown.rs` and `html.rs` write the formats; this file
//! works out what they show.

mod html;
mod markdown;
mod text;

pub use html::html;
pub use markdown::markdown;
pub use text::text;

use serde::Serialize;
use serde_json::Value as J;
use similar::{ChangeTag, TextDiff};

use super::{
    Class, Counts, Difference, Finding, PartKind, PartReport, Report, RuleMatch, SENSITIVE,
};

const MARKERS: &str = "~ modified, - deleted, + unmanaged, = ignored, ? not checked";
const DIFF_LEGEND: &str = "- expected (last applied by rel), + actual (live)";

// The view: what every format shows, worked out once.

/// A run of a sentence: plain words, or a name shown as code (a field
/// path, a rule).
#[derive(Clone, Debug, Serialize)]
struct Piece {
    text: String,
    code: bool,
}

fn plain(text: impl AsRef<str>) -> Piece {
    Piece {
        text: one_line(text.as_ref()),
        code: false,
    }
}

fn code(text: impl AsRef<str>) -> Piece {
    Piece {
        text: one_line(text.as_ref()),
        code: true,
    }
}

/// One line under a finding: a side of a diff, a note, or an ignored field.
#[derive(Debug, Serialize)]
struct Line {
    /// `removed`, `added`, `context`, `note` or `ignored` (a CSS class).
    kind: &'static str,
    sign: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct FindingView {
    /// The HTML id of its diff.
    anchor: String,
    marker: &'static str,
    /// The class as a CSS class: `modified`, `not-checked`.
    class: &'static str,
    word: &'static str,
    /// The resource, or `the stack itself` for the part's own finding.
    resource: String,
    itself: bool,
    type_name: String,
    /// `address ..., id ..., via ...`, as far as known.
    about: String,
    /// Why, briefly: the reason, how many fields differ, the rule.
    summary: Vec<Piece>,
    /// The same, naming the fields (for tables, where no diff is beside it).
    detail: Vec<Piece>,
    lines: Vec<Line>,
}

#[derive(Debug, Serialize)]
struct PartView {
    name: String,
    kind: &'static str,
    status: String,
    findings: Vec<FindingView>,
    in_sync: Vec<String>,
}

#[derive(Debug, Serialize)]
struct EnvironmentView {
    anchor: String,
    name: String,
    target: String,
    drifted: bool,
    counts: Counts,
    status: String,
    warnings: Vec<String>,
    parts: Vec<PartView>,
    findings: usize,
}

#[derive(Debug, Serialize)]
struct View {
    generated_at: String,
    headline: String,
    /// `drifted`, `unchecked` (no drift, but not everything checked) or
    /// `in-sync`.
    status: &'static str,
    total: Counts,
    environments: Vec<EnvironmentView>,
    markers: &'static str,
    diff_legend: &'static str,
    any_findings: bool,
    any_lines: bool,
}

impl View {
    fn new(report: &Report) -> View {
        let environments: Vec<EnvironmentView> = report
            .environments
            .iter()
            .enumerate()
            .map(|(i, e)| environment_view(i + 1, e))
            .collect();
        let all_findings = || {
            environments
                .iter()
                .flat_map(|e| &e.parts)
                .flat_map(|p| &p.findings)
        };
        let status = if report.drifted {
            "drifted"
        } else if report.summary.not_checked > 0 {
            "unchecked"
        } else {
            "in-sync"
        };
        View {
            generated_at: one_line(&report.generated_at),
            headline: headline(report),
            status,
            total: shown(&report.summary),
            any_findings: all_findings().next().is_some(),
            any_lines: all_findings().any(|f| !f.lines.is_empty()),
            environments,
            markers: MARKERS,
            diff_legend: DIFF_LEGEND,
        }
    }
}

fn environment_view(number: usize, e: &super::EnvironmentReport) -> EnvironmentView {
    let anchor = format!("env-{number}");
    let parts: Vec<PartView> = e
        .parts
        .iter()
        .enumerate()
        .map(|(j, p)| part_view(&format!("{anchor}-part-{}", j + 1), p))
        .collect();
    let mut status = tally(&e.summary);
    if let Some(changed) = changed_parts(&e.parts) {
        status = join_nonempty(&[&changed, &status]);
    }
    EnvironmentView {
        findings: parts.iter().map(|p| p.findings.len()).sum(),
        anchor,
        name: one_line(&e.name),
        target: one_line(&e.target),
        drifted: e.drifted(),
        counts: shown(&e.summary),
        status: status_line(status, &e.summary),
        warnings: e.warnings.iter().map(|w| one_line(w)).collect(),
        parts,
    }
}

fn part_view(anchor: &str, p: &PartReport) -> PartView {
    let mut ordered: Vec<&Finding> = p.findings.iter().collect();
    ordered.sort_by_key(|f| rank(f.class));
    let itself = p.itself.as_ref().map(|f| (f, true));
    let findings = itself
        .into_iter()
        .chain(ordered.into_iter().map(|f| (f, false)))
        .enumerate()
        .map(|(k, (f, is_itself))| {
            let mut view = finding_view(format!("{anchor}-{k}"), f);
            if is_itself {
                view.resource = itself_word(p.kind).to_string();
                view.itself = true;
            }
            view
        })
        .collect();
    let mut status = tally(&p.summary);
    if let Some(f) = p.itself.as_ref().filter(|f| f.class.is_drift()) {
        status = join_nonempty(&[
            &format!("{} {}", itself_word(p.kind), f.class.word()),
            &status,
        ]);
    }
    PartView {
        name: one_line(&p.name),
        kind: kind_word(p.kind),
        status: status_line(status, &p.summary),
        findings,
        in_sync: p.in_sync.iter().map(|r| one_line(r)).collect(),
    }
}

fn finding_view(anchor: String, f: &Finding) -> FindingView {
    FindingView {
        anchor,
        marker: marker(f.class),
        class: css_class(f.class),
        word: f.class.word(),
        resource: one_line(&f.resource),
        itself: false,
        type_name: one_line(&f.type_name),
        about: about(f),
        summary: describe(f, false),
        detail: describe(f, true),
        lines: finding_lines(f),
    }
}

// Words.

fn marker(class: Class) -> &'static str {
    match class {
        Class::Modified => "~",
        Class::Deleted => "-",
        Class::Unmanaged => "+",
        Class::Ignored => "=",
        Class::NotChecked => "?",
    }
}

/// The order findings are shown in within a part.
fn rank(class: Class) -> u8 {
    match class {
        Class::Modified => 0,
        Class::Deleted => 1,
        Class::Unmanaged => 2,
        Class::Ignored => 3,
        Class::NotChecked => 4,
    }
}

fn css_class(class: Class) -> &'static str {
    match class {
        Class::NotChecked => "not-checked",
        other => other.word(),
    }
}

fn kind_word(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Stack => "stack",
        PartKind::Deployment => "deployment",
        PartKind::Kubernetes => "Kubernetes objects",
    }
}

fn itself_word(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Stack => "the stack itself",
        PartKind::Deployment => "the deployment itself",
        PartKind::Kubernetes => "the Kubernetes part itself",
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn join_nonempty(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text that stays on its line: line breaks become spaces and other
/// control characters (a terminal's escape sequences) a replacement mark.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

// Counts.

/// Counts as the tables show them: the unmanaged objects rules cover
/// are ignored too.
fn shown(c: &Counts) -> Counts {
    Counts {
        ignored: c.ignored + c.unmanaged_ignored,
        ..*c
    }
}

/// The classes that have a count, in report order: `2 modified, 1 deleted`.
fn tally(c: &Counts) -> String {
    let counts = [
        (c.modified, "modified"),
        (c.deleted, "deleted"),
        (c.unmanaged, "unmanaged"),
        (c.ignored + c.unmanaged_ignored, "ignored"),
        (c.not_checked, "not checked"),
    ];
    counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How much was checked: `5 of 7 resources checked, 3 in sync`.
fn coverage(c: &Counts) -> String {
    if c.resources == 0 {
        "no resources in state".to_string()
    } else if c.checked == c.resources {
        format!(
            "all {} checked, {} in sync",
            plural(c.resources, "resource"),
            c.in_sync
        )
    } else {
        format!(
            "{} of {} checked, {} in sync",
            c.checked,
            plural(c.resources, "resource"),
            c.in_sync
        )
    }
}

fn status_line(tally: String, c: &Counts) -> String {
    let tally = if tally.is_empty() {
        "no drift".to_string()
    } else {
        tally
    };
    format!("{tally}; {}", coverage(c))
}

/// `1 stack changed as a whole`, when parts drifted themselves.
fn changed_parts<'a>(parts: impl IntoIterator<Item = &'a PartReport>) -> Option<String> {
    let changed: Vec<PartKind> = parts
        .into_iter()
        .filter(|p| p.itself.as_ref().is_some_and(|f| f.class.is_drift()))
        .map(|p| p.kind)
        .collect();
    let first = *changed.first()?;
    let noun = if changed.iter().all(|k| *k == first) {
        match first {
            PartKind::Stack => "stack",
            PartKind::Deployment => "deployment",
            PartKind::Kubernetes => "Kubernetes part",
        }
    } else {
        "part"
    };
    Some(format!(
        "{} changed as a whole",
        plural(changed.len(), noun)
    ))
}

/// The report's first line: every count, and whether what was checked is
/// in sync. It never calls unchecked resources in sync.
fn headline(report: &Report) -> String {
    let c = &report.summary;
    let changed = changed_parts(report.environments.iter().flat_map(|e| &e.parts));
    if report.drifted {
        let mut counts = format!(
            "{} modified, {} deleted, {} unmanaged, {} ignored, {} not checked",
            c.modified,
            c.deleted,
            c.unmanaged,
            c.ignored + c.unmanaged_ignored,
            c.not_checked
        );
        if let Some(changed) = changed {
            counts = format!("{counts}, {changed}");
        }
        return format!("Drift: {counts}; {}", coverage(c));
    }
    if c.resources == 0 {
        return "No drift: no resources in state to check".to_string();
    }
    let resources = plural(c.resources, "resource");
    match (c.not_checked, c.ignored + c.unmanaged_ignored) {
        (0, 0) => format!("No drift: all {resources} checked are in sync"),
        (0, ignored) => format!(
            "No drift: all {resources} checked, {} in sync, {ignored} ignored by rules",
            c.in_sync
        ),
        (not_checked, ignored) => format!(
            "No drift found in the {} checked ({} in sync, {ignored} ignored), but {not_checked} of {resources} not checked",
            plural(c.checked, "resource"),
            c.in_sync
        ),
    }
}

// What a finding says.

/// `address app.web, id shop-web, via drift-detection`.
fn about(f: &Finding) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &f.address {
        parts.push(format!("address {a}"));
    }
    if let Some(id) = &f.physical_id {
        parts.push(format!("id {id}"));
    }
    if !f.source.is_empty() {
        parts.push(format!("via {}", source_words(&f.source)));
    }
    one_line(&parts.join(", "))
}

/// What found a finding, in words (the JSON keeps the short name).
fn source_words(source: &str) -> &str {
    match source {
        "drift-detection" => "CloudFormation drift detection",
        "template" => "the deployed template",
        "stack" => "the stack's resources and status",
        "existence" => "the service's API",
        "live" => "the live object",
        "revision" => "the deployment's latest revision",
        "project" => "Resource Manager",
        "labels" => "rel's ownership labels or tags",
        other => other,
    }
}

/// `rule `PATH`: REASON (until DAY)`, or `rule `PATH` expired on DAY`.
fn rule_pieces(r: &RuleMatch) -> Vec<Piece> {
    if r.expired {
        let day = r.expires.as_deref().unwrap_or("an earlier day");
        return vec![
            plain("rule "),
            code(&r.path),
            plain(format!(" expired on {day}")),
        ];
    }
    let mut pieces = vec![
        plain("rule "),
        code(&r.path),
        plain(format!(": {}", r.reason)),
    ];
    if let Some(day) = &r.expires {
        pieces.push(plain(format!(" (until {day})")));
    }
    pieces
}

/// `a`, `b` as pieces.
fn path_list(differences: &[Difference]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (i, d) in differences.iter().enumerate() {
        if i > 0 {
            pieces.push(plain(", "));
        }
        pieces.push(code(shown_path(d)));
    }
    pieces
}

fn fields_differ(n: usize) -> String {
    if n == 1 {
        "1 field differs".to_string()
    } else {
        format!("{n} fields differ")
    }
}

/// What a finding is about, clause by clause: its reason, the fields that
/// differ (named, or counted), the ignored ones, its rule.
fn describe(f: &Finding, name_fields: bool) -> Vec<Piece> {
    let mut clauses: Vec<Vec<Piece>> = Vec::new();
    if let Some(reason) = &f.reason {
        clauses.push(vec![plain(reason)]);
    } else if let Some(default) = default_reason(f.class) {
        clauses.push(vec![plain(default)]);
    }
    if !f.differences.is_empty() {
        clauses.push(if name_fields {
            let mut pieces = vec![plain("differs: ")];
            pieces.extend(path_list(&f.differences));
            pieces
        } else {
            vec![plain(fields_differ(f.differences.len()))]
        });
    }
    if !f.ignored.is_empty() {
        clauses.push(if name_fields {
            let mut pieces = vec![plain("ignored: ")];
            pieces.extend(path_list(&f.ignored));
            pieces
        } else if f.differences.is_empty() {
            vec![plain(format!(
                "{}, all ignored",
                fields_differ(f.ignored.len())
            ))]
        } else {
            vec![plain(format!("{} ignored", f.ignored.len()))]
        });
    }
    if let Some(rule) = &f.rule {
        clauses.push(rule_pieces(rule));
    }
    let mut pieces = Vec::new();
    for (i, clause) in clauses.into_iter().enumerate() {
        if i > 0 {
            pieces.push(plain("; "));
        }
        pieces.extend(clause);
    }
    pieces
}

fn default_reason(class: Class) -> Option<&'static str> {
    match class {
        Class::Deleted => Some("no longer exists"),
        Class::Unmanaged => Some("not in state"),
        Class::NotChecked => Some("no reason recorded"),
        Class::Modified | Class::Ignored => None,
    }
}

fn pieces_text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| {
            if p.code {
                format!("`{}`", p.text)
            } else {
                p.text.clone()
            }
        })
        .collect()
}

// Differences.

fn shown_path(d: &Difference) -> String {
    if d.path.is_empty() {
        "(whole)".to_string()
    } else {
        one_line(&d.path)
    }
}

fn value_text(v: &J) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The two sides of a difference as the diff compares them: `path = value`
/// lines, empty for a side that does not have the field.
fn sides(d: &Difference) -> (String, String) {
    let path = shown_path(d);
    if d.sensitive {
        let actual = if d.expected.is_some() {
            crate::state::SENSITIVE_CHANGED
        } else {
            SENSITIVE
        };
        return (
            d.expected
                .as_ref()
                .map_or_else(String::new, |_| format!("{path} = {SENSITIVE}\n")),
            d.actual
                .as_ref()
                .map_or_else(String::new, |_| format!("{path} = {actual}\n")),
        );
    }
    let side = |v: &Option<J>| {
        v.as_ref()
            .map_or_else(String::new, |v| format!("{path} = {}\n", value_text(v)))
    };
    (side(&d.expected), side(&d.actual))
}

fn difference_lines(d: &Difference, lines: &mut Vec<Line>) {
    if let Some(rule) = d.rule.as_ref().filter(|r| r.expired) {
        lines.push(Line {
            kind: "note",
            sign: "#",
            text: format!(
                "{}: {} counts as drift again",
                pieces_text(&rule_pieces(rule)),
                shown_path(d)
            ),
        });
    }
    let (expected, actual) = sides(d);
    for change in TextDiff::from_lines(&expected, &actual).iter_all_changes() {
        let (kind, sign) = match change.tag() {
            ChangeTag::Delete => ("removed", "-"),
            ChangeTag::Insert => ("added", "+"),
            ChangeTag::Equal => ("context", " "),
        };
        lines.push(Line {
            kind,
            sign,
            text: change.value().trim_end_matches(['\n', '\r']).to_string(),
        });
    }
}

fn ignored_line(d: &Difference) -> Line {
    let rule = d
        .rule
        .as_ref()
        .map(|r| format!(" by {}", pieces_text(&rule_pieces(r))))
        .unwrap_or_default();
    Line {
        kind: "ignored",
        sign: "=",
        text: format!("{} ignored{rule}", shown_path(d)),
    }
}

fn finding_lines(f: &Finding) -> Vec<Line> {
    let mut lines = Vec::new();
    for d in &f.differences {
        difference_lines(d, &mut lines);
    }
    lines.extend(f.ignored.iter().map(ignored_line));
    lines
}
