//! GCP: one Infrastructure Manager deployment per layer, through Google's
//! Rust clients (`google-cloud-config-v1`, `google-cloud-storage`,
//! `google-cloud-resourcemanager-v3`) with Application Default Credentials.
//!
//! Infrastructure Manager reads a blueprint from Cloud Storage, so apply
//! uploads each layer's Terraform JSON, content-addressed
//! (`gs://BUCKET/PREFIX/LAYER/SHA256/main.tf.json`), then creates or
//! updates the deployment and waits for its long-running operation. A
//! refresh reads the deployment, its latest revision (state, outputs,
//! errors) and the blueprint that revision applied, so a plan compares
//! what is deployed, not only what rel recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use google_cloud_config_v1::client::Config;
use google_cloud_config_v1::model::{Deployment, TerraformBlueprint, TerraformVariable};
use google_cloud_gax::error::rpc::Code;
use google_cloud_lro::Poller;
use google_cloud_resourcemanager_v3::client::Projects;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_storage::client::Storage;
use serde_json::Value as J;

use super::plan::LiveStack;
use crate::diagnostic::{Diagnostic, codes};

/// Where and as whom deployments are made.
#[derive(Clone, Debug, Default)]
pub struct GcpOptions {
    pub project: Option<String>,
    pub location: Option<String>,
    /// `gs://BUCKET/PREFIX` for blueprints.
    pub blueprint_bucket: Option<String>,
    /// The service account Infrastructure Manager runs Terraform as
    /// (an email, or `projects/P/serviceAccounts/EMAIL`).
    pub service_account: Option<String>,
    /// Send every Google API call to this endpoint (a private endpoint).
    pub endpoint: Option<String>,
}

/// What to deploy for a layer.
#[derive(Clone, Copy)]
pub struct LayerChange<'a> {
    pub layer: &'a str,
    /// The Terraform JSON blueprint and its SHA-256.
    pub blueprint: &'a str,
    pub sha256: &'a str,
    /// `deployment.json`: labels.
    pub metadata: &'a J,
    /// The deployment's input values.
    pub inputs: &'a BTreeMap<String, String>,
    /// Update (the deployment exists) rather than create.
    pub exists: bool,
}

/// Connected clients and where deployments live.
pub struct Gcp {
    config: Config,
    storage: Storage,
    projects: Projects,
    secrets: SecretManagerService,
    pub project: String,
    pub location: String,
    bucket: Option<(String, String)>,
    service_account: Option<String>,
    /// The project's labels, once checked.
    labels: std::sync::OnceLock<BTreeMap<String, String>>,
    /// Blueprints uploaded by this run.
    uploaded: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

fn gcp_error(what: &str, e: &google_cloud_gax::error::Error) -> Diagnostic {
    let text = match e.status() {
        Some(s) => format!("{} ({})", s.message, s.code.name()),
        None => e.to_string(),
    };
    Diagnostic::error(
        codes::PROVIDER_ERROR,
        format!("{what}: {}", crate::state::scrub(&text)),
    )
}

fn not_found(e: &google_cloud_gax::error::Error) -> bool {
    e.status().is_some_and(|s| s.code == Code::NotFound) || e.http_status_code() == Some(404)
}

/// `gs://BUCKET/PREFIX` → (bucket, prefix).
pub fn gcs_location(spec: &str) -> Option<(String, String)> {
    let rest = spec.strip_prefix("gs://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
}

fn missing(what: &str, flag: &str) -> Diagnostic {
    Diagnostic::error(
        codes::BACKEND_INVALID,
        format!("no GCP {what} to deploy to"),
    )
    .with_help(format!("Pass {flag}."))
}

impl Gcp {
    /// Builds the clients with Application Default Credentials.
    pub async fn connect(options: &GcpOptions) -> Result<Gcp, Diagnostic> {
        let project = options
            .project
            .clone()
            .ok_or_else(|| missing("project", "--gcp-project (or set GOOGLE_CLOUD_PROJECT)"))?;
        let location = options.location.clone().ok_or_else(|| {
            missing(
                "location",
                "--gcp-location (an Infrastructure Manager region such as europe-west1)",
            )
        })?;
        let bucket = match &options.blueprint_bucket {
            Some(spec) => Some(gcs_location(spec).ok_or_else(|| {
                Diagnostic::error(
                    codes::BACKEND_INVALID,
                    format!("`--blueprint-bucket {spec}` is not gs://BUCKET/PREFIX"),
                )
            })?),
            None => None,
        };
        let credentials = || {
            google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| {
                    Diagnostic::error(
                        codes::PROVIDER_ERROR,
                        format!("no Google credentials: {e}"),
                    )
                    .with_help("rel uses Application Default Credentials: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS.")
                })
        };
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            Diagnostic::error(
                codes::PROVIDER_ERROR,
                format!("the {what} client cannot be built: {e}"),
            )
        };
        let mut config = Config::builder().with_credentials(credentials()?);
        let mut storage = Storage::builder().with_credentials(credentials()?);
        let mut projects = Projects::builder().with_credentials(credentials()?);
        let mut secrets = SecretManagerService::builder().with_credentials(credentials()?);
        if let Some(endpoint) = &options.endpoint {
            config = config.with_endpoint(endpoint.clone());
            storage = storage.with_endpoint(endpoint.clone());
            projects = projects.with_endpoint(endpoint.clone());
            secrets = secrets.with_endpoint(endpoint.clone());
        }
        Ok(Gcp {
            config: config
                .build()
                .await
                .map_err(|e| failed("Infrastructure Manager", &e))?,
            storage: storage
                .build()
                .await
                .map_err(|e| failed("Cloud Storage", &e))?,
            projects: projects
                .build()
                .await
                .map_err(|e| failed("Resource Manager", &e))?,
            secrets: secrets
                .build()
                .await
                .map_err(|e| failed("Secret Manager", &e))?,
            project,
            location,
            bucket,
            service_account: options.service_account.clone(),
            labels: std::sync::OnceLock::new(),
            uploaded: std::sync::Mutex::new(std::collections::BTreeSet::new()),
        })
    }

    /// The service account deployments run as, as the API names it.
    pub fn service_account_name(&self) -> Option<String> {
        let sa = self.service_account.as_ref()?;
        Some(if sa.starts_with("projects/") {
            sa.clone()
        } else {
            format!("projects/{}/serviceAccounts/{sa}", self.project)
        })
    }

    fn parent(&self) -> String {
        format!("projects/{}/locations/{}", self.project, self.location)
    }

    pub fn deployment_name(&self, layer: &str) -> String {
        format!("{}/deployments/{layer}", self.parent())
    }

    /// The Secret Manager version a `secret(NAME)` reference reads:
    /// `projects/P/secrets/S[/versions/V]` as written (latest version by
    /// default), else secret NAME of the deployments' project with the
    /// characters Secret Manager ids do not allow replaced by `-`
    /// (`store/newrelic-license` → `store-newrelic-license`).
    pub fn secret_version(&self, name: &str) -> String {
        let id = crate::emit::gcp::secret_id(name);
        if !id.starts_with("projects/") {
            format!("projects/{}/secrets/{id}/versions/latest", self.project)
        } else if id.contains("/versions/") {
            id
        } else {
            format!("{id}/versions/latest")
        }
    }

    /// A secret's value from Secret Manager, and the version read (what
    /// state records instead of the value). The value is never part of an
    /// error.
    pub async fn secret_value(
        &self,
        name: &str,
    ) -> Result<super::kubernetes::SecretValue, Diagnostic> {
        let version = self.secret_version(name);
        let out = self
            .secrets
            .access_secret_version()
            .set_name(&version)
            .send()
            .await
            .map_err(|e| {
                let mut d = gcp_error(&format!("secret `{name}` cannot be read ({version})"), &e);
                d.code = codes::SECRET_UNAVAILABLE;
                d.with_help("Create it in Secret Manager, and allow secretmanager.versions.access on it to the credentials rel runs with.")
            })?;
        let data = out.payload.map(|p| p.data.to_vec()).unwrap_or_default();
        let value = String::from_utf8(data).map_err(|_| {
            Diagnostic::error(
                codes::SECRET_UNAVAILABLE,
                format!("secret `{name}` is not text"),
            )
        })?;
        Ok(super::kubernetes::SecretValue {
            value,
            version: if out.name.is_empty() {
                version
            } else {
                out.name
            },
        })
    }

    /// The project must exist and be active; its labels are returned (and
    /// recorded).
    pub async fn check_project(&self) -> Result<BTreeMap<String, String>, Diagnostic> {
        let project = self
            .projects
            .get_project()
            .set_name(format!("projects/{}", self.project))
            .send()
            .await
            .map_err(|e| {
                let mut d = gcp_error(&format!("project `{}` cannot be read", self.project), &e);
                d = d.with_help("Check the project id and that the credentials may read it (resourcemanager.projects.get).");
                d
            })?;
        let state = project.state.name().unwrap_or("UNKNOWN");
        if state != "ACTIVE" {
            return Err(Diagnostic::error(
                codes::PROVIDER_ERROR,
                format!("project `{}` is {state}, not ACTIVE", self.project),
            ));
        }
        let labels: BTreeMap<String, String> = project.labels.into_iter().collect();
        let _ = self.labels.set(labels.clone());
        Ok(labels)
    }

    /// The project as checked, for the states of its deployments.
    pub fn project_record(&self) -> Option<crate::state::ProjectRecord> {
        Some(crate::state::ProjectRecord {
            id: self.project.clone(),
            labels: self.labels.get()?.clone(),
        })
    }

    /// The deployment of a layer as it is: state, outputs of its latest
    /// revision, and the blueprint that revision applied (parsed).
    pub async fn refresh(&self, layer: &str) -> Result<Option<LiveStack>, Diagnostic> {
        let name = self.deployment_name(layer);
        let deployment = match self.config.get_deployment().set_name(&name).send().await {
            Ok(d) => d,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(gcp_error(&format!("reading deployment `{layer}`"), &e)),
        };
        let mut status = deployment
            .state
            .name()
            .unwrap_or("STATE_UNSPECIFIED")
            .to_string();
        if status == "DELETED" {
            return Ok(None);
        }
        if deployment.lock_state.name() == Some("LOCKED") {
            status = "LOCKED".into();
        }
        let mut outputs = BTreeMap::new();
        let mut template = None;
        if !deployment.latest_revision.is_empty() {
            let revision = self
                .config
                .get_revision()
                .set_name(&deployment.latest_revision)
                .send()
                .await
                .map_err(|e| gcp_error(&format!("reading the latest revision of `{layer}`"), &e))?;
            // Outputs are those of the last revision that applied (a failed
            // one has none).
            let applied = self.last_applied(&revision).await?;
            for (k, o) in applied
                .iter()
                .flat_map(|r| r.apply_results.iter())
                .flat_map(|r| &r.outputs)
            {
                // A sensitive output's value is never read into rel.
                if o.sensitive {
                    continue;
                }
                let text = match o.value.clone().unwrap_or(J::Null) {
                    J::String(s) => s,
                    J::Null => continue,
                    other => other.to_string(),
                };
                outputs.insert(k.clone(), text);
            }
            if let Some(source) = revision.terraform_blueprint().and_then(|b| b.gcs_source())
                && let Some(text) = self.download(source).await?
                && let Ok(blueprint) = serde_json::from_str::<J>(&text)
            {
                let mut t = plan_template(&blueprint, &labels_of(&deployment));
                let inputs: BTreeMap<String, String> = revision
                    .terraform_blueprint()
                    .map(|b| {
                        b.input_values
                            .iter()
                            .map(|(k, v)| (k.clone(), value_text(v.input_value.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                with_settings(&mut t, &inputs, deployment.service_account.as_deref());
                template = Some(t);
            }
        }
        Ok(Some(LiveStack {
            stack_id: name,
            status,
            template,
            outputs,
            physical_ids: BTreeMap::new(),
            tags: gcp_tags(&labels_of(&deployment)),
        }))
    }

    /// A blueprint folder's `main.tf.json`, if it can be read.
    async fn download(&self, source: &str) -> Result<Option<String>, Diagnostic> {
        let Some((bucket, prefix)) = gcs_location(source) else {
            return Ok(None);
        };
        let object = format!("{prefix}/main.tf.json");
        let mut read = match self
            .storage
            .read_object(format!("projects/_/buckets/{bucket}"), &object)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(gcp_error(&format!("reading gs://{bucket}/{object}"), &e)),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = read.next().await {
            let chunk =
                chunk.map_err(|e| gcp_error(&format!("reading gs://{bucket}/{object}"), &e))?;
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(bytes).ok())
    }

    /// Uploads a layer's blueprint, content-addressed, once per run; its
    /// folder URI.
    pub async fn upload(
        &self,
        layer: &str,
        sha256: &str,
        text: &str,
    ) -> Result<String, Diagnostic> {
        let (bucket, prefix) = self.bucket.clone().ok_or_else(|| {
            Diagnostic::error(
                codes::BACKEND_INVALID,
                "Infrastructure Manager reads blueprints from Cloud Storage, and no bucket is given",
            )
            .with_help("Pass --blueprint-bucket gs://BUCKET/PREFIX (or set REL_BLUEPRINT_BUCKET).")
        })?;
        let folder = if prefix.is_empty() {
            format!("{layer}/{sha256}")
        } else {
            format!("{prefix}/{layer}/{sha256}")
        };
        let uri = format!("gs://{bucket}/{folder}");
        if self
            .uploaded
            .lock()
            .map(|u| u.contains(&uri))
            .unwrap_or(false)
        {
            return Ok(uri);
        }
        self.storage
            .write_object(
                format!("projects/_/buckets/{bucket}"),
                format!("{folder}/main.tf.json"),
                text.to_string(),
            )
            .send_buffered()
            .await
            .map_err(|e| gcp_error(&format!("uploading the blueprint of `{layer}`"), &e))?;
        if let Ok(mut u) = self.uploaded.lock() {
            u.insert(uri.clone());
        }
        Ok(uri)
    }

    /// Creates or updates a layer's deployment and waits for it; returns the
    /// deployment's state.
    pub async fn apply(
        &self,
        change: &LayerChange<'_>,
        timeout: Duration,
        step: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<String, Diagnostic> {
        let LayerChange {
            layer,
            blueprint,
            sha256,
            metadata,
            inputs,
            exists,
        } = *change;
        let service_account = self.service_account_name().ok_or_else(|| {
            missing(
                "service account for Infrastructure Manager",
                "--gcp-service-account EMAIL (the account Terraform runs as)",
            )
        })?;
        step("uploading the blueprint");
        let source = self.upload(layer, sha256, blueprint).await?;
        let labels: BTreeMap<String, String> = metadata
            .get("labels")
            .and_then(J::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let variables: Vec<(String, TerraformVariable)> = inputs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    TerraformVariable::new().set_input_value(J::String(v.clone())),
                )
            })
            .collect();
        let deployment = Deployment::new()
            .set_name(self.deployment_name(layer))
            .set_labels(labels)
            .set_service_account(service_account)
            .set_terraform_blueprint(
                TerraformBlueprint::new()
                    .set_gcs_source(source)
                    .set_input_values(variables),
            );
        let operation = async {
            if exists {
                step("updating the deployment");
                // Only what rel manages: settings made elsewhere (worker
                // pool, Terraform version, annotations) stay.
                self.config
                    .update_deployment()
                    .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths([
                        "labels",
                        "service_account",
                        "terraform_blueprint",
                    ]))
                    .set_deployment(deployment)
                    .poller()
                    .until_done()
                    .await
            } else {
                step("creating the deployment");
                self.config
                    .create_deployment()
                    .set_parent(self.parent())
                    .set_deployment_id(layer)
                    .set_deployment(deployment)
                    .poller()
                    .until_done()
                    .await
            }
        };
        let done = match tokio::time::timeout(timeout, operation).await {
            Err(_) => {
                return Err(Diagnostic::error(
                    codes::STACK_FAILED,
                    format!(
                        "deployment `{layer}` did not finish within {}s",
                        timeout.as_secs()
                    ),
                )
                .with_help(
                    "It goes on in Infrastructure Manager; run apply again to record how it ended.",
                ));
            }
            Ok(r) => r,
        };
        let failed = |first: String, reasons: Vec<String>| {
            let mut all = vec![first];
            all.extend(reasons);
            Diagnostic::error(codes::STACK_FAILED, all.join("; "))
        };
        match done {
            Ok(d) if d.state.name() == Some("ACTIVE") => Ok("ACTIVE".into()),
            Ok(d) => Err(failed(
                format!(
                    "deployment `{layer}` ended {}",
                    d.state.name().unwrap_or("STATE_UNSPECIFIED")
                ),
                self.failure_reasons(layer).await,
            )),
            Err(e) => Err(failed(
                gcp_error(&format!("deployment `{layer}` failed"), &e).message,
                self.failure_reasons(layer).await,
            )),
        }
    }

    /// What the service says went wrong with a layer's deployment: its
    /// latest revision's state detail, Terraform errors and logs (apply),
    /// and the deployment's own (delete).
    pub async fn failure_reasons(&self, layer: &str) -> Vec<String> {
        let Ok(d) = self
            .config
            .get_deployment()
            .set_name(self.deployment_name(layer))
            .send()
            .await
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !d.latest_revision.is_empty()
            && let Ok(r) = self
                .config
                .get_revision()
                .set_name(&d.latest_revision)
                .send()
                .await
            && r.state.name() == Some("FAILED")
        {
            if !r.state_detail.is_empty() {
                out.push(r.state_detail.clone());
            }
            for e in &r.tf_errors {
                out.push(format!("{}: {}", e.resource_address, e.error_description));
            }
            if !r.error_logs.is_empty() {
                out.push(format!("logs: {}", r.error_logs));
            }
        }
        if !d.state_detail.is_empty() {
            out.push(d.state_detail.clone());
        }
        for e in &d.tf_errors {
            out.push(format!("{}: {}", e.resource_address, e.error_description));
        }
        out.iter().map(|t| crate::state::scrub(t)).collect()
    }

    /// The latest revision that applied, going back from `latest` (at most
    /// ten revisions): where a deployment's outputs are.
    async fn last_applied(
        &self,
        latest: &google_cloud_config_v1::model::Revision,
    ) -> Result<Option<google_cloud_config_v1::model::Revision>, Diagnostic> {
        if latest.state.name() == Some("APPLIED") {
            return Ok(Some(latest.clone()));
        }
        let Some((base, number)) = latest
            .name
            .rsplit_once("/revisions/r-")
            .and_then(|(b, n)| Some((b, n.parse::<u64>().ok()?)))
        else {
            return Ok(None);
        };
        for n in (number.saturating_sub(10)..number).rev().filter(|n| *n > 0) {
            match self
                .config
                .get_revision()
                .set_name(format!("{base}/revisions/r-{n}"))
                .send()
                .await
            {
                Ok(r) if r.state.name() == Some("APPLIED") => return Ok(Some(r)),
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(gcp_error("reading an earlier revision", &e)),
            }
        }
        Ok(None)
    }

    /// Deletes a layer's deployment (and what it created) and waits.
    pub async fn delete(&self, layer: &str, timeout: Duration) -> Result<(), Diagnostic> {
        let operation = self
            .config
            .delete_deployment()
            .set_name(self.deployment_name(layer))
            .set_force(true)
            .poller()
            .until_done();
        match tokio::time::timeout(timeout, operation).await {
            Err(_) => Err(Diagnostic::error(
                codes::STACK_FAILED,
                format!(
                    "deleting deployment `{layer}` did not finish within {}s",
                    timeout.as_secs()
                ),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if not_found(&e) => Ok(()),
            Ok(Err(e)) => {
                let mut all =
                    vec![gcp_error(&format!("deleting deployment `{layer}`"), &e).message];
                all.extend(self.failure_reasons(layer).await);
                Err(Diagnostic::error(codes::STACK_FAILED, all.join("; ")))
            }
        }
    }
}

fn value_text(v: Option<J>) -> String {
    match v.unwrap_or(J::Null) {
        J::String(s) => s,
        other => other.to_string(),
    }
}

/// Adds a deployment's input values and service account to its planned
/// shape, so that a change to either is a change of the deployment.
pub fn with_settings(
    template: &mut J,
    inputs: &BTreeMap<String, String>,
    service_account: Option<&str>,
) {
    if let J::Object(m) = template {
        if !inputs.is_empty() {
            m.insert(
                "Inputs".into(),
                serde_json::to_value(inputs).unwrap_or(J::Null),
            );
        }
        if let Some(sa) = service_account.filter(|s| !s.is_empty()) {
            m.insert("ServiceAccount".into(), J::String(sa.to_string()));
        }
    }
}

fn labels_of(d: &Deployment) -> BTreeMap<String, String> {
    d.labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A Terraform JSON blueprint in the shape plans compare: each resource
/// (`TYPE.NAME`) and data source (`data.TYPE.NAME`) as
/// `{"Type", "Properties"}` under `Resources`; outputs, variables and the
/// deployment's labels beside them.
pub fn plan_template(blueprint: &J, labels: &BTreeMap<String, String>) -> J {
    let mut resources = serde_json::Map::new();
    for (block, prefix) in [("resource", ""), ("data", "data.")] {
        for (type_name, named) in blueprint
            .get(block)
            .and_then(J::as_object)
            .into_iter()
            .flatten()
        {
            for (name, properties) in named.as_object().into_iter().flatten() {
                resources.insert(
                    format!("{prefix}{type_name}.{name}"),
                    serde_json::json!({ "Type": format!("{prefix}{type_name}"), "Properties": properties }),
                );
            }
        }
    }
    let mut top = serde_json::Map::new();
    top.insert("Resources".into(), J::Object(resources));
    for (key, name) in [("output", "Outputs"), ("variable", "Variables")] {
        if let Some(v) = blueprint.get(key) {
            top.insert(name.into(), v.clone());
        }
    }
    if !labels.is_empty() {
        top.insert(
            "Labels".into(),
            serde_json::to_value(labels).unwrap_or(J::Null),
        );
    }
    J::Object(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blueprints_are_planned_by_resource() {
        let blueprint = serde_json::json!({
            "resource": {"google_storage_bucket": {"logs": {"name": "l"}}},
            "data": {"google_secret_manager_secret_version": {"pw": {"secret": "s"}}},
            "output": {"o": {"value": "${google_storage_bucket.logs.url}"}}
        });
        let labels = BTreeMap::from([("managed-by".to_string(), "rel".to_string())]);
        let t = plan_template(&blueprint, &labels);
        assert_eq!(
            t["Resources"]["google_storage_bucket.logs"]["Type"],
            "google_storage_bucket"
        );
        assert_eq!(
            t["Resources"]["data.google_secret_manager_secret_version.pw"]["Properties"]["secret"],
            "s"
        );
        assert_eq!(
            t["Outputs"]["o"]["value"],
            "${google_storage_bucket.logs.url}"
        );
        assert_eq!(t["Labels"]["managed-by"], "rel");
    }

    #[test]
    fn bucket_locations() {
        assert_eq!(
            gcs_location("gs://b/p/q/"),
            Some(("b".into(), "p/q".into()))
        );
        assert_eq!(gcs_location("gs://b"), Some(("b".into(), String::new())));
        assert_eq!(gcs_location("s3://b"), None);
    }
}

/// A deployment's labels under the stack tag keys `ownership` reads.
fn gcp_tags(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    use crate::identity::*;
    let mut tags = BTreeMap::new();
    for (label, tag) in [
        (GCP_PROJECT_LABEL, TAG_PROJECT),
        (GCP_APP_LABEL, TAG_APP),
        (GCP_ENVIRONMENT_LABEL, TAG_ENVIRONMENT),
        (GCP_LINEAGE_LABEL, TAG_LINEAGE),
        ("managed-by", TAG_MANAGED),
    ] {
        if let Some(v) = labels.get(label) {
            tags.insert(tag.to_string(), v.clone());
        }
    }
    tags
}
