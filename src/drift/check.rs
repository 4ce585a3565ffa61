//! One environment's drift check: its recorded layers (stacks or
//! deployments) and Kubernetes objects against the providers, read-only
//! (no lock is taken, nothing is written).

use std::sync::Arc;

use super::rules::Rules;
use super::{Collected, EnvironmentReport, PartKind, PartReport};
use crate::compile::DriftRule;
use crate::deploy::kubernetes::{self as k8s, KubeOptions};
use crate::emit::Target;
use crate::state::State;

/// The providers, as far as the run has them.
pub struct Providers {
    pub cloudformation: Option<aws_sdk_cloudformation::Client>,
    pub s3: Option<aws_sdk_s3::Client>,
    /// For resources tagged as the environment's outside its stacks.
    pub tagging: Option<aws_sdk_resourcegroupstagging::Client>,
    pub gcp: Option<Arc<crate::deploy::gcp::Gcp>>,
    pub kube: KubeOptions,
    pub detect: super::aws::DetectOptions,
}

/// What is checked for one environment (or for the shared layer alone).
pub struct Subject {
    /// The environment's name (`shared` for the shared layer alone).
    pub name: String,
    pub target: Target,
    /// The layers' states, by key (`rel-shared`, `rel-env-NAME`); a layer
    /// without a stack record is looked for as unmanaged.
    pub states: Vec<(String, State)>,
    /// The environment's namespace (the Kubernetes part's name).
    pub namespace: String,
    /// The state key (and stack name) of the environment's own layer.
    pub env_key: String,
    /// The label selector of the environment's objects.
    pub selector: String,
    /// The project, when the states record one (not before projects).
    pub project: Option<String>,
    pub kube_context: Option<String>,
    pub rules: Vec<DriftRule>,
    /// Known before the check (an environment no longer in the template).
    pub warnings: Vec<String>,
}

/// Checks a subject; `today` (`YYYY-MM-DD`) judges rule expiry.
pub async fn check(providers: &Providers, mut subject: Subject, today: &str) -> EnvironmentReport {
    let rules = Rules::new(&subject.rules, today);
    let mut parts = Vec::new();
    let mut warnings = std::mem::take(&mut subject.warnings);
    let mut add = |name: String, kind: PartKind, mut c: Collected, warnings: &mut Vec<String>| {
        warnings.extend(c.warnings.drain(..).map(|w| format!("{name}: {w}")));
        parts.push(PartReport::new(name, kind, c, &rules));
    };
    // The project's labels are compared once, with the first deployment
    // that recorded them.
    let mut labels_compared = false;
    // AWS: resources tagged as the environment's outside its stacks, shown
    // with the environment's stack.
    let env_stack = subject.env_key.clone();
    let mut tagged = tagged_resources(providers, &subject, &mut warnings).await;
    for (key, state) in &subject.states {
        if let Some(f) = &state.in_flight {
            warnings.push(format!(
                "{key}: an apply was changing this layer ({:?} since {}) when state was last written; what it changed may show as drift until `rel apply` finishes it",
                f.operation, f.started
            ));
        }
        match (&state.stack, subject.target) {
            (Some(record), Target::Gcp) => {
                let Some(gcp) = &providers.gcp else { continue };
                let c = super::gcp::check_deployment(
                    gcp,
                    key,
                    record,
                    state.project.as_ref().filter(|_| !labels_compared),
                    &state.salt,
                )
                .await;
                labels_compared |= state.project.is_some();
                add(record.name.clone(), PartKind::Deployment, c, &mut warnings);
            }
            (Some(record), _) => {
                let Some(cloudformation) = &providers.cloudformation else {
                    continue;
                };
                let clients = super::aws::Clients {
                    cloudformation,
                    s3: providers.s3.as_ref(),
                };
                let mut c =
                    super::aws::check_stack(&clients, record, &state.salt, providers.detect).await;
                if *key == env_stack {
                    c.unmanaged.append(&mut tagged);
                }
                add(record.name.clone(), PartKind::Stack, c, &mut warnings);
            }
            (None, Target::Aws) => {
                let Some(client) = &providers.cloudformation else {
                    continue;
                };
                let mut unmanaged = Vec::new();
                match super::aws::unrecorded_stack(
                    client,
                    key,
                    &subject.name,
                    subject.project.as_deref(),
                    state.layer.is_shared(),
                )
                .await
                {
                    Ok(found) => unmanaged.extend(found),
                    Err(why) => warnings.push(why),
                }
                if *key == env_stack {
                    unmanaged.append(&mut tagged);
                }
                if !unmanaged.is_empty() {
                    let c = Collected {
                        unmanaged,
                        ..Collected::default()
                    };
                    add(key.clone(), PartKind::Stack, c, &mut warnings);
                }
            }
            (None, _) => {}
        }
        // Objects are the environment's (the shared layer applies none).
        if let Some(record) = state
            .kubernetes
            .as_ref()
            .filter(|r| !r.objects.is_empty() && !state.layer.is_shared())
        {
            let c = match k8s::connect(&providers.kube, subject.kube_context.as_deref()).await {
                Ok(cluster) => {
                    super::kubernetes::check_objects(&cluster, record, &subject.selector).await
                }
                Err(d) => super::kubernetes::not_checked(
                    record,
                    &format!("the cluster could not be reached: {}", d.message),
                ),
            };
            add(
                format!("kubernetes/{}", subject.namespace),
                PartKind::Kubernetes,
                c,
                &mut warnings,
            );
        }
    }
    let target = match subject.target {
        Target::Gcp => "gcp",
        _ => "aws",
    };
    EnvironmentReport::new(subject.name, target, parts, warnings, &rules)
}

/// AWS: resources tagged as the environment's outside its stacks (none
/// for the shared layer alone, or on GCP).
async fn tagged_resources(
    providers: &Providers,
    subject: &Subject,
    warnings: &mut Vec<String>,
) -> Vec<super::Finding> {
    let (Some(tagging), Target::Aws, true) =
        (&providers.tagging, subject.target, subject.name != "shared")
    else {
        return Vec::new();
    };
    let known: std::collections::BTreeSet<String> = subject
        .states
        .iter()
        .filter_map(|(_, s)| s.stack.as_ref())
        .flat_map(|r| {
            std::iter::once(r.stack_id.clone())
                .chain(r.resources.values().filter_map(|v| v.physical_id.clone()))
        })
        .collect();
    super::aws::tagged_outside_stacks(tagging, &subject.name, subject.project.as_deref(), &known)
        .await
        .unwrap_or_else(|why| {
            warnings.push(why);
            Vec::new()
        })
}
