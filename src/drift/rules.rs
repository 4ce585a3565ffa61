//! The template's `drift_ignore` rules applied to findings: a difference
//! whose `RESOURCE.FIELD` path a live rule matches is ignored (kept in the
//! report, not counted as drift); one that only an expired rule matches is
//! drift again, and says which rule expired.

use std::collections::BTreeSet;

use regex::Regex;

use super::{Class, Finding, PartReport, RuleMatch};
use crate::compile::DriftRule;

/// Rules ready to match, and the day they are judged on.
pub struct Rules<'a> {
    rules: Vec<(Vec<Split>, &'a DriftRule)>,
    /// `YYYY-MM-DD` (UTC).
    today: String,
}

/// One reading of a rule's path: the part naming the resource (matched
/// whole) and, after a dot, the part naming a field (matched up to a
/// segment boundary, so a field covers what is under it).
struct Split {
    resource: Regex,
    field: Option<Regex>,
}

/// A glob as a regex body: `**` any text, `*` any text without a dot.
fn glob(pattern: &str) -> String {
    let mut re = String::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            re.push_str(".*");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            re.push_str("[^.]*");
            rest = r;
        } else {
            let c = rest.chars().next().expect("not empty");
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re
}

fn regex(body: &str) -> Regex {
    Regex::new(body).expect("an escaped glob is a valid regex")
}

/// Every way to read a rule's path: all of it naming the resource, or a
/// resource part and a field part split at one of its dots (resource
/// names may have dots of their own: `google_storage_bucket.logs`).
fn splits(path: &str) -> Vec<Split> {
    let mut out = vec![Split {
        resource: regex(&format!("^(?:{})$", glob(path))),
        field: None,
    }];
    for (at, _) in path.match_indices('.') {
        let (resource, field) = (&path[..at], &path[at + 1..]);
        if resource.is_empty() || field.is_empty() {
            continue;
        }
        // A resource part ending in `**` reaches into the field: the rest
        // may start at any segment of it (`**.annotations`).
        let anywhere = if resource.ends_with("**") {
            "(?:.*\\.)?"
        } else {
            ""
        };
        out.push(Split {
            resource: regex(&format!("^(?:{})$", glob(resource))),
            field: Some(regex(&format!(
                "^{anywhere}(?:{})(?:$|[.\\[])",
                glob(field)
            ))),
        });
    }
    out
}

impl<'a> Rules<'a> {
    /// `today` is `YYYY-MM-DD`.
    pub fn new(rules: &'a [DriftRule], today: &str) -> Rules<'a> {
        Rules {
            rules: rules.iter().map(|r| (splits(&r.path), r)).collect(),
            today: today.to_string(),
        }
    }

    fn expired(&self, rule: &DriftRule) -> bool {
        rule.expires
            .as_deref()
            .is_some_and(|day| day < self.today.as_str())
    }

    /// The rule for a resource, or a field of it: a live one if any
    /// matches, else an expired one.
    fn find(&self, resource: &str, field: Option<&str>) -> Option<RuleMatch> {
        let mut expired = None;
        for (splits, rule) in &self.rules {
            let matches = splits.iter().any(|s| {
                s.resource.is_match(resource)
                    && match (&s.field, field) {
                        (None, _) => true,
                        (Some(f), Some(field)) => f.is_match(field),
                        (Some(_), None) => false,
                    }
            });
            if !matches {
                continue;
            }
            let m = RuleMatch {
                path: rule.path.clone(),
                reason: rule.reason.clone(),
                expires: rule.expires.clone(),
                expired: self.expired(rule),
            };
            if !m.expired {
                return Some(m);
            }
            expired.get_or_insert(m);
        }
        expired
    }

    /// Marks what the rules cover. A modified resource whose every
    /// difference is covered becomes `ignored`; so does a deleted or
    /// unmanaged one whose name a rule covers. Not-checked findings are
    /// not drift and stay as they are.
    pub fn apply(&self, finding: &mut Finding) {
        if self.rules.is_empty() || finding.class == Class::NotChecked {
            return;
        }
        let differences = std::mem::take(&mut finding.differences);
        if differences.is_empty() {
            if let Some(m) = self.find(&finding.resource, None) {
                if !m.expired {
                    finding.class = Class::Ignored;
                }
                finding.rule = Some(m);
            }
            return;
        }
        for mut d in differences {
            match self.find(&finding.resource, Some(&d.path)) {
                Some(m) if !m.expired => {
                    d.rule = Some(m);
                    finding.ignored.push(d);
                }
                found => {
                    d.rule = found;
                    finding.differences.push(d);
                }
            }
        }
        if finding.differences.is_empty() && finding.class == Class::Modified {
            finding.class = Class::Ignored;
        }
    }

    /// One warning per expired rule that would have matched something.
    pub fn expired_warnings(&self, parts: &[PartReport]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        for p in parts {
            for f in p.findings.iter().chain(&p.itself) {
                let rules = f
                    .rule
                    .iter()
                    .chain(f.differences.iter().filter_map(|d| d.rule.as_ref()));
                for r in rules.filter(|r| r.expired) {
                    seen.insert((r.path.clone(), r.expires.clone().unwrap_or_default()));
                }
            }
        }
        seen.into_iter()
            .map(|(path, day)| {
                format!(
                    "the ignore rule `{path}` expired on {day}: what it matched is reported as drift again"
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::{Difference, Finding};

    fn rule(path: &str, expires: Option<&str>) -> DriftRule {
        DriftRule {
            path: path.into(),
            reason: "why".into(),
            expires: expires.map(str::to_string),
            span: crate::source::Span::default(),
        }
    }

    fn modified(resource: &str, paths: &[&str]) -> Finding {
        Finding::new(Class::Modified, resource, "T").differences(
            paths
                .iter()
                .map(|p| Difference::new(p.to_string(), Some(1.into()), Some(2.into()), false))
                .collect(),
        )
    }

    fn covers(rule_path: &str, resource: &str, field: Option<&str>) -> bool {
        let rules = [rule(rule_path, None)];
        Rules::new(&rules, "2026-11-26")
            .find(resource, field)
            .is_some()
    }

    #[test]
    fn globs_match_the_resource_whole_and_fields_by_segment() {
        let web = "Deployment/shop/shoes";
        assert!(covers(
            "Deployment/*.spec.replicas",
            web,
            Some("spec.replicas")
        ));
        assert!(!covers(
            "Deployment/*.spec.replicas",
            web,
            Some("spec.replicasX")
        ));
        assert!(!covers("Deployment/*.spec.replicas", web, None));
        // A rule naming a resource or a field covers what is under it.
        assert!(covers("Bucket", "Bucket", Some("Properties.Tags[0].Value")));
        assert!(covers("Bucket", "Bucket", None));
        assert!(!covers("Bucket", "BucketPolicy", Some("Properties")));
        assert!(covers(
            "*.Properties.Tags",
            "Role",
            Some("Properties.Tags[2]")
        ));
        assert!(covers(
            "**.metadata.annotations",
            "Service/ns/a",
            Some("metadata.annotations.x")
        ));
        // `**` reaches across the resource and into the field.
        assert!(covers(
            "**.annotations",
            "Service/ns/a",
            Some("metadata.annotations.x")
        ));
        assert!(covers(
            "Deployment/**.replicas",
            "Deployment/ns/web",
            Some("spec.replicas")
        ));
        assert!(!covers(
            "Deployment/**.replicas",
            "Deployment/ns/web",
            Some("spec.replicasX")
        ));
        assert!(!covers(
            "Deployment/*.replicas",
            "Deployment/ns/web",
            Some("spec.replicas")
        ));
        assert!(covers("a.b[0]", "a", Some("b[0].c")));
        assert!(!covers("a.b[0]", "a", Some("b0.c")));
        // Names with dots: matched whole, never by a prefix of them.
        assert!(!covers(
            "ConfigMap/shop/settings",
            "ConfigMap/shop/settings.v2",
            None
        ));
        assert!(covers(
            "ConfigMap/shop/settings.v2",
            "ConfigMap/shop/settings.v2",
            None
        ));
        assert!(covers(
            "google_storage_bucket.*.labels",
            "google_storage_bucket.logs",
            Some("labels.owner")
        ));
        assert!(covers(
            "ConfigMap/**",
            "ConfigMap/shop/settings.v2",
            Some("data.k")
        ));
    }

    #[test]
    fn live_rules_ignore_and_expired_ones_say_so() {
        let rules = [
            rule("Deployment/*.spec.replicas", None),
            rule("Deployment/*.metadata.annotations", Some("2026-01-31")),
            rule("Gone", Some("2026-12-31")),
        ];
        let r = Rules::new(&rules, "2026-11-26");
        let mut f = modified(
            "Deployment/ns/shoes",
            &["spec.replicas", "metadata.annotations.x"],
        );
        r.apply(&mut f);
        assert_eq!(f.class, Class::Modified);
        assert_eq!(f.ignored.len(), 1);
        assert_eq!(f.ignored[0].path, "spec.replicas");
        assert!(f.differences[0].rule.as_ref().unwrap().expired);

        let mut only = modified("Deployment/ns/shoes", &["spec.replicas"]);
        r.apply(&mut only);
        assert_eq!(only.class, Class::Ignored);

        let mut gone = Finding::new(Class::Deleted, "Gone", "T");
        r.apply(&mut gone);
        assert_eq!(gone.class, Class::Ignored);
        // The last day still ignores; the day after does not.
        let mut gone = Finding::new(Class::Deleted, "Gone", "T");
        Rules::new(&rules, "2026-12-31").apply(&mut gone);
        assert_eq!(gone.class, Class::Ignored);
        let mut gone = Finding::new(Class::Deleted, "Gone", "T");
        Rules::new(&rules, "2027-01-01").apply(&mut gone);
        assert_eq!(gone.class, Class::Deleted);
        assert!(gone.rule.unwrap().expired);

        let mut unchecked = Finding::new(Class::NotChecked, "Gone", "T");
        r.apply(&mut unchecked);
        assert_eq!(unchecked.class, Class::NotChecked);
        assert!(unchecked.rule.is_none());
    }
}
