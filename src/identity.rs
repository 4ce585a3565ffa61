//! Identities: the project, app and environment every name rel creates
//! derives from (stacks, deployments, exports, namespaces, labels, state
//! and lock keys), and the one place those names are made, inside each
//! provider's limits.
//!
//! A name is kept readable (`rel-shop-store-pr-42`) when it fits as
//! written and splits back into its parts one way only: every part is
//! lower-case letters and digits in runs joined by single hyphens, and
//! no part but the last holds a hyphen. Any other name (a project
//! `acme-shop`, an environment `pr-feature/x`, a 60-character app) is
//! mapped, cut to its limit and ended with a short hash of the exact
//! parts, so two identities never share a name.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest project name: room for the app and environment in a
/// 63-character name.
pub const PROJECT_MAX: usize = 40;

/// The limit every layer name keeps: Infrastructure Manager deployment ids
/// (63), well inside CloudFormation stack names (128).
pub const LAYER_NAME_MAX: usize = 63;

/// DNS labels (namespaces) and label values.
pub const LABEL_MAX: usize = 63;

/// A project's declared name (`project "acme-shop"`): lower-case letters,
/// digits and single hyphens, starting with a letter, at most 40.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

impl ProjectName {
    /// The name, or why it is not one.
    pub fn new(text: &str) -> Result<ProjectName, String> {
        if text.is_empty() || text.len() > PROJECT_MAX {
            return Err(format!("a project name has 1 to {PROJECT_MAX} characters"));
        }
        if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("a project name starts with a lower-case letter".into());
        }
        if !is_clean(text) {
            return Err(
                "a project name holds lower-case letters, digits and single hyphens, and does not end with a hyphen"
                    .into(),
            );
        }
        Ok(ProjectName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectName {
    type Error = String;
    fn try_from(text: String) -> Result<ProjectName, String> {
        ProjectName::new(&text)
    }
}

impl From<ProjectName> for String {
    fn from(name: ProjectName) -> String {
        name.0
    }
}

impl std::fmt::Display for ProjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an environment is: its project, app and (evaluated) name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub project: ProjectName,
    pub app: String,
    pub environment: String,
}

impl Identity {
    pub fn describe(&self) -> String {
        format!(
            "project `{}`, app `{}`, environment `{}`",
            self.project, self.app, self.environment
        )
    }
}

/// Ownership labels on every Kubernetes object rel creates.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PROJECT_LABEL: &str = "rel.dev/project";
pub const APP_LABEL: &str = "rel.dev/app";
pub const ENVIRONMENT_LABEL: &str = "rel.dev/environment";
/// The annotation naming the state lineage that applied an object: an
/// object of this identity that a crash kept out of the state is still
/// recognised as this state's.
pub const LINEAGE_ANNOTATION: &str = "rel.dev/lineage";

/// Tags on every stack (CloudFormation copies them to the resources).
pub const TAG_MANAGED: &str = "rel:managed";
pub const TAG_PROJECT: &str = "rel:project";
pub const TAG_APP: &str = "rel:app";
pub const TAG_ENVIRONMENT: &str = "rel:environment";
pub const TAG_LINEAGE: &str = "rel:lineage";
/// GCP label keys allow no `:` or `.`: the same tags, spelled for labels.
pub const GCP_PROJECT_LABEL: &str = "rel-project";
pub const GCP_APP_LABEL: &str = "rel-app";
pub const GCP_ENVIRONMENT_LABEL: &str = "rel-environment";
pub const GCP_LINEAGE_LABEL: &str = "rel-lineage";

/// Every name one environment's build uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub identity: Identity,
    /// The names rel gave an environment before projects (see
    /// `Names::legacy`), kept for one whose state was written then.
    pub legacy: bool,
    /// The shared layer's stack or deployment (and its state key).
    pub shared: String,
    /// The environment's stack or deployment (and its state key).
    pub environment: String,
    /// The environment's Kubernetes namespace.
    pub namespace: String,
    /// Ownership label values: project (absent before projects), app,
    /// environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_label: Option<String>,
    pub app_label: String,
    pub environment_label: String,
}

impl Names {
    /// The names of an identity; `namespace` is the app's `namespace` when
    /// it sets one.
    pub fn of(identity: &Identity, namespace: Option<&str>) -> Names {
        let p = identity.project.as_str();
        Names {
            shared: shared_layer(&identity.project),
            environment: bounded(
                &["rel", p, &identity.app, &identity.environment],
                LAYER_NAME_MAX,
                false,
            ),
            namespace: namespace.map_or_else(
                || bounded(&[p, &identity.app, &identity.environment], LABEL_MAX, false),
                str::to_string,
            ),
            project_label: Some(p.to_string()),
            app_label: label_value(&identity.app),
            environment_label: label_value(&identity.environment),
            identity: identity.clone(),
            legacy: false,
        }
    }

    /// The names rel used before projects, kept for environments whose
    /// state was written then (an upgrade recreates nothing).
    pub fn legacy(identity: &Identity) -> Names {
        let env = legacy_kubernetes_name(&identity.environment);
        Names {
            identity: identity.clone(),
            legacy: true,
            shared: LEGACY_SHARED.to_string(),
            environment: format!("rel-env-{env}"),
            namespace: env.clone(),
            project_label: None,
            app_label: identity.app.clone(),
            environment_label: env,
        }
    }

    /// The ownership labels, in a fixed order.
    pub fn labels(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![(MANAGED_BY, "rel")];
        if let Some(p) = &self.project_label {
            out.push((PROJECT_LABEL, p.as_str()));
        }
        out.push((APP_LABEL, self.app_label.as_str()));
        out.push((ENVIRONMENT_LABEL, self.environment_label.as_str()));
        out
    }

    /// The label selector of the environment's objects: every ownership
    /// label, never the environment's alone.
    pub fn selector(&self) -> String {
        if self.legacy {
            return legacy_selector(&self.identity.environment);
        }
        self.labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stack or deployment name of a layer.
    pub fn layer(&self, shared: bool) -> &str {
        if shared {
            &self.shared
        } else {
            &self.environment
        }
    }
}

/// The shared layer's name before projects.
pub const LEGACY_SHARED: &str = "rel-shared";

/// The shared layer of a project: one per project, never shared across.
pub fn shared_layer(project: &ProjectName) -> String {
    bounded(&["rel", project.as_str(), "shared"], LAYER_NAME_MAX, false)
}

/// The selector of an environment's objects before projects (by the
/// environment's label alone), for a state written then that records no
/// names.
pub fn legacy_selector(environment: &str) -> String {
    format!(
        "{MANAGED_BY}=rel,{ENVIRONMENT_LABEL}={}",
        legacy_kubernetes_name(environment)
    )
}

/// The legacy key of an environment (`rel-env-NAME`), to find a state
/// written before projects.
pub fn legacy_environment_key(environment: &str) -> String {
    format!("rel-env-{}", legacy_kubernetes_name(environment))
}

/// How names were mapped before projects: lower case, other characters to
/// `-`, cut at 63.
pub fn legacy_kubernetes_name(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches('-').to_string();
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "rel".to_string()
    } else {
        out
    }
}

/// Lower-case letters and digits in runs joined by single hyphens.
fn is_clean(text: &str) -> bool {
    !text.is_empty()
        && text.split('-').all(|run| {
            !run.is_empty()
                && run
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `text` as a DNS fragment: lower case, every other character to `-`,
/// runs of `-` as one, none at the ends.
fn fragment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c != '-' || !out.ends_with('-') && !out.is_empty() {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Eight hex digits of the SHA-256 of the parts (NUL-separated, so
/// `a` + `b-c` and `a-b` + `c` differ).
pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A DNS-label-like name of the parts joined by `-`, at most `limit`
/// characters: as written when every part is already clean, no part but
/// the last holds `-`, it fits, and `always_hash` is false; else mapped,
/// cut, and ended with `-HASH` of the exact parts.
pub fn bounded(parts: &[&str], limit: usize, always_hash: bool) -> String {
    let joined = parts
        .iter()
        .map(|p| fragment(p))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    // Only the last part may hold `-`: then the text splits one way only.
    let exact =
        parts.iter().all(|p| is_clean(p)) && parts.iter().rev().skip(1).all(|p| !p.contains('-'));
    if exact && !always_hash && joined.len() <= limit {
        return joined;
    }
    let hash = short_hash(parts);
    let mut head = joined;
    head.truncate(limit - hash.len() - 1);
    let head = head.trim_end_matches('-');
    let head = if head.is_empty() { "rel" } else { head };
    format!("{head}-{hash}")
}

/// A Kubernetes label value (`[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`,
/// at most 63): as written when it is one, else mapped with a hash.
pub fn label_value(text: &str) -> String {
    let valid = !text.is_empty()
        && text.len() <= LABEL_MAX
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        text.to_string()
    } else {
        bounded(&[text], LABEL_MAX, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(p: &str, a: &str, e: &str) -> Identity {
        Identity {
            project: ProjectName::new(p).unwrap(),
            app: a.into(),
            environment: e.into(),
        }
    }

    #[test]
    fn project_names_are_validated() {
        assert!(ProjectName::new("acme-shop").is_ok());
        assert!(ProjectName::new("a1").is_ok());
        for bad in ["", "Acme", "1shop", "shop-", "a--b", "a_b", &"a".repeat(41)] {
            assert!(ProjectName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_fit_their_limits_and_differ() {
        let long = "x".repeat(60);
        let ids = [
            id("a-b", "c", "d"),
            id("a", "b_c", "d"),
            id("a", "b", "c-d"),
            id("a", "b", "c/d"),
            id("a", "b", "C-d"),
            id(&"p".repeat(40), &long, &long),
            id(&"p".repeat(40), &long, &format!("{long}y")),
            id("shop", "store", "production"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for i in &ids {
            let n = Names::of(i, None);
            assert!(n.environment.len() <= LAYER_NAME_MAX, "{}", n.environment);
            assert!(n.namespace.len() <= LABEL_MAX, "{}", n.namespace);
            assert!(n.environment_label.len() <= LABEL_MAX);
            assert!(n.environment.starts_with("rel-"));
            // CloudFormation stack names and Infrastructure Manager
            // deployment ids; DNS labels for namespaces.
            let stack_ok = |t: &str| {
                t.starts_with(|c: char| c.is_ascii_lowercase())
                    && !t.ends_with('-')
                    && t.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            assert!(stack_ok(&n.environment) && stack_ok(&n.shared), "{n:?}");
            assert!(
                crate::compile::is_dns_label(&n.namespace),
                "{}",
                n.namespace
            );
            assert!(
                seen.insert(n.environment.clone()),
                "{} repeats",
                n.environment
            );
            assert_eq!(n, Names::of(i, None), "deterministic");
        }
        let n = Names::of(&id("shop", "store", "production"), None);
        assert_eq!(n.namespace, "shop-store-production");
        assert_eq!(n.shared, "rel-shop-shared");
        assert_eq!(n.environment, "rel-shop-store-production");
        let hyphenated = Names::of(&id("acme-shop", "store", "production"), None);
        assert!(
            hyphenated
                .environment
                .starts_with("rel-acme-shop-store-production-")
        );
        assert!(
            hyphenated
                .namespace
                .starts_with("acme-shop-store-production-")
        );
        // Readable namespaces differ for clean parts; mapped ones carry a hash.
        assert_ne!(
            Names::of(&id("a", "b", "c/d"), None).namespace,
            Names::of(&id("a", "b", "c-d"), None).namespace
        );
    }

    #[test]
    fn label_values_are_kept_or_mapped() {
        assert_eq!(label_value("pr-42"), "pr-42");
        assert_eq!(label_value("my_app"), "my_app");
        let mapped = label_value("pr-feature/x");
        assert!(mapped.starts_with("pr-feature-x-"), "{mapped}");
        assert!(label_value(&"y".repeat(80)).len() <= LABEL_MAX);
    }

    #[test]
    fn legacy_names_are_the_old_ones() {
        let n = Names::legacy(&id("shop", "store", "pr-feature/x"));
        assert_eq!(n.environment, "rel-env-pr-feature-x");
        assert_eq!(n.shared, "rel-shared");
        assert_eq!(n.namespace, "pr-feature-x");
    }
}
