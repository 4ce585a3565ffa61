//! State: what rel last applied, per layer (the shared stack, or one
//! environment's). Versioned JSON with a lineage (which history this is) and
//! a serial (how far along it), the provider's identity of each stack and
//! resource, the last applied values with secrets only as salted hashes, the
//! stack outputs, and a journal of the change in flight.
//!
//! `backend.rs` stores it (a local file, or S3) with locking.

pub mod backend;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The state format's version; a newer file is refused, never rewritten.
/// Version 2 added `names`; a version 1 file is read as a layer written
/// before projects (no names) and written back as version 2.
pub const STATE_VERSION: u32 = 2;

/// What a layer's state records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Random at creation; a state from another history is never mixed in.
    pub lineage: String,
    /// Incremented by every write.
    pub serial: u64,
    /// `shared` or `env:NAME`.
    pub layer: crate::address::Layer,
    /// The identity and names of the environment that wrote the layer
    /// (stack or deployment, namespace, labels); absent in a state written
    /// before projects, whose layer keeps the names it had then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<crate::identity::Names>,
    /// The salt of this state's secret hashes (random, per lineage).
    pub salt: String,
    /// The layer's CloudFormation stack, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackRecord>,
    /// The change apply was making when it last wrote: a killed or
    /// disconnected apply is reconciled from here by the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
    /// The environment's Kubernetes objects as last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubeRecord>,
    /// GCP: the project the layer's deployment is in, as Resource Manager
    /// reported it when the deployment was last recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRecord>,
    /// An environment's parameters (`--set NAME=VALUE`) as last applied,
    /// so that `rel drift --all-envs` compiles each environment as it was
    /// applied (a `pr-${branch}` environment needs its branch).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// A GCP project as last seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    pub id: String,
    pub labels: BTreeMap<String, String>,
}

/// The Kubernetes objects rel applied for an environment, on one cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeRecord {
    /// The API server's URL.
    pub server: String,
    /// `API_VERSION/KIND/NAMESPACE/NAME` → the object.
    pub objects: BTreeMap<String, ObjectRecord>,
}

/// One Kubernetes object as last applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRecord {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The configuration applied (server-side apply's input), with the
    /// values of Secrets hashed.
    pub applied: serde_json::Value,
}

/// A stack as last applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackRecord {
    pub name: String,
    /// The stack ARN.
    pub stack_id: String,
    /// The stack status when recorded (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`...).
    pub status: String,
    /// SHA-256 of the applied template with its secrets hashed.
    pub template_sha256: String,
    /// The template's top level (outputs, description) other than resources, redacted.
    pub template: serde_json::Value,
    /// By logical id.
    pub resources: BTreeMap<String, ResourceRecord>,
    /// Stack outputs by key.
    pub outputs: BTreeMap<String, String>,
    pub applied_at: String,
}

/// A resource as last applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRecord {
    /// The rel address, when the resource came from rel's model.
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The provider's id (bucket name, role name, ARN...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    /// The template's entry for it (Type, Properties, DependsOn...), secrets hashed.
    pub values: serde_json::Value,
}

/// A change that was started and not yet recorded as finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InFlight {
    pub operation: Operation,
    pub stack: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set_id: Option<String>,
    pub template_sha256: String,
    pub started: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl State {
    /// A fresh state for a layer: new lineage and salt, serial 0.
    pub fn new(layer: crate::address::Layer) -> State {
        State {
            version: STATE_VERSION,
            lineage: random_hex(16),
            serial: 0,
            layer,
            names: None,
            salt: random_hex(16),
            stack: None,
            in_flight: None,
            kubernetes: None,
            project: None,
            parameters: BTreeMap::new(),
        }
    }

    /// Reads a state document; a newer version or a malformed file is an
    /// error that says which.
    pub fn from_json(text: &str) -> Result<State, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        let mut value = value;
        match version {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            // Version 1 differs only by lacking `names`.
            Some(1) => value["version"] = serde_json::json!(STATE_VERSION),
            Some(v) => {
                return Err(format!(
                    "state version {v} is not {STATE_VERSION}, the version this rel reads"
                ));
            }
            None => return Err("no `version` field: not a rel state file".into()),
        }
        serde_json::from_value(value).map_err(|e| format!("malformed: {e}"))
    }

    /// The document as written: pretty JSON, keys in a fixed order, one
    /// trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("state serialises");
        text.push('\n');
        text
    }
}

/// What plans, reports and errors show in place of a secret's value.
pub const SENSITIVE: &str = "(sensitive)";

/// What they show for a secret whose value changed.
pub const SENSITIVE_CHANGED: &str = "(sensitive, changed)";

/// The text that stands for a secret in state and plans: a salted SHA-256,
/// so a change can be detected without the value being recoverable.
pub fn secret_hash(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(secret.as_bytes());
    format!("(sensitive sha256:{})", hex(&h.finalize()[..16]))
}

/// True for a string CloudFormation resolves from a secret store at
/// deployment: rel never sees the secret, but treats the reference as
/// sensitive too.
pub fn is_secret_text(s: &str) -> bool {
    s.contains("{{resolve:secretsmanager:") || s.contains("{{resolve:ssm-secure:")
}

/// `value` with every secret string replaced by its salted hash.
pub fn redact(value: &serde_json::Value, salt: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        J::String(s) if is_secret_text(s) => J::String(secret_hash(salt, s)),
        J::Array(items) => J::Array(items.iter().map(|v| redact(v, salt)).collect()),
        J::Object(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v, salt)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The digest of a template with its secrets hashed with `salt`.
pub fn template_digest(template: &serde_json::Value, salt: &str) -> String {
    let text = serde_json::to_string(&redact(template, salt)).unwrap_or_default();
    sha256_hex(text.as_bytes())
}

/// A provider's message with every dynamic reference to a secret
/// (`{{resolve:...}}`) replaced, for errors and progress lines.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("{{resolve:") {
        out.push_str(&rest[..at]);
        out.push_str("{{resolve:(sensitive)}}");
        rest = match rest[at..].find("}}") {
            Some(end) => &rest[at + end + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// True for a string that is a secret's hash (as `redact` writes it).
pub fn is_secret_hash(s: &str) -> bool {
    s.starts_with("(sensitive sha256:")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Random bytes from the operating system, as hex.
pub fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: fall back to time and process, still unique
        // enough for a lineage or lock id on one machine.
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        bytes = Sha256::digest(seed.as_bytes())[..len.min(32)].to_vec();
    }
    hex(&bytes)
}

/// Now, as RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch of an RFC 3339 time written by `rfc3339`.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for secs in [0u64, 951_782_400, 1_795_651_200, 4_102_444_799] {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(secs), "{}", rfc3339(t));
        }
        assert_eq!(
            rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn secrets_are_hashed_with_the_salt() {
        let v = serde_json::json!({"P": "{{resolve:secretsmanager:canary}}", "Q": ["x"]});
        let a = redact(&v, "s1");
        let text = a.to_string();
        assert!(!text.contains("canary"), "{text}");
        assert_ne!(a, redact(&v, "s2"));
        assert_eq!(a, redact(&v, "s1"));
        assert_eq!(a["Q"], serde_json::json!(["x"]));
    }

    #[test]
    fn provider_messages_are_scrubbed() {
        assert_eq!(
            scrub(
                "bad {{resolve:secretsmanager:canary/x:SecretString}} value {{resolve:ssm-secure:/p"
            ),
            "bad {{resolve:(sensitive)}} value {{resolve:(sensitive)}}"
        );
        assert_eq!(scrub("plain"), "plain");
    }

    #[test]
    fn state_round_trips_and_refuses_other_versions() {
        let s = State::new(crate::address::Layer::Environment("pr-1".into()));
        assert_eq!(State::from_json(&s.to_json()).unwrap(), s);
        let newer = s.to_json().replace("\"version\": 2", "\"version\": 3");
        assert!(State::from_json(&newer).unwrap_err().contains("version 3"));
        let older = s.to_json().replace("\"version\": 2", "\"version\": 1");
        assert_eq!(State::from_json(&older).unwrap(), s);
        assert!(
            State::from_json("{}")
                .unwrap_err()
                .contains("not a rel state")
        );
    }
}
