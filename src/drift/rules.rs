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
    rules: Vec<(Regex, &'a DriftRule)>,
    /// `YYYY-MM-DD` (UTC).
    today: String,
}

/// A glob over dotted paths as a regex: `**` any text, `*` any text
/// without a dot; a match may stop at a segment boundary (a rule naming a
/// resource or a field covers what is under it).
fn glob(pattern: &str) -> Regex {
    let mut re = String::from("^(?:");
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
    re.push_str(")(?:$|[.\\[])");
    Regex::new(&re).expect("an escaped glob is a valid regex")
}

impl<'a> Rules<'a> {
    /// `today` is `YYYY-MM-DD`.
    pub fn new(rules: &'a [DriftRule], today: &str) -> Rules<'a> {
        Rules {
            rules: rules.iter().map(|r| (glob(&r.path), r)).collect(),
            today: today.to_string(),
        }
    }

    fn expired(&self, rule: &DriftRule) -> bool {
        rule.expires
            .as_deref()
            .is_some_and(|day| day < self.today.as_str())
    }

    /// The rule for a path: a live one if any matches, else an expired one.
    fn find(&self, path: &str) -> Option<RuleMatch> {
        let mut expired = None;
        for (re, rule) in &self.rules {
            if !re.is_match(path) {
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
            if let Some(m) = self.find(&finding.resource) {
                if !m.expired {
                    finding.class = Class::Ignored;
                }
                finding.rule = Some(m);
            }
            return;
        }
        for mut d in differences {
            let full = format!("{}.{}", finding.resource, d.path);
            match self.find(&full) {
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

    #[test]
    fn globs_match_segments_and_what_is_under_them() {
        let g = glob("Deployment/*.spec.replicas");
        assert!(g.is_match("Deployment/shop/shoes.spec.replicas"));
        assert!(!g.is_match("Deployment/shop/shoes.spec.replicasX"));
        assert!(!g.is_match("Deployment/a.b.spec.replicas"));
        assert!(glob("Bucket").is_match("Bucket.Properties.Tags[0].Value"));
        assert!(!glob("Bucket").is_match("BucketPolicy.Properties"));
        assert!(glob("*.Properties.Tags").is_match("Role.Properties.Tags[2]"));
        assert!(glob("**.annotations").is_match("Service/ns/a.metadata.annotations.x"));
        assert!(glob("a[0].b").is_match("a[0].b"));
        assert!(!glob("a[0].b").is_match("a0.b"));
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
