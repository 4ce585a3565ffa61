//! `rel plan`, `apply` and `destroy` with `--target gcp`: the binary with
//! Google's Rust clients against the loopback stand-in of Infrastructure
//! Manager, Cloud Storage and Resource Manager (Application Default
//! Credentials through its token endpoint), and the Kubernetes stand-in
//! for the environment's objects.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;
use support::{GcpStandin, KubeStandin, Run, assert_schema_valid};

const PROJECT_TEXT: &str = r#"project "shop"
param branch: string = "main"
param tag: string = "1"
param data_class: string = "STANDARD"

resource logs "gcp:google_storage_bucket" {
  project  = "acme-shop-prod"
  name     = "rel-shared-logs"
  location = "EU"
}

app store {
  hostname = "${service}-${env}.example.com"
  env      = { DATA_BUCKET = data.url, LOGS = logs.name }

  service web {
    image = "registry.example.com/web:${tag}"
    port  = 8080
  }

  resource data "gcp:google_storage_bucket" {
    project       = "acme-shop-prod"
    name          = "rel-${env}-data"
    location      = "EU"
    storage_class = data_class
  }
}

environment "pr-${branch}" from store {
  tier = "preprod"
}
"#;

struct Project {
    gcp: GcpStandin,
    kube: KubeStandin,
    /// Where state, kubeconfig and credentials go.
    dir: PathBuf,
    /// The `.rel` sources and the environment.
    source: PathBuf,
    env: String,
}

impl Project {
    fn new(name: &str) -> Project {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("gcp")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("main.rel"), PROJECT_TEXT).unwrap();
        Project {
            gcp: GcpStandin::start(),
            kube: KubeStandin::start(),
            source: dir.clone(),
            env: "pr-main".into(),
            dir,
        }
    }

    fn rel(&self, verb: &str, extra: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rel"));
        // Defaults a test can override.
        let default = |flag: &'static str, value: &'static str| {
            if extra.contains(&flag) {
                Vec::new()
            } else {
                vec![flag, value]
            }
        };
        let project = default("--gcp-project", "acme-shop-prod");
        let account = default(
            "--gcp-service-account",
            "rel-deployer@acme-shop-prod.iam.gserviceaccount.com",
        );
        c.args([
            verb,
            self.source.to_str().unwrap(),
            "--env",
            &self.env,
            "--target",
            "gcp",
        ])
        .args(["--state", self.dir.join(".rel/state").to_str().unwrap()])
        .args(project)
        .args(["--gcp-location", "europe-west1"])
        .args(account)
        .args(default("--blueprint-bucket", "gs://acme-blueprints/rel"))
        .args(["--gcp-endpoint", &self.gcp.endpoint()])
        .args([
            "--kubeconfig",
            self.kube.kubeconfig(&self.dir).to_str().unwrap(),
        ])
        .args(["--timeout", "60"])
        .args(extra)
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            self.gcp.credentials(&self.dir),
        )
        .env("NO_COLOR", "1")
        .env_remove("GOOGLE_CLOUD_PROJECT")
        .env_remove("REL_STATE")
        .stdin(Stdio::null());
        Run::of(c.output().expect("rel runs"))
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn deployments_are_created_planned_updated_and_destroyed() {
    let p = Project::new("lifecycle");
    let plan = p.rel("plan", &["--json"]).expect(2);
    let v = json(&plan);
    assert_schema_valid(&plan.stdout, "plan.v1.json");
    assert_eq!(v["target"], "gcp");
    let stacks: Vec<(&str, &str)> = v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stacks,
        [
            ("rel-shop-shared", "create"),
            ("rel-shop-store-pr-main", "create")
        ]
    );
    assert_eq!(
        v["stacks"][1]["changes"][0]["address"],
        "env:pr-main/app.store/resource.data"
    );
    assert_eq!(
        v["stacks"][1]["changes"][0]["type"],
        "google_storage_bucket"
    );

    let applied = p.rel("apply", &["--auto-approve"]).expect(0);
    // The shared deployment first, then the environment's, then the cluster.
    let at = |what: &str| {
        applied
            .stderr
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {}", applied.stderr))
    };
    assert!(
        at("rel-shop-shared: creating the deployment")
            < at("rel-shop-store-pr-main: creating the deployment")
    );
    assert!(at("rel-shop-store-pr-main: ACTIVE") < at("kubernetes/shop-store-pr-main: applying"));
    let dump = p.gcp.dump();
    let env = &dump["deployments"]["projects/acme-shop-prod/locations/europe-west1/deployments/rel-shop-store-pr-main"];
    assert_eq!(env["state"], "ACTIVE", "{dump:#}");
    assert_eq!(env["labels"]["managed-by"], "rel");
    assert_eq!(
        env["serviceAccount"],
        "projects/acme-shop-prod/serviceAccounts/rel-deployer@acme-shop-prod.iam.gserviceaccount.com"
    );
    let source = env["terraformBlueprint"]["gcsSource"].as_str().unwrap();
    assert!(
        source.starts_with("gs://acme-blueprints/rel/rel-shop-store-pr-main/"),
        "{source}"
    );
    // The deployments' outputs reached the manifests.
    let web = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    let env_vars = web["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    let value = |name: &str| {
        env_vars
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("DATA_BUCKET"), "rel-shop-store-pr-main-data_url");
    assert_eq!(value("LOGS"), "rel-shop-shared-logs_name");

    // Read back from the service: nothing to do.
    p.rel("plan", &[]).expect(0);

    // A setting made outside rel, which an update must keep.
    let env_name =
        "projects/acme-shop-prod/locations/europe-west1/deployments/rel-shop-store-pr-main";
    p.gcp.request(
        "POST",
        "/_standin/set",
        &serde_json::json!({"name": env_name, "fields": {"workerPool": "projects/acme-shop-prod/locations/europe-west1/workerPools/private"}}),
    );
    // A changed property: one field, one deployment updated, a new revision.
    let plan = p
        .rel("plan", &["--json", "--set", "data_class=NEARLINE"])
        .expect(2);
    let v = json(&plan);
    assert_eq!(v["stacks"][0]["action"], "no-op");
    let env_plan = &v["stacks"][1];
    assert_eq!(env_plan["action"], "update");
    let fields = env_plan["changes"][0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{v:#}");
    assert_eq!(fields[0]["path"], "Properties.storage_class");
    assert_eq!(fields[0]["before"], "STANDARD");
    assert_eq!(fields[0]["after"], "NEARLINE");
    p.rel("apply", &["--auto-approve", "--set", "data_class=NEARLINE"])
        .expect(0);
    let dump = p.gcp.dump();
    let env = &dump["deployments"]["projects/acme-shop-prod/locations/europe-west1/deployments/rel-shop-store-pr-main"];
    assert!(
        env["latestRevision"]
            .as_str()
            .unwrap()
            .ends_with("/revisions/r-2"),
        "{env:#}"
    );
    assert_eq!(
        env["workerPool"], "projects/acme-shop-prod/locations/europe-west1/workerPools/private",
        "{env:#}"
    );
    p.rel("plan", &["--set", "data_class=NEARLINE"]).expect(0);
    // The account Terraform runs as is part of the deployment.
    let moved = p
        .rel(
            "plan",
            &[
                "--json",
                "--set",
                "data_class=NEARLINE",
                "--gcp-service-account",
                "other@acme-shop-prod.iam.gserviceaccount.com",
            ],
        )
        .expect(2);
    let v = json(&moved);
    let field = &v["stacks"][1]["template_changes"][0];
    assert_eq!(field["path"], "ServiceAccount", "{v:#}");
    assert_eq!(
        field["after"],
        "projects/acme-shop-prod/serviceAccounts/other@acme-shop-prod.iam.gserviceaccount.com"
    );

    // The state records what was deployed, with the project's checks passed.
    let state =
        std::fs::read_to_string(p.dir.join(".rel/state/rel-shop-store-pr-main.json")).unwrap();
    assert_schema_valid(&state, "state.v2.json");
    let state = rel::state::State::from_json(&state).unwrap();
    assert!(state.kubernetes.is_some());
    let stack = state.stack.unwrap();
    assert_eq!(stack.status, "ACTIVE");
    assert_eq!(stack.outputs["data_url"], "rel-shop-store-pr-main-data_url");
    let project = state.project.unwrap();
    assert_eq!(project.id, "acme-shop-prod");
    assert_eq!(project.labels["team"], "platform");

    // Destroy: the objects, then the environment's deployment.
    let destroyed = p
        .rel("destroy", &["--auto-approve", "--include-shared"])
        .expect(0);
    assert!(
        destroyed
            .stderr
            .contains("kubernetes/shop-store-pr-main: deleting"),
        "{}",
        destroyed.stderr
    );
    let dump = p.gcp.dump();
    assert_eq!(dump["deployments"], serde_json::json!({}), "{dump:#}");
    assert!(p.kube.objects().is_empty());
}

#[test]
fn a_failed_deployment_reports_the_service_errors_and_stops_the_cluster_stage() {
    let p = Project::new("failed");
    let (code, _) = p.gcp.request(
        "POST",
        "/_standin/fail",
        &serde_json::json!({"text": "rel-pr-main-data"}),
    );
    assert_eq!(code, 200);
    let failed = p.rel("apply", &["--auto-approve"]).expect(1);
    let err = &failed.stderr;
    assert!(err.contains("E0506"), "{err}");
    assert!(err.contains("google_storage_bucket.data"), "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(
        err.contains("kubernetes/shop-store-pr-main") && err.contains("not started"),
        "{err}"
    );
    assert!(p.kube.objects().is_empty());
    // The failed deployment is recorded as it is; once the cause is gone,
    // apply updates it.
    let state =
        std::fs::read_to_string(p.dir.join(".rel/state/rel-shop-store-pr-main.json")).unwrap();
    assert!(state.contains("\"FAILED\""), "{state}");
    p.gcp
        .request("POST", "/_standin/fail", &serde_json::json!({}));
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.rel("plan", &[]).expect(0);
}

#[test]
fn a_missing_blueprint_bucket_stops_before_any_deployment_changes() {
    let p = Project::new("bucket");
    let failed = p
        .rel(
            "apply",
            &[
                "--auto-approve",
                "--blueprint-bucket",
                "gs://no-such-bucket/rel",
            ],
        )
        .expect(1);
    assert!(
        failed.stderr.contains("uploading the blueprint"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("bucket does not exist"),
        "{}",
        failed.stderr
    );
    assert_eq!(p.gcp.dump()["deployments"], serde_json::json!({}));
    assert!(p.kube.objects().is_empty());
}

#[test]
fn a_project_that_cannot_be_read_stops_before_anything_changes() {
    let p = Project::new("project");
    let failed = p
        .rel("plan", &["--gcp-project", "no-such-project"])
        .expect(1);
    assert!(
        failed.stderr.contains("no-such-project"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("PERMISSION_DENIED"),
        "{}",
        failed.stderr
    );
    assert_eq!(p.gcp.dump()["deployments"], serde_json::json!({}));
}

#[test]
fn the_gcp_example_is_applied_across_deployments_and_cluster_and_destroyed() {
    let mut p = Project::new("example");
    p.source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gcp");
    p.env = "staging".into();
    // The secret the monitoring agent's Secret is filled from, in Secret Manager.
    let license = "nr-license-61d0e2";
    let (code, _) = p.gcp.request(
        "POST",
        "/_standin/secret",
        &serde_json::json!({"project": "acme-shop-prod", "secret": "store-newrelic-license", "value": license}),
    );
    assert_eq!(code, 200);
    let plan = p.rel("plan", &["--json"]).expect(2);
    let v = json(&plan);
    assert!(v["summary"]["create"].as_u64().unwrap() > 30, "{v:#}");
    let applied = p.rel("apply", &["--auto-approve"]).expect(0);
    let dump = p.gcp.dump();
    let env = &dump["deployments"]["projects/acme-shop-prod/locations/europe-west1/deployments/rel-acme-store-staging"];
    assert_eq!(env["state"], "ACTIVE", "{dump:#}");
    // The environment's deployment got the shared deployment's outputs as inputs.
    assert_eq!(
        env["terraformBlueprint"]["inputValues"]["cluster_main_repository_name"]["inputValue"],
        "rel-acme-shared-cluster_main_repository_name"
    );
    // Outputs reached the manifests: the database's address and names in
    // DATABASE_URL, the pods' Google service account on the ServiceAccount.
    let shoes = p
        .kube
        .object("Deployment", "acme-store-staging", "shoes")
        .expect("shoes applied");
    let env_vars = shoes["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    let url = env_vars
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "DATABASE_URL")
        .unwrap()["value"]
        .clone();
    assert_eq!(
        url,
        "postgres://rel-acme-store-staging-database_db_login_name@rel-acme-store-staging-database_db_instance_public_ip_address:5432/rel-acme-store-staging-database_db_db_name?sslmode=require"
    );
    let text = serde_json::to_string(&p.kube.objects()).unwrap();
    assert!(!text.contains("${rel"), "{text}");
    let account = p
        .kube
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .expect("a ServiceAccount");
    assert!(
        account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
            .as_str()
            .unwrap()
            .starts_with("rel-acme-store-staging-"),
        "{account}"
    );
    // The license reached the cluster, and nothing else.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(license);
    assert!(text.contains(&encoded), "{text}");
    let again = p.rel("plan", &[]).expect(0);
    let mut seen = applied.stdout + &applied.stderr + &again.stdout + &again.stderr;
    for f in std::fs::read_dir(p.dir.join(".rel/state")).unwrap() {
        seen.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
    }
    assert!(!seen.contains(license) && !seen.contains(&encoded));
    // A new version of the secret is a change (of a value never shown).
    p.gcp.request(
        "POST",
        "/_standin/secret",
        &serde_json::json!({"project": "acme-shop-prod", "secret": "store-newrelic-license", "value": "nr-license-rotated"}),
    );
    let rotated = p.rel("plan", &[]).expect(2);
    assert!(
        rotated.stdout.contains("(sensitive, changed)"),
        "{}",
        rotated.stdout
    );
    assert!(!rotated.stdout.contains("nr-license-rotated"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.rel("destroy", &["--auto-approve", "--include-shared"])
        .expect(0);
    assert_eq!(p.gcp.dump()["deployments"], serde_json::json!({}));
    assert!(p.kube.objects().is_empty());
}

#[test]
fn drift_compares_the_latest_revision_and_the_project_labels() {
    let p = Project::new("drift");
    p.rel("apply", &["--auto-approve"]).expect(0);
    let clean = p.rel("drift", &["--format", "json"]).expect(0);
    assert_schema_valid(&clean.stdout, "drift.v1.json");
    let v = json(&clean);
    assert_eq!(v["drifted"], false);
    let env = &v["environments"][0];
    assert_eq!(env["target"], "gcp");
    let part = |v: &serde_json::Value, name: &str| {
        v["environments"][0]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no part {name}: {v:#}"))
            .clone()
    };
    // Infrastructure Manager has no property-level drift detection: the
    // buckets are not checked, and say why.
    let deployment = part(&v, "rel-shop-store-pr-main");
    assert_eq!(deployment["kind"], "deployment");
    assert_eq!(deployment["summary"]["not_checked"], 1);
    let bucket = &deployment["findings"][0];
    assert_eq!(
        bucket["resource"], "google_storage_bucket.data",
        "{bucket:#}"
    );
    assert!(
        bucket["reason"]
            .as_str()
            .unwrap()
            .contains("no property-level drift detection"),
        "{bucket:#}"
    );
    let objects = part(&v, "kubernetes/shop-store-pr-main");
    assert_eq!(
        objects["summary"]["in_sync"],
        objects["summary"]["resources"]
    );

    // The project relabelled and the deployment's service account changed
    // outside rel.
    p.gcp.request(
        "POST",
        "/_standin/project",
        &serde_json::json!({"id": "acme-shop-prod", "labels": {"team": "data"}}),
    );
    p.gcp.request(
        "POST",
        "/_standin/set",
        &serde_json::json!({
            "name": "projects/acme-shop-prod/locations/europe-west1/deployments/rel-shop-store-pr-main",
            "fields": {"serviceAccount": "projects/acme-shop-prod/serviceAccounts/someone@acme-shop-prod.iam.gserviceaccount.com"}
        }),
    );
    let drifted = p.rel("drift", &["--format", "json"]).expect(2);
    assert_schema_valid(&drifted.stdout, "drift.v1.json");
    let v = json(&drifted);
    let paths = |name: &str| -> Vec<String> {
        let itself = part(&v, name)["itself"].clone();
        assert_eq!(itself["class"], "modified", "{itself:#}");
        itself["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap().to_string())
            .collect()
    };
    // The project's labels once, with the first deployment; the service
    // account with the deployment it belongs to.
    assert_eq!(paths("rel-shop-shared"), ["project.labels.team"]);
    assert_eq!(paths("rel-shop-store-pr-main"), ["ServiceAccount"]);
    let text = p.rel("drift", &[]).expect(2).stdout;
    assert!(text.contains("project.labels.team"), "{text}");
}
