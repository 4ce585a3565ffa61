//! Drift: what changed outside rel since it last applied. Recorded state
//! × what the providers report now → a classified report, per environment
//! and part (a CloudFormation stack, an Infrastructure Manager deployment,
//! the environment's Kubernetes objects).
//!
//! Every resource in state is either checked (in sync, modified, deleted,
//! or ignored by a rule) or not checked, with the reason; objects that
//! carry rel's ownership labels or tags but are not in state are
//! unmanaged. The report is plain serde data (`docs/schema/drift.v1.json`);
//! `aws.rs`, `kubernetes.rs` and `gcp.rs` collect it, `rules.rs` applies
//! the template's ignore rules, `render.rs` writes text, Markdown and HTML.

pub mod aws;
pub mod check;
pub mod gcp;
pub mod kubernetes;
pub mod render;
pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::Value as J;

/// The version of the report document (`--format json`).
pub const DRIFT_VERSION: u32 = 1;

/// A drift report over one or more environments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format_version: u32,
    /// Always `rel-drift-report`.
    pub kind: String,
    /// When the live state was read (RFC 3339, UTC; `REL_REPORT_TIME`
    /// when set).
    pub generated_at: String,
    /// True when anything drifted (modified, deleted, unmanaged, or a part
    /// changed as a whole); exit status 2.
    pub drifted: bool,
    pub summary: Counts,
    pub environments: Vec<EnvironmentReport>,
}

/// One environment's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentReport {
    pub name: String,
    /// `aws` or `gcp`.
    pub target: String,
    pub summary: Counts,
    pub parts: Vec<PartReport>,
    /// Things worth knowing that are not drift: expired ignore rules, an
    /// apply in progress, an environment no longer in the template.
    pub warnings: Vec<String>,
}

/// What kind of thing a part is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartKind {
    Stack,
    Deployment,
    Kubernetes,
}

/// A stack, a deployment, or the environment's Kubernetes objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartReport {
    /// `rel-env-pr-42`, `rel-shared`, `kubernetes/shop-pr-42`.
    pub name: String,
    pub kind: PartKind,
    /// The part's own drift (deleted, its template, revision, status,
    /// outputs or project labels changed outside rel), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itself: Option<Finding>,
    pub summary: Counts,
    /// Resources that are not in sync or not checked, in report order.
    pub findings: Vec<Finding>,
    /// Resources checked and found in sync.
    pub in_sync: Vec<String>,
}

/// How a resource compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Modified,
    Deleted,
    Unmanaged,
    NotChecked,
    Ignored,
}

impl Class {
    pub fn word(self) -> &'static str {
        match self {
            Class::Modified => "modified",
            Class::Deleted => "deleted",
            Class::Unmanaged => "unmanaged",
            Class::NotChecked => "not checked",
            Class::Ignored => "ignored",
        }
    }

    /// Whether a finding of this class is drift.
    pub fn is_drift(self) -> bool {
        matches!(self, Class::Modified | Class::Deleted | Class::Unmanaged)
    }
}

/// One resource (or part) that is not simply in sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub class: Class,
    /// The resource as ignore rules name it: a logical id,
    /// `KIND/NAMESPACE/NAME`, `TYPE.NAME`, or the part's name.
    pub resource: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The rel address it came from, when state knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    /// What found it: `drift-detection` (CloudFormation's), `template`
    /// (the deployed template against the recorded one), `stack`
    /// (the stack's resources and status), `existence` (the service's own
    /// API), `live` (the Kubernetes object), `revision` (the deployment's
    /// latest revision), `project` (Resource Manager), `labels` (rel's
    /// ownership labels or tags).
    pub source: String,
    /// Why it was not checked, deleted, or is unmanaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Field differences that are drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// Field differences an ignore rule covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Difference>,
    /// The rule that covers the whole resource (class `ignored`), or the
    /// expired rule that no longer does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleMatch>,
}

/// How a field differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DifferenceKind {
    /// Both sides have it, with different values.
    Changed,
    /// Live has it, rel did not set it.
    Added,
    /// rel set it, live no longer has it.
    Removed,
}

/// One field that differs: what rel last applied against what is live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// `Properties.BucketName`, `spec.replicas`, `spec.template.spec.containers[0].image`.
    pub path: String,
    pub kind: DifferenceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<J>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<J>,
    /// The values are secrets: both are shown as `(sensitive)`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// The rule that ignores it, or the expired rule that no longer does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleMatch>,
}

/// An ignore rule that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The rule's last day has passed: it no longer ignores.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// Counts over resources. `checked + not_checked` is the number of
/// resources in state (`resources`); `checked` is `in_sync + modified +
/// deleted + ignored`; `unmanaged` and `unmanaged_ignored` (those an
/// ignore rule covers) are outside state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub resources: usize,
    pub checked: usize,
    pub not_checked: usize,
    pub in_sync: usize,
    pub modified: usize,
    pub deleted: usize,
    pub ignored: usize,
    pub unmanaged: usize,
    pub unmanaged_ignored: usize,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.resources += other.resources;
        self.checked += other.checked;
        self.not_checked += other.not_checked;
        self.in_sync += other.in_sync;
        self.modified += other.modified;
        self.deleted += other.deleted;
        self.ignored += other.ignored;
        self.unmanaged += other.unmanaged;
        self.unmanaged_ignored += other.unmanaged_ignored;
    }

    /// Modified, deleted or unmanaged resources.
    pub fn drift(&self) -> usize {
        self.modified + self.deleted + self.unmanaged
    }
}

/// A sensitive value as reports show it.
pub use crate::state::SENSITIVE;

impl Difference {
    /// A difference of two values (either may be absent), masked when
    /// `sensitive`.
    pub fn new(path: String, expected: Option<J>, actual: Option<J>, sensitive: bool) -> Self {
        let kind = match (&expected, &actual) {
            (None, _) => DifferenceKind::Added,
            (_, None) => DifferenceKind::Removed,
            _ => DifferenceKind::Changed,
        };
        let mask = |v: Option<J>| {
            if sensitive {
                v.map(|_| J::String(SENSITIVE.into()))
            } else {
                v
            }
        };
        Difference {
            path,
            kind,
            expected: mask(expected),
            actual: mask(actual),
            sensitive,
            rule: None,
        }
    }

    /// From a plan's field change (`before` live, `after` desired: in drift
    /// the recorded configuration is the desired side).
    pub fn from_field(f: crate::deploy::plan::FieldChange, recorded_is_after: bool) -> Self {
        let (expected, actual) = if recorded_is_after {
            (f.after, f.before)
        } else {
            (f.before, f.after)
        };
        Difference::new(f.path, expected, actual, f.sensitive)
    }
}

impl Finding {
    pub fn new(class: Class, resource: impl Into<String>, type_name: impl Into<String>) -> Self {
        Finding {
            class,
            resource: resource.into(),
            type_name: type_name.into(),
            address: None,
            physical_id: None,
            source: String::new(),
            reason: None,
            differences: Vec::new(),
            ignored: Vec::new(),
            rule: None,
        }
    }

    pub fn source(mut self, source: &str) -> Self {
        self.source = source.to_string();
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn differences(mut self, differences: Vec<Difference>) -> Self {
        self.differences = differences;
        self
    }
}

/// A finding about a resource a stack or deployment record holds, under
/// its id, with its type, rel address and physical id.
pub(crate) fn recorded(
    class: Class,
    id: &str,
    record: &crate::state::StackRecord,
    source: &str,
) -> Finding {
    let r = &record.resources[id];
    let mut f = Finding::new(class, id, r.type_name.clone()).source(source);
    f.address = (!r.address.is_empty()).then(|| r.address.clone());
    f.physical_id = r.physical_id.clone();
    f
}

/// Every resource of a record with the same finding (the stack is gone,
/// or could not be read).
pub(crate) fn every_resource(
    record: &crate::state::StackRecord,
    class: Class,
    source: &str,
    reason: &str,
) -> Vec<(String, Option<Finding>)> {
    record
        .resources
        .keys()
        .map(|id| {
            (
                id.clone(),
                Some(recorded(class, id, record, source).reason(reason)),
            )
        })
        .collect()
}

/// What a collector gives back for a part: its own finding and, per
/// resource in state, its outcome; plus unmanaged resources.
#[derive(Debug, Default)]
pub struct Collected {
    pub itself: Option<Finding>,
    /// Resources in state, in state order: `None` in sync, else the finding.
    pub resources: Vec<(String, Option<Finding>)>,
    pub unmanaged: Vec<Finding>,
    /// Notes for the environment's warnings (a partial detection, values
    /// that cannot be compared).
    pub warnings: Vec<String>,
}

impl PartReport {
    /// A part's report from what was collected, the rules applied.
    pub fn new(
        name: String,
        kind: PartKind,
        collected: Collected,
        rules: &rules::Rules<'_>,
    ) -> PartReport {
        let mut summary = Counts::default();
        let mut findings = Vec::new();
        let mut in_sync = Vec::new();
        for (resource, outcome) in collected.resources {
            summary.resources += 1;
            let Some(mut finding) = outcome else {
                summary.checked += 1;
                summary.in_sync += 1;
                in_sync.push(resource);
                continue;
            };
            rules.apply(&mut finding);
            match finding.class {
                Class::NotChecked => summary.not_checked += 1,
                Class::Deleted => summary.deleted += 1,
                Class::Ignored => summary.ignored += 1,
                // A resource in state is never unmanaged; were it so, it
                // is counted as modified rather than lost.
                Class::Modified | Class::Unmanaged => summary.modified += 1,
            }
            if finding.class != Class::NotChecked {
                summary.checked += 1;
            }
            findings.push(finding);
        }
        for mut finding in collected.unmanaged {
            rules.apply(&mut finding);
            match finding.class {
                Class::Unmanaged => summary.unmanaged += 1,
                _ => summary.unmanaged_ignored += 1,
            }
            findings.push(finding);
        }
        let itself = collected.itself.map(|mut f| {
            rules.apply(&mut f);
            f
        });
        PartReport {
            name,
            kind,
            itself,
            summary,
            findings,
            in_sync,
        }
    }

    /// Whether anything in this part drifted.
    pub fn drifted(&self) -> bool {
        self.summary.drift() > 0 || self.itself.as_ref().is_some_and(|f| f.class.is_drift())
    }
}

impl EnvironmentReport {
    pub fn new(
        name: String,
        target: &str,
        parts: Vec<PartReport>,
        mut warnings: Vec<String>,
        rules: &rules::Rules<'_>,
    ) -> EnvironmentReport {
        let mut summary = Counts::default();
        for p in &parts {
            summary.add(&p.summary);
        }
        warnings.extend(rules.expired_warnings(&parts));
        EnvironmentReport {
            name,
            target: target.to_string(),
            summary,
            parts,
            warnings,
        }
    }

    pub fn drifted(&self) -> bool {
        self.parts.iter().any(PartReport::drifted)
    }
}

impl Report {
    pub fn new(generated_at: String, environments: Vec<EnvironmentReport>) -> Report {
        let mut summary = Counts::default();
        for e in &environments {
            summary.add(&e.summary);
        }
        Report {
            format_version: DRIFT_VERSION,
            kind: "rel-drift-report".into(),
            generated_at,
            drifted: environments.iter().any(EnvironmentReport::drifted),
            summary,
            environments,
        }
    }
}

/// The differences between a recorded JSON value and a live one, field by
/// field, as drift sees them (expected: recorded; actual: live).
pub fn differences(recorded: Option<&J>, live: Option<&J>) -> Vec<Difference> {
    let mut out = Vec::new();
    crate::deploy::plan::field_changes(recorded, live, &mut String::new(), &mut out);
    out.into_iter()
        .map(|f| Difference::from_field(f, false))
        .collect()
}

/// The time a report is made, which is also the day ignore rules expire
/// against: `REL_REPORT_TIME` (seconds since 1970) when set, for
/// reproducible reports, else now. (Not `SOURCE_DATE_EPOCH`: builds set
/// it to a commit's time, which would keep expired rules ignoring.)
pub fn report_time() -> std::time::SystemTime {
    std::env::var("REL_REPORT_TIME")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        // Seconds, not milliseconds: at most the last second of year 9999.
        .filter(|secs| *secs <= 253_402_300_799)
        .and_then(|secs| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs)))
        .unwrap_or_else(std::time::SystemTime::now)
}
