//! CloudFormation drift: a stack as rel recorded it against the stack
//! now. Three sources, each catching what the others cannot:
//!
//! - the deployed template (`GetTemplate`) against the recorded one: a
//!   stack updated outside rel (another template, resources added or
//!   removed), and its status (`DescribeStacks`);
//! - the stack's resources (`ListStackResources`): resources gone from the
//!   stack or failed;
//! - CloudFormation's drift detection (`DetectStackDrift`, polled with
//!   `DescribeStackDriftDetectionStatus` until done or the timeout, then
//!   `DescribeStackResourceDrifts`): property-level drift of the resources
//!   themselves, changed or deleted with the services' own APIs.
//!
//! Where drift detection cannot run (denied, unavailable, timed out) each
//! resource is reported as not checked with the reason, never as in sync;
//! an S3 bucket's existence is still checked with the S3 API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{
    DifferenceType, StackDriftDetectionStatus, StackResourceDrift, StackResourceDriftStatus,
};
use serde_json::Value as J;

use super::{Class, Collected, Difference, Finding, every_resource, recorded};
use crate::deploy::aws::missing_stack;
use crate::deploy::plan::recorded_template;
use crate::state::{StackRecord, is_secret_hash, is_secret_text, redact};

/// How long to wait for CloudFormation's drift detection, and how often
/// to ask.
#[derive(Clone, Copy, Debug)]
pub struct DetectOptions {
    pub timeout: Duration,
    pub poll: Duration,
}

/// The clients drift uses.
pub struct Clients<'a> {
    pub cloudformation: &'a Client,
    /// For the existence of buckets when drift detection cannot run.
    pub s3: Option<&'a aws_sdk_s3::Client>,
}

/// Why a provider call failed, in a reason's words.
fn why<E>(e: &SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Some(code) = e.code() else {
        // No service error: an answer that is not CloudFormation's (an
        // endpoint without the API answers with an error page), or none.
        if let Some(r) = e.raw_response() {
            return format!(
                "HTTP {} without a CloudFormation error in the answer (the endpoint does not offer this API)",
                r.status().as_u16()
            );
        }
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        return crate::state::scrub(&text);
    };
    let message = crate::state::scrub(e.message().unwrap_or_default());
    let denied = ["AccessDenied", "UnauthorizedOperation", "NotAuthorized"]
        .iter()
        .any(|k| code.contains(k));
    if denied {
        format!("permission denied ({code}: {message})")
    } else {
        format!("{code}: {message}")
    }
}

/// `/Properties/Tags/0/Value` → `Properties.Tags[0].Value`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// A value as compared: JSON text parsed, IAM policy documents in their
/// canonical form (one-element lists are their element, lists of strings
/// in any order), numbers written as strings read as numbers.
fn canonical(v: &J) -> J {
    fn walk(v: &J, policy: bool) -> J {
        match v {
            J::Object(m) => {
                let policy = policy || m.contains_key("Statement");
                J::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), walk(v, policy)))
                        .collect(),
                )
            }
            J::Array(items) => {
                let mut items: Vec<J> = items.iter().map(|v| walk(v, policy)).collect();
                if policy && items.len() == 1 {
                    return items.pop().expect("one item");
                }
                if policy && items.iter().all(J::is_string) {
                    items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                J::Array(items)
            }
            J::String(s) => match serde_json::from_str::<J>(s) {
                Ok(parsed @ (J::Object(_) | J::Array(_))) => walk(&parsed, policy),
                Ok(J::Number(n)) => J::Number(n),
                _ => v.clone(),
            },
            other => other.clone(),
        }
    }
    walk(v, false)
}

/// A recorded template value at a drift path, if the template sets it.
/// A drift path as a pointer into the resource's template entry:
/// CloudFormation reports paths under `Properties` (`/DelaySeconds`,
/// `/SecurityGroupIngress/1/CidrIp`).
fn entry_pointer(property_path: &str) -> String {
    if property_path.starts_with("/Properties/") || property_path == "/Properties" {
        property_path.to_string()
    } else {
        format!("/Properties{property_path}")
    }
}

/// Whether the recorded entry holds a secret at `pointer`, under it, or
/// anywhere in a list around it (a list's items may be compared out of
/// their recorded order).
fn secret_at(record: &StackRecord, logical_id: &str, pointer: &str) -> bool {
    let Some(entry) = record.resources.get(logical_id).map(|r| &r.values) else {
        return false;
    };
    if entry.pointer(pointer).is_some_and(holds_secret) {
        return true;
    }
    let mut at = pointer;
    while let Some(cut) = at.rfind('/') {
        at = &at[..cut];
        if let Some(list @ J::Array(_)) = entry.pointer(at) {
            return holds_secret(list);
        }
    }
    false
}

fn holds_secret(v: &J) -> bool {
    match v {
        J::String(s) => is_secret_hash(s) || is_secret_text(s),
        J::Array(items) => items.iter().any(holds_secret),
        J::Object(m) => m.values().any(holds_secret),
        _ => false,
    }
}

/// The property differences CloudFormation reported for one resource,
/// without those that are only normalisation.
fn property_differences(record: &StackRecord, drift: &StackResourceDrift) -> Vec<Difference> {
    let logical_id = drift.logical_resource_id().unwrap_or_default();
    let mut out = Vec::new();
    for p in drift.property_differences() {
        let pointer = entry_pointer(p.property_path().unwrap_or_default());
        let parse = |s: Option<&str>| {
            s.map(|s| serde_json::from_str::<J>(s).unwrap_or_else(|_| J::String(s.to_string())))
        };
        let (mut expected, mut actual) = (parse(p.expected_value()), parse(p.actual_value()));
        match p.difference_type() {
            Some(DifferenceType::Add) => expected = None,
            Some(DifferenceType::Remove) => actual = None,
            _ => {}
        }
        if let (Some(e), Some(a)) = (&expected, &actual)
            && canonical(e) == canonical(a)
        {
            continue;
        }
        let sensitive = expected.iter().chain(&actual).any(holds_secret)
            || secret_at(record, logical_id, &pointer);
        out.push(Difference::new(
            dotted(&pointer),
            expected,
            actual,
            sensitive,
        ));
    }
    out
}

/// What CloudFormation's drift detection says of each resource, or why it
/// could not say.
async fn detect(
    client: &Client,
    stack_id: &str,
    options: DetectOptions,
) -> Result<(BTreeMap<String, StackResourceDrift>, Option<String>), String> {
    // Starting detection is retried once: an endpoint without the API
    // answers every attempt the same, and the standard six attempts with
    // backoff would add seconds per stack to say so.
    let id = client
        .detect_stack_drift()
        .stack_name(stack_id)
        .customize()
        .config_override(
            aws_sdk_cloudformation::config::Config::builder()
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2)),
        )
        .send()
        .await
        .map_err(|e| format!("CloudFormation drift detection is unavailable: {}", why(&e)))?
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    let deadline = Instant::now() + options.timeout;
    let mut partial = None;
    // When this detection started: results older than it are another
    // detection's (a resource this one could not check keeps its last).
    let started;
    loop {
        let status = client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "reading CloudFormation's drift detection failed: {}",
                    why(&e)
                )
            })?;
        let done = status.timestamp().map(|t| t.secs());
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionInProgress) => {}
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                // Some resources could not be checked; the others were.
                partial = Some(format!(
                    "CloudFormation's drift detection did not finish for every resource: {}",
                    crate::state::scrub(
                        status
                            .detection_status_reason()
                            .unwrap_or("no reason given")
                    )
                ));
                started = done;
                break;
            }
            _ => {
                started = done;
                break;
            }
        }
        if Instant::now() + options.poll > deadline {
            return Err(format!(
                "CloudFormation's drift detection did not finish within {} s",
                options.timeout.as_secs()
            ));
        }
        tokio::time::sleep(options.poll).await;
    }
    let mut drifts = BTreeMap::new();
    let mut pages = client
        .describe_stack_resource_drifts()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("reading the drift results failed: {}", why(&e)))?;
        for d in page.stack_resource_drifts() {
            let stale = matches!(
                (started, d.timestamp().map(|t| t.secs())),
                (Some(s), Some(t)) if t < s
            );
            if let (Some(id), false) = (d.logical_resource_id(), stale) {
                drifts.insert(id.to_string(), d.clone());
            }
        }
    }
    Ok((drifts, partial))
}

/// What the stack's resource list says of each logical id.
struct Listed {
    status: String,
    reason: Option<String>,
    physical_id: Option<String>,
}

async fn list_resources(
    client: &Client,
    stack_id: &str,
) -> Result<BTreeMap<String, Listed>, String> {
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_stack_resources()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| format!("listing the stack's resources failed: {}", why(&e)))?;
        for r in page.stack_resource_summaries() {
            let Some(id) = r.logical_resource_id() else {
                continue;
            };
            out.insert(
                id.to_string(),
                Listed {
                    status: r
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: r.resource_status_reason().map(crate::state::scrub),
                    physical_id: r.physical_resource_id().map(str::to_string),
                },
            );
        }
    }
    Ok(out)
}

/// Whether a bucket exists (for when drift detection cannot say).
async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<bool> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Some(true),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(404) => Some(false),
            _ => None,
        },
    }
}

/// Checks one recorded stack.
pub async fn check_stack(
    clients: &Clients<'_>,
    record: &StackRecord,
    salt: &str,
    options: DetectOptions,
) -> Collected {
    let client = clients.cloudformation;
    let all = |class: Class, source: &str, reason: &str| Collected {
        resources: every_resource(record, class, source, reason),
        ..Collected::default()
    };
    let stack_finding = |class: Class| {
        let mut f = Finding::new(class, record.name.clone(), "AWS::CloudFormation::Stack");
        f.physical_id = Some(record.stack_id.clone());
        f
    };

    // A stack in another region than the connection's cannot be read
    // here; that is not its deletion.
    let recorded_region = record.stack_id.split(':').nth(3).filter(|r| !r.is_empty());
    let connected = client.config().region().map(|r| r.as_ref().to_string());
    if let (Some(was), Some(now)) = (recorded_region, &connected)
        && was != now
    {
        let reason = format!(
            "the stack is in {was} and rel drift is connected to {now}: pass --region {was}"
        );
        let mut c = all(Class::NotChecked, "stack", &reason);
        c.itself = Some(
            stack_finding(Class::NotChecked)
                .source("stack")
                .reason(reason),
        );
        return c;
    }

    // The stack itself.
    let described = match client
        .describe_stacks()
        .stack_name(&record.stack_id)
        .send()
        .await
    {
        Ok(out) => out.stacks().first().cloned(),
        Err(e) if missing_stack(&e) => None,
        Err(e) => {
            let reason = format!("the stack could not be read: {}", why(&e));
            let mut c = all(Class::NotChecked, "stack", &reason);
            c.itself = Some(
                stack_finding(Class::NotChecked)
                    .source("stack")
                    .reason(reason),
            );
            return c;
        }
    };
    let status = described
        .as_ref()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if described.is_none() || status == "DELETE_COMPLETE" {
        // By its id (ARN): a stack of the same name made since is another.
        let reason = "the stack was deleted outside rel (or these credentials are for another account than the one that applied it)";
        let mut c = all(Class::Deleted, "stack", reason);
        c.itself = Some(stack_finding(Class::Deleted).source("stack").reason(reason));
        return c;
    }
    let mut itself = Vec::new();
    if status != record.status {
        itself.push(Difference::new(
            "StackStatus".into(),
            Some(J::String(record.status.clone())),
            Some(J::String(status.clone())),
            false,
        ));
    }
    // The outputs' values: what other stacks and the manifests read.
    let outputs: BTreeMap<String, String> = described
        .as_ref()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if outputs != record.outputs {
        let wrap = |m: &BTreeMap<String, String>| serde_json::json!({ "StackOutputs": m });
        itself.extend(super::differences(
            Some(&wrap(&record.outputs)),
            Some(&wrap(&outputs)),
        ));
    }

    // The deployed template against the recorded one.
    let recorded = recorded_template(record);
    let deployed: Result<J, String> = match client
        .get_template()
        .stack_name(&record.stack_id)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
    {
        Ok(out) => serde_json::from_str(out.template_body().unwrap_or_default())
            .map(|t| redact(&t, salt))
            .map_err(|_| "the deployed template is not JSON: it was replaced outside rel".into()),
        Err(e) => Err(format!(
            "the deployed template could not be read: {}",
            why(&e)
        )),
    };
    let empty = serde_json::Map::new();
    let (deployed_resources, template_problem) = match &deployed {
        Ok(t) => {
            let top = |t: &J| {
                let mut m = t.as_object().cloned().unwrap_or_default();
                m.remove("Resources");
                J::Object(m)
            };
            itself.extend(super::differences(Some(&top(&recorded)), Some(&top(t))));
            (
                t.get("Resources").and_then(J::as_object).unwrap_or(&empty),
                None,
            )
        }
        Err(why) => (&empty, Some(why.clone())),
    };
    let listed = list_resources(client, &record.stack_id).await;
    let detected = detect(client, &record.stack_id, options).await;

    let mut collected = Collected::default();
    let mut warnings = Vec::new();
    if let Some(problem) = &template_problem {
        warnings.push(problem.clone());
    }
    if let Err(why) = &listed {
        warnings.push(format!(
            "{why}: resources gone from the stack or failed were not looked for"
        ));
    }
    if let Ok((_, Some(partial))) = &detected {
        warnings.push(partial.clone());
    }
    for id in record.resources.keys() {
        let found = template_problem
            .is_none()
            .then(|| from_template(record, id, deployed_resources.get(id)))
            .flatten()
            .or_else(|| listed.as_ref().ok().and_then(|l| from_stack(record, id, l)));
        if let Some(f) = found {
            collected.resources.push((id.clone(), Some(f)));
            continue;
        }
        // The resource itself.
        let outcome = match &detected {
            Ok((drifts, partial)) => from_detection(record, id, drifts.get(id), partial.as_deref()),
            Err(reason) => Some(existence(clients, record, id, reason).await),
        };
        collected.resources.push((id.clone(), outcome));
    }
    // Resources the deployed template has and state does not.
    for (id, entry) in deployed_resources {
        if !record.resources.contains_key(id) {
            let mut f = Finding::new(
                Class::Unmanaged,
                id.clone(),
                entry.get("Type").and_then(J::as_str).unwrap_or("unknown"),
            )
            .source("template")
            .reason("in the deployed template but not in rel's state: added outside rel");
            if let Ok(listed) = &listed {
                f.physical_id = listed.get(id).and_then(|l| l.physical_id.clone());
            }
            collected.unmanaged.push(f);
        }
    }
    if !itself.is_empty() {
        collected.itself = Some(
            stack_finding(Class::Modified)
                .source("template")
                .reason("the stack was changed outside rel")
                .differences(itself),
        );
    }
    collected.warnings = warnings;
    collected
}

/// What CloudFormation's drift detection says of a recorded resource
/// (None: in sync); `partial` is why the detection did not finish.
fn from_detection(
    record: &StackRecord,
    id: &str,
    drift: Option<&StackResourceDrift>,
    partial: Option<&str>,
) -> Option<Finding> {
    let not_checked =
        |why: String| Some(recorded(Class::NotChecked, id, record, "drift-detection").reason(why));
    let Some(d) = drift else {
        return not_checked(
            partial
                .unwrap_or("not in CloudFormation's drift detection results")
                .to_string(),
        );
    };
    match d.stack_resource_drift_status() {
        Some(StackResourceDriftStatus::InSync) => None,
        Some(StackResourceDriftStatus::Modified) => {
            let diffs = property_differences(record, d);
            (!diffs.is_empty()).then(|| {
                recorded(Class::Modified, id, record, "drift-detection").differences(diffs)
            })
        }
        Some(StackResourceDriftStatus::Deleted) => Some(
            recorded(Class::Deleted, id, record, "drift-detection")
                .reason("CloudFormation's drift detection found it deleted"),
        ),
        Some(StackResourceDriftStatus::NotChecked) => {
            not_checked(d.drift_status_reason().map_or_else(
                || {
                    format!(
                        "CloudFormation's drift detection does not support {}",
                        record.resources[id].type_name
                    )
                },
                crate::state::scrub,
            ))
        }
        _ => not_checked(
            partial
                .unwrap_or("CloudFormation's drift detection could not say")
                .to_string(),
        ),
    }
}

/// What the deployed template says of a recorded resource: removed from
/// it, or its entry changed (None: the same).
fn from_template(record: &StackRecord, id: &str, deployed: Option<&J>) -> Option<Finding> {
    let Some(live) = deployed else {
        return Some(
            recorded(Class::Deleted, id, record, "template")
                .reason("no longer in the deployed template: removed outside rel"),
        );
    };
    let diffs = super::differences(Some(&record.resources[id].values), Some(live));
    (!diffs.is_empty()).then(|| {
        recorded(Class::Modified, id, record, "template")
            .reason("its template entry was changed outside rel")
            .differences(diffs)
    })
}

/// What the stack's resource list says of a recorded resource: gone from
/// the stack, or failed (None: there and settled).
fn from_stack(
    record: &StackRecord,
    id: &str,
    listed: &BTreeMap<String, Listed>,
) -> Option<Finding> {
    let Some(l) = listed.get(id) else {
        return Some(
            recorded(Class::Deleted, id, record, "stack").reason("no longer in the stack"),
        );
    };
    if !l.status.ends_with("_FAILED") {
        return None;
    }
    let mut f = recorded(Class::Modified, id, record, "stack");
    if let Some(reason) = &l.reason {
        f = f.reason(reason.clone());
    }
    f.physical_id = l.physical_id.clone().or(f.physical_id);
    f.differences.push(Difference::new(
        "ResourceStatus".into(),
        None,
        Some(J::String(l.status.clone())),
        false,
    ));
    Some(f)
}

/// Without drift detection: an S3 bucket's existence can still be
/// checked; anything else is not checked, with the reason.
async fn existence(clients: &Clients<'_>, record: &StackRecord, id: &str, reason: &str) -> Finding {
    let r = &record.resources[id];
    if let (Some(s3), "AWS::S3::Bucket", Some(bucket)) =
        (clients.s3, r.type_name.as_str(), &r.physical_id)
    {
        match bucket_exists(s3, bucket).await {
            Some(false) => {
                return recorded(Class::Deleted, id, record, "existence")
                    .reason("the bucket no longer exists (S3 HeadBucket)");
            }
            Some(true) => {
                return recorded(Class::NotChecked, id, record, "existence").reason(format!(
                    "{reason}; the bucket exists, its properties were not compared"
                ));
            }
            None => {}
        }
    }
    recorded(Class::NotChecked, id, record, "drift-detection").reason(reason)
}

/// Resources outside rel's stacks that carry rel's tags for the
/// environment (`rel:environment`; CloudFormation copies a stack's tags to
/// what it creates): kept by a `Retain` deletion policy, or made by hand
/// from a copy. Resources still in one of rel's stacks are left to the
/// template comparison; stacks themselves to `unrecorded_stack`; and
/// anything whose id a record holds is rel's.
pub async fn tagged_outside_stacks(
    tagging: &aws_sdk_resourcegroupstagging::Client,
    environment: &str,
    project: Option<&str>,
    known_ids: &std::collections::BTreeSet<String>,
) -> Result<Vec<Finding>, String> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let mut out = Vec::new();
    let mut request = tagging.get_resources().tag_filters(
        TagFilter::builder()
            .key(crate::identity::TAG_ENVIRONMENT)
            .values(environment)
            .build(),
    );
    // Since projects, another project's environment of the same name is
    // not this one's.
    if let Some(project) = project {
        request = request.tag_filters(
            TagFilter::builder()
                .key(crate::identity::TAG_PROJECT)
                .values(project)
                .build(),
        );
    }
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            let code = e.code().unwrap_or("error").to_string();
            format!(
                "resources tagged for the environment outside its stacks were not looked for: {code}: {}",
                crate::state::scrub(e.message().unwrap_or_default())
            )
        })?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tag = |k: &str| {
                mapping
                    .tags()
                    .iter()
                    .find(|t| t.key() == k)
                    .map(|t| t.value())
            };
            let in_rel_stack =
                tag("aws:cloudformation:stack-name").is_some_and(|s| s.starts_with("rel-"));
            let is_stack = arn.split(':').nth(2) == Some("cloudformation");
            let known = known_ids.iter().any(|id| {
                arn == id || arn.ends_with(&format!(":{id}")) || arn.ends_with(&format!("/{id}"))
            });
            if in_rel_stack || is_stack || known {
                continue;
            }
            let service = arn.split(':').nth(2).unwrap_or("aws");
            let mut f = Finding::new(Class::Unmanaged, arn, format!("aws:{service}"))
                .source("labels")
                .reason("tagged by rel for this environment, but in none of its stacks and not in state");
            f.physical_id = Some(arn.to_string());
            out.push(f);
        }
    }
    Ok(out)
}

/// Checks whether a stack rel's tags name for the environment exists
/// although state records none: it is unmanaged.
pub async fn unrecorded_stack(
    client: &Client,
    name: &str,
    environment: &str,
    project: Option<&str>,
    shared: bool,
) -> Result<Option<Finding>, String> {
    let out = match client.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) if missing_stack(&e) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "whether stack `{name}` exists outside state could not be read: {}",
                why(&e)
            ));
        }
    };
    let Some(stack) = out.stacks().first() else {
        return Ok(None);
    };
    if stack.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE") {
        return Ok(None);
    }
    let tag = |k: &str| {
        stack
            .tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
    };
    let ours = tag(crate::identity::TAG_MANAGED) == Some("true")
        && (shared || tag(crate::identity::TAG_ENVIRONMENT) == Some(environment))
        && project.is_none_or(|p| tag(crate::identity::TAG_PROJECT) == Some(p));
    Ok(ours.then(|| {
        let mut f = Finding::new(Class::Unmanaged, name, "AWS::CloudFormation::Stack")
            .source("labels")
            .reason("tagged by rel for this environment, but state records no stack");
        f.physical_id = stack.stack_id().map(str::to_string);
        f
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(
            dotted("/Properties/Tags/0/Value"),
            "Properties.Tags[0].Value"
        );
        assert_eq!(dotted("/Properties/a~1b"), "Properties.a/b");
    }

    #[test]
    fn policies_compare_in_canonical_form() {
        let a = J::String(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["b","a"]}]}"#
                .into(),
        );
        let b = serde_json::json!({"Statement": {"Resource": ["a", "b"], "Action": "s3:GetObject", "Effect": "Allow"}, "Version": "2012-10-17"});
        assert_eq!(canonical(&a), canonical(&b));
        let c = serde_json::json!({"Statement": {"Resource": ["a"], "Action": "s3:PutObject", "Effect": "Allow"}, "Version": "2012-10-17"});
        assert_ne!(canonical(&a), canonical(&c));
        assert_eq!(
            canonical(&J::String("80".into())),
            canonical(&serde_json::json!(80))
        );
        // Lists outside policies keep their order.
        assert_ne!(
            canonical(&serde_json::json!(["a", "b"])),
            canonical(&serde_json::json!(["b", "a"]))
        );
    }
}
