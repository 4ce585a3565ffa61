//! CloudFormation through the AWS SDK: configuration (the SDK's default
//! chain, with `--endpoint-url`, `--region` and `--profile` on top),
//! refresh, change sets, deletion and the events that explain a failure.
//! Throttling and 5xx answers are retried by the SDK's standard retry
//! strategy (exponential backoff with jitter).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Tag};

use super::plan::LiveStack;
use crate::diagnostic::{Diagnostic, codes};

/// Where and as whom to call AWS.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Attempts per call, including the first.
    pub max_attempts: u32,
}

/// The SDK configuration: the default credential and region chain
/// (environment, profile, SSO, container and instance roles), and the
/// `AWS_ENDPOINT_URL` the SDK honours, with the options on top.
pub async fn sdk_config(options: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(500)),
        )
        // A stalled call fails (and is retried) instead of hanging the run
        // while the lock's lease is renewed forever.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(300))
                .build(),
        );
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

pub fn client(config: &aws_config::SdkConfig) -> Client {
    Client::new(config)
}

/// A failed call, with the service's code and message (secret references
/// scrubbed) and a help that fits the kind of failure.
pub fn call_error<E, R>(what: &str, e: &SdkError<E, R>) -> Diagnostic
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (detail, help) = match e.as_service_error() {
        Some(s) => {
            let code = s.code().unwrap_or("error");
            let help = if ["AccessDenied", "Token", "Signature", "Credentials"]
                .iter()
                .any(|k| code.contains(k))
            {
                "Check the credentials and their permissions (`AWS_PROFILE`, `--profile`)."
            } else {
                "The provider refused the request; its message says why."
            };
            (format!("{code}: {}", s.message().unwrap_or_default()), help)
        }
        None => (
            aws_sdk_cloudformation::error::DisplayErrorContext(e).to_string(),
            "Check the network, region and endpoint (`--region`, `--endpoint-url`, `AWS_ENDPOINT_URL`) and the credentials.",
        ),
    };
    Diagnostic::error(
        codes::PROVIDER_ERROR,
        crate::state::scrub(&format!("{what}: {detail}")),
    )
    .with_help(help)
}

pub fn missing_stack<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist"))
}

/// Statuses a stack rests in (`REVIEW_IN_PROGRESS`, a stack whose first
/// change set was never executed, rests too).
pub fn settled(status: &str) -> bool {
    status == "REVIEW_IN_PROGRESS" || !status.ends_with("_IN_PROGRESS")
}

/// The stack as the provider reports it, or None if there is none (a
/// deleted stack counts as none).
pub async fn refresh(client: &Client, name: &str) -> Result<Option<LiveStack>, Diagnostic> {
    let described = match client.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) if missing_stack(&e) => return Ok(None),
        Err(e) => return Err(call_error(&format!("reading stack `{name}`"), &e)),
    };
    let Some(stack) = described.stacks().first() else {
        return Ok(None);
    };
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if status == "DELETE_COMPLETE" {
        return Ok(None);
    }
    let stack_id = stack.stack_id().unwrap_or(name).to_string();
    let tags = stack
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect();
    let template = match client
        .get_template()
        .stack_name(&stack_id)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
    {
        Ok(out) => out
            .template_body()
            .and_then(|body| serde_json::from_str(body).ok()),
        Err(e) if missing_stack(&e) => None,
        Err(e) => return Err(call_error(&format!("reading the template of `{name}`"), &e)),
    };
    let mut physical_ids = BTreeMap::new();
    let mut pages = client
        .list_stack_resources()
        .stack_name(&stack_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if missing_stack(&e) => break,
            Err(e) => {
                return Err(call_error(
                    &format!("listing the resources of `{name}`"),
                    &e,
                ));
            }
        };
        for r in page.stack_resource_summaries() {
            if let (Some(logical), Some(physical)) =
                (r.logical_resource_id(), r.physical_resource_id())
                && !physical.is_empty()
            {
                physical_ids.insert(logical.to_string(), physical.to_string());
            }
        }
    }
    Ok(Some(LiveStack {
        stack_id,
        status,
        template,
        outputs,
        physical_ids,
        tags,
    }))
}

/// The DNS records ACM asks for to validate a certificate, per domain, with
/// each domain's validation status.
pub async fn validation_records(
    acm: &aws_sdk_acm::Client,
    certificate_arn: &str,
) -> Result<Vec<super::plan::ValidationRecord>, Diagnostic> {
    let out = acm
        .describe_certificate()
        .certificate_arn(certificate_arn)
        .send()
        .await
        .map_err(|e| call_error(&format!("reading certificate `{certificate_arn}`"), &e))?;
    let mut records = Vec::new();
    for option in out
        .certificate()
        .map(|c| c.domain_validation_options())
        .unwrap_or_default()
    {
        let Some(rr) = option.resource_record() else {
            continue;
        };
        records.push(super::plan::ValidationRecord {
            domain: option.domain_name().to_string(),
            name: rr.name().to_string(),
            record_type: rr.r#type().as_str().to_string(),
            value: rr.value().to_string(),
            status: option
                .validation_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        });
    }
    records.sort_by(|a, b| (&a.domain, &a.name).cmp(&(&b.domain, &b.name)));
    records.dedup();
    Ok(records)
}

/// What a change set turned out to be.
pub enum ChangeSetOutcome {
    /// Ready to execute.
    Ready,
    /// CloudFormation found nothing to change.
    Empty,
}

/// Where CloudFormation reads a template from.
pub enum TemplateSource<'a> {
    /// Inline, up to 51,200 bytes.
    Body(&'a str),
    /// An S3 object's URL, up to 1 MB.
    Url(String),
}

/// A bucket (and prefix) that holds templates too large to pass inline.
#[derive(Clone, Debug)]
pub struct TemplateStore {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
}

impl TemplateStore {
    /// Uploads a template under `PREFIX/STACK/SHA256.json` (content
    /// addressed: the same template is the same object) and returns the
    /// URL CloudFormation reads it from.
    pub async fn upload(
        &self,
        stack: &str,
        sha256: &str,
        text: &str,
    ) -> Result<String, Diagnostic> {
        let key = if self.prefix.is_empty() {
            format!("{stack}/{sha256}.json")
        } else {
            format!("{}/{stack}/{sha256}.json", self.prefix)
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| {
                Diagnostic::error(
                    codes::PROVIDER_ERROR,
                    format!(
                        "uploading the template of `{stack}` to s3://{}/{key}: {}",
                        self.bucket,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                )
                .with_help(
                    "Check that the template bucket exists and that the identity may write to it.",
                )
            })?;
        let domain = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(format!(
            "https://{}.s3.{}.{domain}/{key}",
            self.bucket, self.region
        ))
    }
}

/// Creates a change set; returns its id and the stack's.
pub async fn create_change_set(
    client: &Client,
    stack: &str,
    tags: &[(String, String)],
    template: TemplateSource<'_>,
    create: bool,
    name: &str,
) -> Result<(String, String), Diagnostic> {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    let request = client
        .create_change_set()
        .stack_name(stack)
        .change_set_name(name);
    let request = match template {
        TemplateSource::Body(text) => request.template_body(text),
        TemplateSource::Url(url) => request.template_url(url),
    };
    let out = request
        .change_set_type(if create {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        })
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .description("rel apply")
        .send()
        .await
        .map_err(|e| call_error(&format!("creating a change set for `{stack}`"), &e))?;
    Ok((
        out.id().unwrap_or(name).to_string(),
        out.stack_id().unwrap_or(stack).to_string(),
    ))
}

/// Waits for a change set to be computed.
pub async fn wait_change_set(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<ChangeSetOutcome, Diagnostic> {
    let mut wait = Wait::new(timeout);
    loop {
        let out = client
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| call_error("reading a change set", &e))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => return Ok(ChangeSetOutcome::Ready),
            Some(ChangeSetStatus::Failed) => {
                let reason = crate::state::scrub(out.status_reason().unwrap_or_default());
                if reason.contains("didn't contain changes")
                    || reason.contains("No updates are to be performed")
                {
                    return Ok(ChangeSetOutcome::Empty);
                }
                return Err(Diagnostic::error(
                    codes::STACK_FAILED,
                    format!("CloudFormation could not prepare the change: {reason}"),
                ));
            }
            _ => {}
        }
        wait.pause("the change set to be computed").await?;
    }
}

/// Polling with a deadline: pauses grow from 200 ms to 5 s.
struct Wait {
    deadline: Instant,
    timeout: Duration,
    delay: Duration,
}

impl Wait {
    fn new(timeout: Duration) -> Wait {
        Wait {
            deadline: Instant::now() + timeout,
            timeout,
            delay: Duration::from_millis(200),
        }
    }

    /// Sleeps before the next poll, or fails once the deadline passed.
    async fn pause(&mut self, what: &str) -> Result<(), Diagnostic> {
        if Instant::now() > self.deadline {
            return Err(Diagnostic::error(
                codes::PROVIDER_ERROR,
                format!("gave up waiting for {what} after {} s", self.timeout.as_secs()),
            )
            .with_help("The operation goes on in CloudFormation; run apply again to pick it up, or raise --timeout."));
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 3 / 2).min(Duration::from_secs(5));
        Ok(())
    }
}

pub async fn execute_change_set(client: &Client, id: &str) -> Result<(), Diagnostic> {
    client
        .execute_change_set()
        .change_set_name(id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| call_error("executing a change set", &e))
}

pub async fn delete_change_set(client: &Client, id: &str) -> Result<(), Diagnostic> {
    match client.delete_change_set().change_set_name(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ChangeSetNotFound") || missing_stack(&e) => Ok(()),
        Err(e) => Err(call_error("deleting a change set", &e)),
    }
}

/// The ids of a stack's change sets that rel made (`rel-...`) and that
/// were never executed: what a run killed before journalling leaves.
pub async fn unexecuted_rel_change_sets(
    client: &Client,
    stack: &str,
) -> Result<Vec<String>, Diagnostic> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = match client
            .list_change_sets()
            .stack_name(stack)
            .set_next_token(next.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if missing_stack(&e) => return Ok(ids),
            Err(e) => {
                return Err(call_error(
                    &format!("listing the change sets of `{stack}`"),
                    &e,
                ));
            }
        };
        for summary in out.summaries() {
            // Filtered here too: some endpoints list every stack's.
            let ours = summary.stack_name() == Some(stack)
                && summary
                    .change_set_name()
                    .is_some_and(|n| n.starts_with("rel-"))
                && summary
                    .execution_status()
                    .is_some_and(|s| s.as_str() == "AVAILABLE");
            if ours && let Some(id) = summary.change_set_id() {
                ids.push(id.to_string());
            }
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(ids),
        }
    }
}

/// The execution status of a change set, if it still exists.
pub async fn change_set_execution(client: &Client, id: &str) -> Result<Option<String>, Diagnostic> {
    match client
        .describe_change_set()
        .change_set_name(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.execution_status().map(|s| s.as_str().to_string())),
        Err(e) if e.code() == Some("ChangeSetNotFound") || e.code() == Some("ValidationError") => {
            Ok(None)
        }
        Err(e) => Err(call_error("reading a change set", &e)),
    }
}

pub async fn delete_stack(client: &Client, id: &str) -> Result<(), Diagnostic> {
    client
        .delete_stack()
        .stack_name(id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| call_error(&format!("deleting stack `{id}`"), &e))
}

/// Waits until a stack rests; returns its status (`DELETE_COMPLETE` when gone).
pub async fn wait_stack(
    client: &Client,
    id: &str,
    timeout: Duration,
    on_status: &mut (dyn FnMut(&str) + Send),
) -> Result<String, Diagnostic> {
    let mut wait = Wait::new(timeout);
    loop {
        let status = match client.describe_stacks().stack_name(id).send().await {
            Ok(out) => out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map_or_else(|| "DELETE_COMPLETE".to_string(), |s| s.as_str().to_string()),
            Err(e) if missing_stack(&e) => "DELETE_COMPLETE".to_string(),
            Err(e) => return Err(call_error(&format!("reading stack `{id}`"), &e)),
        };
        on_status(&status);
        if settled(&status) {
            return Ok(status);
        }
        wait.pause(&format!("stack `{id}`")).await?;
    }
}

/// The reasons of a stack's failed events, newest first (at most 10).
pub async fn failure_reasons(client: &Client, id: &str) -> Vec<String> {
    let Ok(out) = client.describe_stack_events().stack_name(id).send().await else {
        return Vec::new();
    };
    out.stack_events()
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .take(10)
        .map(|e| {
            format!(
                "{} {}: {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_status().map(|s| s.as_str()).unwrap_or("?"),
                crate::state::scrub(e.resource_status_reason().unwrap_or("no reason given"))
            )
        })
        .collect()
}

/// A secret's value from AWS Secrets Manager (`SecretString`, or
/// `SecretBinary` as UTF-8) and its version id. The value is never part
/// of an error.
pub async fn secret_value(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<super::kubernetes::SecretValue, Diagnostic> {
    let unavailable = |why: String| {
        Diagnostic::error(codes::SECRET_UNAVAILABLE, format!("secret `{name}` cannot be read: {why}"))
            .with_help("Create it in AWS Secrets Manager in the environment's account and region, and allow secretsmanager:GetSecretValue on it.")
    };
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| unavailable(call_error("GetSecretValue", &e).message))?;
    let value = match out.secret_string() {
        Some(s) => s.to_string(),
        None => out
            .secret_binary()
            .and_then(|b| String::from_utf8(b.as_ref().to_vec()).ok())
            .ok_or_else(|| unavailable("it holds no text".into()))?,
    };
    Ok(super::kubernetes::SecretValue {
        value,
        version: out.version_id().unwrap_or("unversioned").to_string(),
    })
}
