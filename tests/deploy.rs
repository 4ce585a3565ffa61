//! `rel plan`, `apply` and `destroy` end to end: the binary against a moto
//! server on loopback (a real AWS API endpoint speaking CloudFormation and
//! S3 to the AWS SDK), with state in a local folder or in S3.
//!
//! moto updates in place only S3 buckets, IAM roles, ECR repositories and
//! Route 53 record sets, so the templates here use those.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

mod support;
use support::project::{CANARY, Project, template};
use support::{Moto, Run, assert_schema_valid, boto, boto_output, flat};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Waits until `ready` holds (polled often), or fails after a minute.
#[track_caller]
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

#[test]
fn create_then_plan_again_shows_no_changes() {
    let p = Project::new("create", &template(&["web"], "store/db-password"));
    let first = p.rel("plan", &[]).expect(2);
    // 3 cloud resources and 4 objects (namespace, service, deployment, ingress).
    assert!(first.stdout.contains("7 to create"), "{}", first.stdout);
    assert!(
        flat(&first.stdout).contains("kubernetes/shop-store-pr-main create 4 to create"),
        "{}",
        first.stdout
    );
    let applied = p.rel("apply", &["--auto-approve"]).expect(0);
    assert!(
        applied.stderr.contains("apply complete: 7 created"),
        "{}",
        applied.stderr
    );
    let deployment = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .expect("applied");
    assert_eq!(
        deployment["metadata"]["managedFields"][0]["manager"], "rel",
        "{deployment}"
    );
    assert_eq!(
        p.stacks(),
        vec![
            ("rel-shop-shared".to_string(), "CREATE_COMPLETE".to_string()),
            (
                "rel-shop-store-pr-main".to_string(),
                "CREATE_COMPLETE".to_string()
            )
        ]
    );
    let again = p.rel("plan", &[]).expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    let again = p.rel("plan", &["--json"]).expect(0);
    assert_schema_valid(&again.stdout, "plan.v1.json");
    for f in ["rel-shop-shared.json", "rel-shop-store-pr-main.json"] {
        let text = std::fs::read_to_string(p.state_dir().join(f)).unwrap();
        assert_schema_valid(&text, "state.v2.json");
        let state = rel::state::State::from_json(&text).unwrap();
        assert!(state.in_flight.is_none());
        assert!(
            state
                .stack
                .unwrap()
                .stack_id
                .starts_with("arn:aws:cloudformation:")
        );
    }
    // The outputs and state commands read what was recorded.
    let state_list = p
        .command(&["state", "list", p.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&state_list.stdout);
    assert!(
        listed.contains("rel-shop-store-pr-main") && listed.contains("CREATE_COMPLETE"),
        "{listed}"
    );
    // From state alone (no provider), still no changes.
    p.rel("plan", &["--refresh=false"]).expect(0);
}

#[test]
fn a_changed_value_shows_exactly_that_field_and_is_applied() {
    let p = Project::new("update", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    let plan = p.rel("plan", &["--json", "--set", "scan=false"]).expect(2);
    assert_schema_valid(&plan.stdout, "plan.v1.json");
    let v = json(&plan);
    assert_eq!(v["summary"]["update"], 1, "{v:#}");
    assert_eq!(v["summary"]["create"], 0);
    let changes: Vec<&serde_json::Value> = v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap())
        .collect();
    assert_eq!(changes.len(), 1, "{v:#}");
    let c = changes[0];
    assert_eq!(
        c["address"],
        "env:pr-main/app.store/registry.web_repo/resource.repo"
    );
    assert_eq!(c["action"], "update");
    assert_eq!(
        c["fields"],
        serde_json::json!([{
            "path": "Properties.ImageScanningConfiguration.ScanOnPush",
            "before": true, "after": false,
            "sensitive": false, "known_after_apply": false, "forces_replacement": false
        }])
    );
    let text = p.rel("plan", &["--set", "scan=false"]).expect(2);
    assert!(
        text.stdout
            .contains("- Properties.ImageScanningConfiguration.ScanOnPush = true"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("+ Properties.ImageScanningConfiguration.ScanOnPush = false"),
        "{}",
        text.stdout
    );
    let md = p
        .rel("plan", &["--format", "markdown", "--set", "scan=false"])
        .expect(2);
    assert!(
        md.stdout
            .contains("| rel-shop-store-pr-main | update | 0 | 1 | 0 | 0 | 1 |"),
        "{}",
        md.stdout
    );

    p.rel("apply", &["--auto-approve", "--set", "scan=false"])
        .expect(0);
    assert_eq!(
        p.stacks()[1],
        ("rel-shop-store-pr-main".into(), "UPDATE_COMPLETE".into())
    );
    p.rel("plan", &["--set", "scan=false"]).expect(0);
    // The recorded value is the new one.
    let state = std::fs::read_to_string(p.state_dir().join("rel-shop-store-pr-main.json")).unwrap();
    let state = rel::state::State::from_json(&state).unwrap();
    let repo = &state.stack.unwrap().resources["RegistryWebRepoRepo"];
    assert_eq!(
        repo.values["Properties"]["ImageScanningConfiguration"]["ScanOnPush"],
        false
    );
    // A name change replaces the repository, and the plan says so first.
    let renamed =
        template(&["web"], "store/db-password").replace("store/${env}/web", "store/${env}/web2");
    p.write(&renamed);
    let plan = p.rel("plan", &["--set", "scan=false"]).expect(2);
    let pinned = plan
        .stdout
        .find("Destroyed or replaced:")
        .expect("replacements pinned");
    let detail = plan
        .stdout
        .find("rel-shop-store-pr-main (update):")
        .unwrap();
    assert!(pinned < detail, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("Properties.RepositoryName forces replacement"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_removed_service_has_its_resources_deleted() {
    let p = Project::new("remove", &template(&["web", "api"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.write(&template(&["web"], "store/db-password"));
    let plan = p.rel("plan", &["--json"]).expect(2);
    let v = json(&plan);
    // The registry, and the service's Service, Deployment and Ingress (pruned).
    assert_eq!(v["summary"]["delete"], 4, "{v:#}");
    let pruned: Vec<(&str, &str)> = v["kubernetes"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap(),
                c["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pruned,
        [
            ("Ingress shop-store-pr-main/api", "delete"),
            ("Deployment shop-store-pr-main/api", "delete"),
            ("Service shop-store-pr-main/api", "delete")
        ],
        "{v:#}"
    );
    let env = &v["stacks"][1];
    assert_eq!(
        env["changes"][0]["address"],
        "env:pr-main/app.store/registry.api_repo/resource.repo"
    );
    assert_eq!(env["changes"][0]["action"], "delete");
    assert_eq!(env["changes"][0]["physical_id"], "store/pr-main/api");
    let text = p.rel("plan", &[]).expect(2);
    assert!(text.stdout.contains("- env:pr-main/app.store/registry.api_repo/resource.repo (AWS::ECR::Repository) in rel-shop-store-pr-main"), "{}", text.stdout);
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.rel("plan", &[]).expect(0);
    let state = std::fs::read_to_string(p.state_dir().join("rel-shop-store-pr-main.json")).unwrap();
    let state = rel::state::State::from_json(&state).unwrap();
    let resources: Vec<String> = state.stack.unwrap().resources.into_keys().collect();
    assert_eq!(resources, ["RegistryWebRepoRepo", "Role"]);
    // The cluster keeps the other service's objects, and only those.
    let mut left: Vec<String> = p
        .kube
        .objects()
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "Deployment web",
            "Ingress web",
            "Namespace shop-store-pr-main",
            "Service web"
        ]
    );
    let objects: Vec<String> = state.kubernetes.unwrap().objects.into_keys().collect();
    assert_eq!(
        objects,
        [
            "apps/v1/Deployment/shop-store-pr-main/web",
            "networking.k8s.io/v1/Ingress/shop-store-pr-main/web",
            "v1/Namespace//shop-store-pr-main",
            "v1/Service/shop-store-pr-main/web"
        ]
    );
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_stale() {
    let p = Project::new("saved", &template(&["web"], "store/db-password"));
    let plan_file = p.dir.join("plan.out");
    let plan_arg = plan_file.to_str().unwrap();
    p.rel("plan", &["-o", plan_arg]).expect(2);
    // Applied as saved: no question asked, no second plan needed.
    let applied = p.rel("apply", &[plan_arg]).expect(0);
    assert!(
        applied.stderr.contains("apply complete: 7 created"),
        "{}",
        applied.stderr
    );
    // A plan saved, then the state moves on: refused, nothing changed.
    p.rel("plan", &["-o", plan_arg, "--set", "scan=false"])
        .expect(2);
    p.rel("apply", &["--auto-approve", "--set", "scan=false"])
        .expect(0);
    p.rel("apply", &["--auto-approve"]).expect(0);
    let refused = p.rel("apply", &["--set", "scan=false", plan_arg]).expect(1);
    assert!(refused.stderr.contains("E0502"), "{}", refused.stderr);
    assert!(refused.stderr.contains("stale"), "{}", refused.stderr);
    // The template changed since the plan: refused too.
    p.rel("plan", &["-o", plan_arg, "--set", "scan=false"])
        .expect(2);
    let refused = p.rel("apply", &[plan_arg]).expect(1);
    assert!(
        refused
            .stderr
            .contains("template of `rel-shop-store-pr-main` changed"),
        "{}",
        refused.stderr
    );
    // Without a plan or --auto-approve, and no terminal: refused, not hung.
    let refused = p.rel("apply", &["--set", "scan=false"]).expect(1);
    assert!(refused.stderr.contains("E0507"), "{}", refused.stderr);
    p.rel("plan", &[]).expect(0);
}

/// Starts an apply, stops it while it holds the lock, and checks that a
/// second apply fails at once naming the holder.
fn second_apply_is_refused_while_the_first_holds_the_lock(
    p: &Project,
    wait_lock: impl Fn(),
    lock_held: impl Fn() -> bool,
) {
    let mut first = p.spawn("apply", &["--auto-approve"]);
    wait_lock();
    signal(&first, libc::SIGSTOP);
    let second = p.rel("apply", &["--auto-approve"]).expect(1);
    signal(&first, libc::SIGCONT);
    assert!(second.stderr.contains("E0501"), "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("(process {})", first.id())),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("rel state unlock"),
        "{}",
        second.stderr
    );
    let status = first.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(first.stderr.as_mut().unwrap(), &mut err).unwrap();
    let err = flat(&err);
    assert!(status.success(), "{err}");
    assert!(err.contains("apply complete"), "{err}");
    // The lock is gone with its holder.
    assert!(!lock_held());
    p.rel("plan", &[]).expect(0);
}

#[test]
fn two_applies_at_once_one_proceeds_local_state() {
    let p = Project::new("lock-local", &template(&["web"], "store/db-password"));
    let lock = p.state_dir().join("rel-shop-store-pr-main.lock");
    second_apply_is_refused_while_the_first_holds_the_lock(
        &p,
        || wait_for("the first apply to take the lock", || lock.exists()),
        || lock.exists(),
    );
}

/// Creates a bucket on moto (path style).
fn create_bucket(endpoint: &str, bucket: &str) {
    boto(
        endpoint,
        "s3",
        "c.create_bucket(Bucket=sys.argv[2])",
        &[bucket],
    );
}

/// The object's body, if it exists.
fn s3_object(endpoint: &str, bucket: &str, key: &str) -> Option<String> {
    let out = boto_output(
        endpoint,
        "s3",
        "try:\n  sys.stdout.write(c.get_object(Bucket=sys.argv[2],Key=sys.argv[3])['Body'].read().decode())\nexcept c.exceptions.NoSuchKey:\n  sys.exit(3)",
        &[bucket, key],
    );
    match out.status.code() {
        Some(0) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(3) => None,
        _ => panic!("{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// Waits (polling every 2 ms through the AWS SDK, at most a minute) until
/// an object exists.
fn wait_for_s3_object(endpoint: &str, bucket: &str, key: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "t", "t", None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "no {key} within a minute");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
}

#[test]
fn two_applies_at_once_one_proceeds_s3_state() {
    let mut p = Project::new("lock-s3", &template(&["web"], "store/db-password"));
    create_bucket(&p.moto.endpoint, "rel-state");
    p.state = vec!["--state".into(), "s3://rel-state/teams/store".into()];
    let endpoint = p.moto.endpoint.clone();
    let lock = "teams/store/rel-shop-store-pr-main.lock";
    second_apply_is_refused_while_the_first_holds_the_lock(
        &p,
        || wait_for_s3_object(&endpoint, "rel-state", lock),
        || s3_object(&endpoint, "rel-state", lock).is_some(),
    );
    // The state went to S3, not to the project.
    assert!(!p.state_dir().exists());
    let state = s3_object(
        &endpoint,
        "rel-state",
        "teams/store/rel-shop-store-pr-main.json",
    )
    .expect("state in S3");
    assert_schema_valid(&state, "state.v2.json");
    let state = rel::state::State::from_json(&state).unwrap();
    assert_eq!(state.stack.unwrap().status, "CREATE_COMPLETE");
    // A write from an old read is refused (If-Match), not clobbered:
    // `state unlock` of an unknown id is an error too.
    let unlock = p
        .command(&[
            "state",
            "unlock",
            "0000",
            p.dir.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
        ])
        .output()
        .unwrap();
    assert_eq!(unlock.status.code(), Some(1));
    assert!(flat(&String::from_utf8_lossy(&unlock.stderr)).contains("E0511"));
}

#[test]
fn a_killed_apply_leaves_state_intact_and_the_next_apply_finishes() {
    let p = Project::new("kill", &template(&["web", "api"], "store/db-password"));
    let env_state = p.state_dir().join("rel-shop-store-pr-main.json");
    let shared_state = p.state_dir().join("rel-shop-shared.json");
    let in_flight = |path: &Path| {
        std::fs::read_to_string(path)
            .is_ok_and(|t| t.contains("\"in_flight\"") && t.contains("change_set_id"))
    };
    let mut first = p.spawn("apply", &["--auto-approve"]);
    wait_for("the apply to start a change set", || {
        in_flight(&env_state) || in_flight(&shared_state)
    });
    signal(&first, libc::SIGKILL);
    first.wait().unwrap();
    // Every state file is whole and records the change in flight.
    let mut journaled = 0;
    for path in [&env_state, &shared_state] {
        if let Ok(text) = std::fs::read_to_string(path) {
            let state = rel::state::State::from_json(&text).expect("a whole state file");
            journaled += usize::from(state.in_flight.is_some());
        }
    }
    assert_eq!(journaled, 1);
    // The lock is left behind by the dead process.
    assert!(p.state_dir().join("rel-shop-store-pr-main.lock").exists());
    let second = p.rel("apply", &["--auto-approve"]).expect(0);
    assert!(
        second.stderr.contains("took over stale lock"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("recovered the interrupted create"),
        "{}",
        second.stderr
    );
    p.rel("plan", &[]).expect(0);
    assert_eq!(p.stacks().len(), 2);
}

#[test]
fn a_secret_never_appears_in_plans_state_or_logs() {
    let secret = format!("{CANARY}/db-password");
    let p = Project::new("secret", &template(&["web"], &secret));
    let plan_file = p.dir.join("plan.out");
    let plan_arg = plan_file.to_str().unwrap();
    let mut seen = vec![
        p.rel("plan", &[]).expect(2).all(),
        p.rel("plan", &["--json"]).expect(2).all(),
        p.rel("plan", &["--format", "markdown"]).expect(2).all(),
        p.rel("plan", &["-o", plan_arg]).expect(2).all(),
    ];
    seen.push(std::fs::read_to_string(&plan_file).unwrap());
    seen.push(p.rel("apply", &[plan_arg]).expect(0).all());
    // The secret changes: shown as changed, never in clear.
    p.write(&template(&["web"], &format!("{CANARY}/db-password-2")));
    let changed = p.rel("plan", &[]).expect(2);
    assert!(
        changed
            .stdout
            .contains("Properties.Description = (sensitive, changed)"),
        "{}",
        changed.stdout
    );
    let changed_json = p.rel("plan", &["--json"]).expect(2);
    let v = json(&changed_json);
    let field = &v["stacks"][1]["changes"][0]["fields"][0];
    assert_eq!(field["sensitive"], true, "{v:#}");
    assert_eq!(field["after"], "(sensitive)");
    seen.push(changed.all());
    seen.push(changed_json.all());
    seen.push(p.rel("apply", &["--auto-approve"]).expect(0).all());
    for entry in std::fs::read_dir(p.state_dir()).unwrap() {
        seen.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let show = p
        .command(&["state", "show", p.dir.to_str().unwrap(), "--env", "pr-main"])
        .output()
        .unwrap();
    assert!(show.status.success());
    seen.push(String::from_utf8_lossy(&show.stdout).into_owned());
    let out = p
        .command(&["output", p.dir.to_str().unwrap(), "--env", "pr-main"])
        .output()
        .unwrap();
    seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
    seen.push(p.rel("destroy", &["--auto-approve"]).expect(0).all());
    for (i, text) in seen.iter().enumerate() {
        assert!(
            !text.contains(CANARY),
            "output {i} shows the secret:\n{text}"
        );
    }
    // The state records a salted hash where the secret was.
    assert!(seen.iter().any(|t| t.contains("(sensitive sha256:")));
}

#[test]
fn destroy_removes_everything_it_created() {
    let p = Project::new("destroy", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.apply_branch("other");
    assert_eq!(p.stacks().len(), 3);
    // The shared stack stays while another environment uses it.
    let refused = p
        .rel("destroy", &["--auto-approve", "--include-shared"])
        .expect(1);
    assert!(refused.stderr.contains("E0512"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("rel-shop-store-pr-other"),
        "{}",
        refused.stderr
    );
    let plan = p.rel("destroy", &["--auto-approve"]).expect(0);
    assert!(
        plan.stdout
            .contains("stack rel-shop-store-pr-main is deleted"),
        "{}",
        plan.stdout
    );
    assert_eq!(p.stacks().len(), 2);
    p.rel_in(
        "pr-other",
        "destroy",
        &[
            "--auto-approve",
            "--include-shared",
            "--set",
            "branch=other",
        ],
    )
    .expect(0);
    assert_eq!(p.stacks(), Vec::<(String, String)>::new());
    // Nothing left to destroy, and the states say so.
    let again = p
        .rel("destroy", &["--auto-approve", "--include-shared"])
        .expect(0);
    assert!(again.stderr.contains("nothing to do"), "{}", again.stderr);
    for entry in std::fs::read_dir(p.state_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            path.extension().unwrap(),
            "json",
            "no lock left: {}",
            path.display()
        );
        let state = rel::state::State::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            state.stack.is_none() && state.in_flight.is_none(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_shop_example_is_applied_planned_and_destroyed() {
    let p = Project::new("shop", "");
    // moto's CloudFormation provisions no ACM certificate (the resource
    // completes empty, so its ARN output is missing): the example's
    // certificate annotation is left out here, and everything else applies.
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop/main.rel"),
    )
    .unwrap();
    let annotation =
        "    ingress_annotations = { \"alb.ingress.kubernetes.io/certificate-arn\" = web.arn }\n";
    assert!(example.contains(annotation));
    let shop = p.dir.join("shop");
    std::fs::create_dir_all(&shop).unwrap();
    std::fs::write(shop.join("main.rel"), example.replace(annotation, "")).unwrap();
    let state = p.dir.join("state");
    let run = |verb: &str, extra: &[&str]| {
        let mut args = vec![
            verb.to_string(),
            shop.display().to_string(),
            "--env".into(),
            "pr-feature-x".into(),
            "--set".into(),
            "branch=feature/x".into(),
            "--endpoint-url".into(),
            p.moto.endpoint.clone(),
            "--state".into(),
            state.display().to_string(),
            "--kubeconfig".into(),
            p.kube.kubeconfig(&p.dir).display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Run::of(p.command(&refs).output().unwrap())
    };
    // The secrets the manifests use live in Secrets Manager.
    let api_key = "dd-key-5be1c0";
    boto(
        &p.moto.endpoint,
        "secretsmanager",
        "c.create_secret(Name='shop/db-password',SecretString='db-pw-90a1f2')\nc.create_secret(Name='shop/datadog-api-key',SecretString=sys.argv[2])",
        &[api_key],
    );
    let plan = run("plan", &["--json"]).expect(2);
    assert_schema_valid(&plan.stdout, "plan.v1.json");
    let v = json(&plan);
    assert!(v["summary"]["create"].as_u64().unwrap() > 20, "{v:#}");
    // The certificate validated by hand is in the plan, with its domains.
    let manual = v["manual_dns_validation"].as_array().unwrap();
    assert_eq!(manual.len(), 1, "{v:#}");
    assert_eq!(
        manual[0]["certificate"],
        "shared/certificate.web/resource.cert"
    );
    let text = run("plan", &[]).stdout;
    assert!(
        text.contains("Certificates whose DNS validation records must be created by hand:\n  shared/certificate.web/resource.cert: "),
        "{text}"
    );
    let applied = run("apply", &["--auto-approve"]).expect(0);
    // The cluster stage ran after the stacks, with their outputs filled in.
    let order = |what: &str| {
        applied
            .stderr
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {}", applied.stderr))
    };
    assert!(
        order("rel-acme-store-pr-feature-x: CREATE_COMPLETE")
            < order("kubernetes/acme-store-pr-feature-x: applying")
    );
    let stack_output = |name: &str| {
        boto(
            &p.moto.endpoint,
            "cloudformation",
            "o={x['OutputKey']:x['OutputValue'] for x in c.describe_stacks(StackName=sys.argv[2])['Stacks'][0].get('Outputs',[])}\nprint(o.get(sys.argv[3],''))",
            &["rel-acme-store-pr-feature-x", name],
        )
        .trim()
        .to_string()
    };
    let address = stack_output("DatabaseDbInstanceEndpointAddress");
    assert!(!address.is_empty());
    let shoes = p
        .kube
        .object("Deployment", "acme-store-pr-feature-x", "shoes")
        .expect("shoes applied");
    let env = &shoes["spec"]["template"]["spec"]["containers"][0]["env"];
    let url = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "DATABASE_URL")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with(&format!("postgres://{address}:")), "{url}");
    assert!(!url.contains("${rel"), "{url}");
    assert_eq!(
        p.kube
            .object("Ingress", "acme-store-pr-feature-x", "shoes")
            .expect("ingress applied")["spec"]["ingressClassName"],
        "alb"
    );
    // The secret reached the cluster (base64, as Secrets hold it) and
    // nowhere else.
    use base64::Engine as _;
    let secret = p
        .kube
        .object("Secret", "acme-store-pr-feature-x", "datadog-api-key")
        .expect("secret applied");
    assert_eq!(
        secret["data"]["api-key"],
        base64::engine::general_purpose::STANDARD.encode(api_key)
    );
    let plan_again = run("plan", &[]).expect(0);
    let mut seen = applied.stdout + &applied.stderr + &plan_again.stdout + &plan_again.stderr;
    for f in std::fs::read_dir(&state).unwrap() {
        seen.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
    }
    assert!(
        !seen.contains(api_key)
            && !seen.contains(&base64::engine::general_purpose::STANDARD.encode(api_key))
    );
    // moto deletes a VPC before its subnets and fails (DependencyViolation),
    // so the shared stack's deletion is shown by the other tests.
    let destroyed = run("destroy", &["--auto-approve"]).expect(0);
    assert!(
        destroyed
            .stderr
            .find("kubernetes/acme-store-pr-feature-x: deleting")
            .unwrap()
            < destroyed
                .stderr
                .find("rel-acme-store-pr-feature-x: deleting")
                .unwrap_or(usize::MAX),
        "{}",
        destroyed.stderr
    );
    assert!(p.kube.objects().is_empty(), "{:#?}", p.kube.objects());
    assert_eq!(
        p.stacks(),
        vec![("rel-acme-shared".to_string(), "CREATE_COMPLETE".to_string())]
    );
}

#[test]
fn a_failed_stack_is_reported_and_stops_its_dependents() {
    let p = Project::new("failure", &template(&["web"], "store/db-password"));
    // The shared stack's bucket name is taken already.
    create_bucket(&p.moto.endpoint, "rel-shared-logs");
    let failed = p.rel("apply", &["--auto-approve"]).expect(1);
    assert!(
        failed.stderr.contains("BucketAlreadyExists"),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("FAIL rel-shop-store-pr-main create not started: `rel-shop-shared` failed"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("apply failed"), "{}", failed.stderr);
    // A failure in the cloud stage stops the cluster stage.
    assert!(
        failed
            .stderr
            .contains("FAIL kubernetes/shop-store-pr-main create not started: a stack failed"),
        "{}",
        failed.stderr
    );
    assert!(p.kube.objects().is_empty());
    // Nothing of the environment was started or recorded.
    assert!(!p.state_dir().join("rel-shop-store-pr-main.json").exists());
    assert!(
        p.stacks()
            .iter()
            .all(|(name, _)| name != "rel-shop-store-pr-main")
    );
    // Once the cause is gone, apply again finishes from where it stopped.
    boto(
        &p.moto.endpoint,
        "s3",
        "c.delete_bucket(Bucket='rel-shared-logs')",
        &[],
    );
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.rel("plan", &[]).expect(0);
}

#[test]
fn an_interrupted_apply_releases_its_lock() {
    let p = Project::new("sigterm", &template(&["web"], "store/db-password"));
    let lock = p.state_dir().join("rel-shop-store-pr-main.lock");
    let mut first = p.spawn("apply", &["--auto-approve"]);
    wait_for("the apply to take the lock", || lock.exists());
    signal(&first, libc::SIGTERM);
    let status = first.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(first.stderr.as_mut().unwrap(), &mut err).unwrap();
    let err = flat(&err);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("E0513") && err.contains("SIGTERM"), "{err}");
    assert!(!lock.exists(), "the lock is released");
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.rel("plan", &[]).expect(0);
}

#[test]
fn a_template_over_the_inline_limit_goes_through_s3() {
    let names: Vec<String> = (0..300).map(|i| format!("svc{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = Project::new("large", &template(&refs, "store/db-password"));
    // Without a bucket: a clear error, and the shared stack still applied.
    let refused = p.rel("apply", &["--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("E0509"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--template-bucket"),
        "{}",
        refused.stderr
    );
    assert!(!p.state_dir().join("rel-shop-store-pr-main.json").exists());
    create_bucket(&p.moto.endpoint, "rel-templates");
    let bucket = ["--template-bucket", "s3://rel-templates/big"];
    p.rel("apply", &[&["--auto-approve"][..], &bucket[..]].concat())
        .expect(0);
    p.rel("plan", &bucket).expect(0);
    // The template went to S3, content-addressed: one object, named by
    // the SHA-256 of what it holds.
    let keys = boto(
        &p.moto.endpoint,
        "s3",
        "print('\\n'.join(o['Key'] for o in c.list_objects_v2(Bucket=sys.argv[2])['Contents']))",
        &["rel-templates"],
    )
    .trim()
    .to_string();
    let uploaded =
        s3_object(&p.moto.endpoint, "rel-templates", &keys).expect("the uploaded template");
    assert!(uploaded.len() > 51_200, "{}", uploaded.len());
    assert_eq!(
        keys,
        format!(
            "big/rel-shop-store-pr-main/{}.json",
            rel::state::sha256_hex(uploaded.as_bytes())
        )
    );
}

#[test]
fn an_unreadable_state_stops_the_run_and_is_left_as_it_was() {
    let p = Project::new("corrupt", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    let path = p.state_dir().join("rel-shop-store-pr-main.json");
    let text = std::fs::read_to_string(&path).unwrap();
    for broken in [
        text[..text.len() / 2].to_string(),
        text.replace("\"version\": 2", "\"version\": 3"),
    ] {
        std::fs::write(&path, &broken).unwrap();
        for verb in ["plan", "apply"] {
            let run = p
                .rel(verb, &["--auto-approve"][..usize::from(verb == "apply")])
                .expect(1);
            assert!(run.stderr.contains("E0503"), "{}", run.stderr);
            assert!(
                run.stderr.contains("rel-shop-store-pr-main.json"),
                "{}",
                run.stderr
            );
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            broken,
            "left untouched"
        );
        assert!(
            !p.state_dir().join("rel-shop-store-pr-main.lock").exists(),
            "lock released"
        );
    }
    std::fs::write(&path, &text).unwrap();
    p.rel("plan", &[]).expect(0);
}

#[test]
fn a_stack_deleted_outside_rel_is_noticed_and_destroy_still_finishes() {
    let p = Project::new("gone", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    boto(
        &p.moto.endpoint,
        "cloudformation",
        "c.delete_stack(StackName='rel-shop-store-pr-main')",
        &[],
    );
    let plan = p.rel("plan", &[]).expect(2);
    assert!(
        plan.stdout
            .contains("stack `rel-shop-store-pr-main` was deleted outside rel"),
        "{}",
        plan.stdout
    );
    // Destroying what is already gone clears its record.
    p.rel("destroy", &["--auto-approve"]).expect(0);
    let state = std::fs::read_to_string(p.state_dir().join("rel-shop-store-pr-main.json")).unwrap();
    assert!(
        rel::state::State::from_json(&state)
            .unwrap()
            .stack
            .is_none()
    );
    let last = p
        .rel("destroy", &["--auto-approve", "--include-shared"])
        .expect(0);
    assert_eq!(
        p.stacks(),
        Vec::<(String, String)>::new(),
        "{}{}",
        last.stdout,
        last.stderr
    );
}

#[test]
fn certificates_validated_by_hand_show_the_records_to_create() {
    // Against moto's ACM: a certificate requested with DNS validation.
    let moto = Moto::start();
    let arn = boto(
        &moto.endpoint,
        "acm",
        "print(c.request_certificate(DomainName='*.example.dev',SubjectAlternativeNames=['*.example.dev','example.dev'],ValidationMethod='DNS')['CertificateArn'])",
        &[],
    )
    .trim()
    .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = aws_sdk_acm::Config::builder()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_sdk_acm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_acm::config::Credentials::new(
            "t", "t", None, None, "test",
        ))
        .build();
    let acm = aws_sdk_acm::Client::from_conf(config);
    let records = rt
        .block_on(rel::deploy::aws::validation_records(&acm, &arn))
        .expect("the records are read");
    let domains: Vec<&str> = records.iter().map(|r| r.domain.as_str()).collect();
    assert_eq!(domains, ["*.example.dev", "example.dev"]);
    for r in &records {
        assert_eq!(r.record_type, "CNAME");
        assert!(r.name.ends_with(".example.dev."), "{r:?}");
        assert!(r.value.ends_with(".acm-validations.aws."), "{r:?}");
    }
    let text = rel::deploy::render::validation_records(&[rel::deploy::plan::CertificateRecords {
        certificate: "shared/certificate.web/resource.cert".into(),
        arn: arn.clone(),
        records,
    }]);
    assert!(text.contains("CNAME"), "{text}");
    // An unknown certificate is an error with the provider's reason.
    let missing = rt
        .block_on(rel::deploy::aws::validation_records(
            &acm,
            &format!("{arn}0"),
        ))
        .expect_err("no such certificate");
    assert_eq!(missing.code.id, "E0505");
}

#[test]
fn a_change_set_the_journal_does_not_name_is_cleaned_up() {
    // A run killed between CreateChangeSet and writing the change set's id
    // into the journal: the state says a change was in flight, and a
    // `rel-...` change set waits unexecuted.
    let p = Project::new("orphan", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    boto(
        &p.moto.endpoint,
        "cloudformation",
        "t=c.get_template(StackName='rel-shop-store-pr-main')['TemplateBody']\nt=t if isinstance(t,dict) else json.loads(t)\nt.setdefault('Outputs',{})['Extra']={'Value':'x'}\nc.create_change_set(StackName='rel-shop-store-pr-main',ChangeSetName='rel-99-dead',TemplateBody=json.dumps(t),ChangeSetType='UPDATE')",
        &[],
    );
    let path = p.state_dir().join("rel-shop-store-pr-main.json");
    let mut state = rel::state::State::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state.in_flight = Some(rel::state::InFlight {
        operation: rel::state::Operation::Update,
        stack: "rel-shop-store-pr-main".into(),
        change_set_id: None,
        template_sha256: String::new(),
        started: "2026-11-26T00:00:00Z".into(),
    });
    std::fs::write(&path, state.to_json()).unwrap();

    let second = p.rel("apply", &["--auto-approve"]).expect(0);
    assert!(
        second.stderr.contains("recovered the interrupted update"),
        "{}",
        second.stderr
    );
    let unexecuted = boto(
        &p.moto.endpoint,
        "cloudformation",
        "print(json.dumps([s['ChangeSetName'] for s in c.list_change_sets(StackName='rel-shop-store-pr-main')['Summaries'] if s.get('ExecutionStatus')=='AVAILABLE']))",
        &[],
    );
    assert_eq!(unexecuted.trim(), "[]");
    p.rel("plan", &[]).expect(0);
}

// The Kubernetes stage against the API stand-in.

#[test]
fn an_image_change_is_one_field_and_server_defaults_are_not_changes() {
    let p = Project::new("image", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    // The server filled in defaults rel never set; they are not changes.
    let live = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(live["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(
        p.kube
            .object("Service", "shop-store-pr-main", "web")
            .unwrap()["spec"]["clusterIP"]
            .is_string()
    );
    p.rel("plan", &[]).expect(0);
    let plan = p.rel("plan", &["--json", "--set", "tag=2"]).expect(2);
    let v = json(&plan);
    assert_schema_valid(&plan.stdout, "plan.v1.json");
    let changes = v["kubernetes"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["address"], "Deployment shop-store-pr-main/web");
    assert_eq!(changes[0]["action"], "update");
    let fields = changes[0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{v:#}");
    assert_eq!(fields[0]["path"], "spec.template.spec.containers[0].image");
    assert_eq!(fields[0]["before"], "registry.example.com/web:1");
    assert_eq!(fields[0]["after"], "registry.example.com/web:2");
    let text = p.rel("plan", &["--set", "tag=2"]).expect(2).stdout;
    assert!(
        text.contains("~ Deployment shop-store-pr-main/web  apps/v1/Deployment  update"),
        "{text}"
    );
    assert!(
        text.contains("+ spec.template.spec.containers[0].image = \"registry.example.com/web:2\""),
        "{text}"
    );
    p.rel("apply", &["--auto-approve", "--set", "tag=2"])
        .expect(0);
    let live = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/web:2"
    );
    assert_eq!(live["metadata"]["generation"], 2);
    p.rel("plan", &["--set", "tag=2"]).expect(0);
}

#[test]
fn a_field_another_manager_owns_is_a_conflict_until_forced() {
    let p = Project::new("conflict", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    // `kubectl scale` by another client: it now owns spec.replicas.
    let (code, _) = p.kube.request(
        "PATCH",
        "/apis/apps/v1/namespaces/shop-store-pr-main/deployments/web?fieldManager=kubectl-scale",
        "application/merge-patch+json",
        &serde_json::json!({"spec": {"replicas": 5}}),
    );
    assert_eq!(code, 200);
    let plan = p.rel("plan", &["--json"]).expect(2);
    let v = json(&plan);
    let change = &v["kubernetes"]["changes"][0];
    assert_eq!(change["fields"][0]["path"], "spec.replicas", "{v:#}");
    assert_eq!(change["fields"][0]["before"], 5);
    assert_eq!(change["changed_outside"], true);
    let refused = p.rel("apply", &["--auto-approve"]).expect(1);
    let err = flat(&refused.stderr);
    assert!(err.contains("E0516"), "{err}");
    assert!(
        err.contains("kubectl-scale") && err.contains(".spec.replicas"),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert_eq!(
        p.kube
            .object("Deployment", "shop-store-pr-main", "web")
            .unwrap()["spec"]["replicas"],
        5
    );
    p.rel("apply", &["--auto-approve", "--force-conflicts"])
        .expect(0);
    let live = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:spec"]["f:replicas"].is_object())
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["rel"]);
    p.rel("plan", &[]).expect(0);
}

#[test]
fn a_rollout_that_never_becomes_ready_times_out_clearly() {
    let p = Project::new("rollout", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve", "--wait"]).expect(0);
    let (code, _) = p.kube.request(
        "POST",
        "/_standin/unready",
        "application/json",
        &serde_json::json!({"image": ":broken"}),
    );
    assert_eq!(code, 200);
    let started = Instant::now();
    let failed = p
        .rel(
            "apply",
            &[
                "--auto-approve",
                "--set",
                "tag=broken",
                "--wait",
                "--wait-timeout",
                "3",
            ],
        )
        .expect(1);
    assert!(started.elapsed() < Duration::from_secs(60));
    let err = flat(&failed.stderr);
    assert!(err.contains("E0517"), "{err}");
    assert!(
        err.contains("Deployment shop-store-pr-main/web is not ready after 3s: 0 of 1 available"),
        "{err}"
    );
    assert!(err.contains("ProgressDeadlineExceeded"), "{err}");
    // The object was applied and recorded; only the rollout failed.
    let state = std::fs::read_to_string(p.state_dir().join("rel-shop-store-pr-main.json")).unwrap();
    assert!(state.contains("registry.example.com/web:broken"), "{state}");
}

#[test]
fn an_unknown_kube_context_is_a_clear_error() {
    let p = Project::new("context", &template(&["web"], "store/db-password"));
    let failed = p.rel("plan", &["--kube-context", "nowhere"]).expect(1);
    let err = flat(&failed.stderr);
    assert!(err.contains("E0515"), "{err}");
    assert!(err.contains("nowhere"), "{err}");
}

#[test]
fn a_job_whose_template_changes_is_replaced() {
    let text = template(&["web"], "store/db-password").replace(
        "app store {\n",
        "app store {\n  job migrate {\n    image   = \"registry.example.com/migrate:${tag}\"\n    command = [\"./migrate\", \"up\"]\n  }\n",
    );
    let p = Project::new("job", &text);
    p.rel("apply", &["--auto-approve"]).expect(0);
    let first = p
        .kube
        .object("Job", "shop-store-pr-main", "migrate")
        .unwrap();
    let plan = p.rel("plan", &["--json", "--set", "tag=2"]).expect(2);
    let v = json(&plan);
    let change = v["kubernetes"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "Job shop-store-pr-main/migrate")
        .unwrap()
        .clone();
    assert_eq!(change["action"], "replace", "{v:#}");
    assert_eq!(change["fields"][0]["forces_replacement"], true);
    let text = p.rel("plan", &["--set", "tag=2"]).expect(2).stdout;
    assert!(text.contains("-/+ Job shop-store-pr-main/migrate (batch/v1/Job) in kubernetes/shop-store-pr-main: spec.template.spec.containers[0].image forces replacement"), "{text}");
    // A server refuses the change in place (the stand-in does as well).
    let applied = p
        .rel("apply", &["--auto-approve", "--set", "tag=2"])
        .expect(0);
    assert!(
        applied
            .stderr
            .contains("replacing Job shop-store-pr-main/migrate"),
        "{}",
        applied.stderr
    );
    let second = p
        .kube
        .object("Job", "shop-store-pr-main", "migrate")
        .unwrap();
    assert_ne!(first["metadata"]["uid"], second["metadata"]["uid"]);
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/migrate:2"
    );
    p.rel("plan", &["--set", "tag=2"]).expect(0);
}

#[test]
fn environment_variables_that_hold_secrets_get_their_secret_from_the_store() {
    let text = template(&["web"], "store/db-password").replace(
        "app store {\n",
        "app store {\n  env = { API_TOKEN = secret(\"store/api-token\"), MODE = \"fast\" }\n",
    );
    let p = Project::new("envsecret", &text);
    let token = "tok-7f3a90c2";
    boto(
        &p.moto.endpoint,
        "secretsmanager",
        "c.create_secret(Name='store/api-token',SecretString=sys.argv[2])",
        &[token],
    );
    let applied = p.rel("apply", &["--auto-approve"]).expect(0);
    // The Deployment refers to the key; the Secret holds the value.
    let web = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    let env = web["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    let api = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "API_TOKEN")
        .unwrap()
        .clone();
    assert_eq!(
        api["valueFrom"]["secretKeyRef"]["name"], "rel-secrets",
        "{api}"
    );
    let key = api["valueFrom"]["secretKeyRef"]["key"].as_str().unwrap();
    let secret = p
        .kube
        .object("Secret", "shop-store-pr-main", "rel-secrets")
        .expect("created");
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(token);
    assert_eq!(secret["data"][key], encoded.as_str(), "{secret}");
    let plan = p.rel("plan", &[]).expect(0);
    let state = std::fs::read_to_string(p.state_dir().join("rel-shop-store-pr-main.json")).unwrap();
    let seen = applied.stdout + &applied.stderr + &plan.stdout + &plan.stderr + &state;
    assert!(!seen.contains(token) && !seen.contains(&encoded));
    // A new version of the secret is planned as a change never shown.
    boto(
        &p.moto.endpoint,
        "secretsmanager",
        "c.put_secret_value(SecretId='store/api-token',SecretString='tok-rotated')",
        &[],
    );
    let rotated = p.rel("plan", &[]).expect(2);
    assert!(
        rotated.stdout.contains("(sensitive, changed)"),
        "{}",
        rotated.stdout
    );
    assert!(!rotated.stdout.contains("tok-rotated"));
}
