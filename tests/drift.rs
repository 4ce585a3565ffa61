//! `rel drift` end to end: the binary against moto (CloudFormation and S3,
//! which have no drift detection APIs there) and the Kubernetes stand-in,
//! after changes made outside rel with the services' own APIs.

use std::path::Path;

mod support;
use support::project::{CANARY, Project, template};
use support::{Run, assert_html_valid, assert_schema_valid, boto, flat, outside_code_blocks};

/// 2026-11-26T00:00:00Z: the day reports are made in these tests.
const TODAY: &str = "1795651200";

fn drift(p: &Project, extra: &[&str], code: i32) -> Run {
    drift_in(p, "pr-main", extra, code)
}

fn drift_in(p: &Project, env: &str, extra: &[&str], code: i32) -> Run {
    let args = p.args_in(env, "drift", extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = p
        .command(&refs)
        .env("REL_REPORT_TIME", TODAY)
        .output()
        .expect("rel runs");
    Run::of(out).expect(code)
}

fn report(run: &Run) -> serde_json::Value {
    assert_schema_valid(&run.stdout, "drift.v1.json");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Every part's counts add up: each resource in state is checked or not
/// checked, and the checked ones are in sync, modified, deleted or ignored.
fn assert_counts_add_up(report: &serde_json::Value) {
    for env in report["environments"].as_array().unwrap() {
        for part in env["parts"].as_array().unwrap() {
            let s = &part["summary"];
            let n = |k: &str| s[k].as_u64().unwrap();
            assert_eq!(n("checked") + n("not_checked"), n("resources"), "{part:#}");
            assert_eq!(
                n("in_sync") + n("modified") + n("deleted") + n("ignored"),
                n("checked"),
                "{part:#}"
            );
            let listed = part["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["class"] != "unmanaged")
                .count()
                + part["in_sync"].as_array().unwrap().len();
            assert_eq!(
                listed as u64,
                n("resources") + n("unmanaged_ignored"),
                "{part:#}"
            );
        }
    }
}

fn part<'a>(report: &'a serde_json::Value, env: &str, name: &str) -> &'a serde_json::Value {
    report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == env)
        .and_then(|e| {
            e["parts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
        })
        .unwrap_or_else(|| panic!("no part {name} in {env}: {report:#}"))
}

fn finding<'a>(part: &'a serde_json::Value, resource: &str) -> &'a serde_json::Value {
    part["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"] == resource)
        .unwrap_or_else(|| panic!("no finding for {resource}: {part:#}"))
}

fn difference<'a>(finding: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    finding["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path)
        .unwrap_or_else(|| panic!("no difference at {path}: {finding:#}"))
}

/// A merge patch by another client, as `kubectl edit` or `kubectl scale` sends.
fn patch(p: &Project, path: &str, body: serde_json::Value) {
    let (code, answer) = p.kube.request(
        "PATCH",
        &format!("{path}?fieldManager=kubectl-edit"),
        "application/merge-patch+json",
        &body,
    );
    assert_eq!(code, 200, "{answer}");
}

/// Sets the web container's image by hand, the rest of the pod as it is
/// (a merge patch replaces a list whole).
fn set_image(p: &Project, image: &str) {
    let live = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    let mut containers = live["spec"]["template"]["spec"]["containers"].clone();
    containers[0]["image"] = image.into();
    patch(
        p,
        "/apis/apps/v1/namespaces/shop-store-pr-main/deployments/web",
        serde_json::json!({"spec": {"template": {"spec": {"containers": containers}}}}),
    );
}

#[test]
fn an_untouched_environment_is_in_sync_and_says_what_was_not_checked() {
    let p = Project::new("drift-clean", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    let run = drift(&p, &["--format", "json"], 0);
    let r = report(&run);
    assert_counts_add_up(&r);
    assert_eq!(r["drifted"], false);
    assert_eq!(r["generated_at"], "2026-11-26T00:00:00Z");
    // moto has no drift detection: stack resources are not checked, never
    // called in sync; the bucket's existence is still checked.
    let env = part(&r, "pr-main", "rel-shop-store-pr-main");
    assert_eq!(env["summary"]["not_checked"], env["summary"]["resources"]);
    for f in env["findings"].as_array().unwrap() {
        assert_eq!(f["class"], "not-checked", "{f:#}");
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason.contains("CloudFormation drift detection is unavailable")
                && reason.contains("does not offer this API")
                && reason.len() < 200,
            "{f:#}"
        );
    }
    let shared = part(&r, "pr-main", "rel-shop-shared");
    let bucket = finding(shared, "Logs");
    assert_eq!(bucket["class"], "not-checked");
    assert!(
        bucket["reason"]
            .as_str()
            .unwrap()
            .contains("the bucket exists"),
        "{bucket:#}"
    );
    // The objects are compared on what rel applied: the defaults the
    // stand-in filled in are not drift.
    let objects = part(&r, "pr-main", "kubernetes/shop-store-pr-main");
    assert_eq!(
        objects["summary"]["in_sync"],
        objects["summary"]["resources"]
    );
    assert!(
        objects["in_sync"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("Deployment/shop-store-pr-main/web")),
        "{objects:#}"
    );
    let live = p
        .kube
        .object("Deployment", "shop-store-pr-main", "web")
        .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    // The text report says the same, without calling unchecked resources in sync.
    let text = drift(&p, &[], 0).stdout;
    assert!(text.contains("not checked"), "{text}");
    assert!(!text.contains("in sync: everything"), "{text}");
    // Not-checked resources fail the run only when asked to.
    drift(&p, &["--fail-on-unchecked"], 2);
    // Another region than the stacks': not checked, and says where they are.
    let elsewhere = report(&drift(
        &p,
        &["--format", "json", "--region", "us-west-2"],
        0,
    ));
    assert_counts_add_up(&elsewhere);
    let env = part(&elsewhere, "pr-main", "rel-shop-store-pr-main");
    assert_eq!(env["summary"]["not_checked"], env["summary"]["resources"]);
    assert!(
        env["itself"]["reason"]
            .as_str()
            .unwrap()
            .contains("pass --region us-east-1"),
        "{env:#}"
    );
}

#[test]
fn a_stack_rel_tagged_that_state_does_not_record_is_unmanaged() {
    let p = Project::new("drift-unrecorded", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    // The environment's state loses its stack record (restored from an
    // old backup, say); the stack rel tagged is still there.
    let path = p.state_dir().join("rel-shop-store-pr-main.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("stack");
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let r = report(&drift(&p, &["--format", "json"], 2));
    assert_counts_add_up(&r);
    let env = part(&r, "pr-main", "rel-shop-store-pr-main");
    let stack = finding(env, "rel-shop-store-pr-main");
    assert_eq!(stack["class"], "unmanaged");
    assert_eq!(stack["type"], "AWS::CloudFormation::Stack");
}

#[test]
fn changes_made_outside_rel_are_classified_by_what_found_them() {
    let p = Project::new(
        "drift-changed",
        &template(&["web"], &format!("{CANARY}/db-password")),
    );
    p.rel("apply", &["--auto-approve"]).expect(0);

    // The environment's stack updated outside rel: a property changed, the
    // secret reference replaced, a resource added.
    boto(
        &p.moto.endpoint,
        "cloudformation",
        r#"
t=c.get_template(StackName='rel-shop-store-pr-main')['TemplateBody']
t=t if isinstance(t,dict) else json.loads(t)
for k,v in t['Resources'].items():
    if v['Type']=='AWS::ECR::Repository':
        v['Properties']['ImageScanningConfiguration']={'ScanOnPush':False}
    if v['Type']=='AWS::IAM::Role':
        v['Properties']['Description']='{{resolve:secretsmanager:'+sys.argv[2]+'/other}}'
t['Resources']['Extra']={'Type':'AWS::S3::Bucket','Properties':{'BucketName':'added-by-hand'}}
c.update_stack(StackName='rel-shop-store-pr-main',TemplateBody=json.dumps(t),Capabilities=['CAPABILITY_NAMED_IAM'])
for _ in range(100):
    if c.describe_stacks(StackName='rel-shop-store-pr-main')['Stacks'][0]['StackStatus'].endswith('COMPLETE'): break
    time.sleep(0.1)
"#,
        &[CANARY],
    );
    // The shared bucket deleted with the S3 API, and a bucket made by
    // hand with the environment's tags (as a copy, or a resource kept
    // when its stack was deleted, would have).
    boto(
        &p.moto.endpoint,
        "s3",
        r#"
c.delete_bucket(Bucket='rel-shared-logs')
c.create_bucket(Bucket='stray-copy')
c.put_bucket_tagging(Bucket='stray-copy',Tagging={'TagSet':[{'Key':'rel:managed','Value':'true'},{'Key':'rel:environment','Value':'pr-main'},{'Key':'rel:project','Value':'shop'}]})
"#,
        &[],
    );
    // Objects edited, deleted and added by hand.
    patch(
        &p,
        "/apis/apps/v1/namespaces/shop-store-pr-main/deployments/web",
        serde_json::json!({"spec": {"replicas": 3}}),
    );
    set_image(&p, "<script>alert(1)</script>");
    let (code, _) = p.kube.request(
        "DELETE",
        "/api/v1/namespaces/shop-store-pr-main/services/web",
        "application/json",
        &serde_json::json!({}),
    );
    assert_eq!(code, 200);
    let (code, _) = p.kube.request(
        "PATCH",
        "/api/v1/namespaces/shop-store-pr-main/configmaps/stray?fieldManager=kubectl",
        "application/apply-patch+yaml",
        &serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "stray", "namespace": "shop-store-pr-main",
                "labels": {"app.kubernetes.io/managed-by": "rel", "rel.dev/project": "shop",
                    "rel.dev/app": "store", "rel.dev/environment": "pr-main"}},
            "data": {"k": "v"}}),
    );
    assert_eq!(code, 201);

    let run = drift(&p, &["--format", "json"], 2);
    let r = report(&run);
    assert_counts_add_up(&r);
    assert_eq!(r["drifted"], true);

    let env = part(&r, "pr-main", "rel-shop-store-pr-main");
    let itself = &env["itself"];
    assert_eq!(itself["class"], "modified", "{env:#}");
    assert_eq!(
        difference(itself, "StackStatus")["actual"],
        "UPDATE_COMPLETE"
    );
    let repo = env["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "AWS::ECR::Repository")
        .unwrap();
    assert_eq!(repo["class"], "modified");
    assert_eq!(repo["source"], "template");
    let scan = difference(repo, "Properties.ImageScanningConfiguration.ScanOnPush");
    assert_eq!(
        (&scan["expected"], &scan["actual"]),
        (&serde_json::json!(true), &serde_json::json!(false))
    );
    let role = env["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "AWS::IAM::Role")
        .unwrap();
    let description = difference(role, "Properties.Description");
    assert_eq!(description["sensitive"], true);
    assert_eq!(description["actual"], "(sensitive)");
    let extra = finding(env, "Extra");
    assert_eq!(extra["class"], "unmanaged");
    let stray = finding(env, "arn:aws:s3:::stray-copy");
    assert_eq!(stray["class"], "unmanaged");
    assert_eq!(stray["source"], "labels");
    // Only those two: the environment's own resources are not unmanaged.
    assert_eq!(env["summary"]["unmanaged"], 2);

    let bucket = finding(part(&r, "pr-main", "rel-shop-shared"), "Logs");
    assert_eq!(bucket["class"], "deleted", "{bucket:#}");
    assert_eq!(bucket["source"], "existence");

    let objects = part(&r, "pr-main", "kubernetes/shop-store-pr-main");
    let web = finding(objects, "Deployment/shop-store-pr-main/web");
    assert_eq!(web["class"], "modified");
    let replicas = difference(web, "spec.replicas");
    assert_eq!(
        (&replicas["expected"], &replicas["actual"]),
        (&serde_json::json!(1), &serde_json::json!(3))
    );
    assert_eq!(
        difference(web, "spec.template.spec.containers[0].image")["actual"],
        "<script>alert(1)</script>"
    );
    // Server defaults are not drift: only the two fields edited.
    assert_eq!(web["differences"].as_array().unwrap().len(), 2, "{web:#}");
    assert_eq!(
        finding(objects, "Service/shop-store-pr-main/web")["class"],
        "deleted"
    );
    assert_eq!(
        finding(objects, "ConfigMap/shop-store-pr-main/stray")["class"],
        "unmanaged"
    );

    // Text, Markdown and HTML say the same; no secret reference anywhere.
    let text = drift(&p, &[], 2).stdout;
    for needle in [
        "Deployment/shop-store-pr-main/web",
        "spec.replicas",
        "Service/shop-store-pr-main/web",
        "ConfigMap/shop-store-pr-main/stray",
        "Extra",
        "StackStatus",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let markdown = drift(&p, &["--format", "markdown"], 2).stdout;
    assert!(markdown.contains("```diff"), "{markdown}");
    // User values reach Markdown as text: in fenced code blocks (which
    // renderers never read as HTML), and escaped everywhere else.
    assert!(
        !outside_code_blocks(&markdown).contains("<script"),
        "{markdown}"
    );
    assert!(
        markdown.contains("\"<script>alert(1)</script>\""),
        "{markdown}"
    );
    let out = p.dir.join("drift.html");
    let html_run = drift(&p, &["--format", "html", "--out", out.to_str().unwrap()], 2);
    assert!(html_run.stdout.is_empty());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert_html_valid(&html);
    let all = format!(
        "{}{}{}{}{}{}",
        run.stdout, run.stderr, text, markdown, html, html_run.stderr
    );
    assert!(!all.contains(CANARY), "{all}");
}

#[test]
fn a_stack_deleted_outside_rel_is_reported_with_its_resources() {
    let p = Project::new("drift-gone", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    boto(
        &p.moto.endpoint,
        "cloudformation",
        "c.delete_stack(StackName='rel-shop-store-pr-main')",
        &[],
    );
    let r = report(&drift(&p, &["--format", "json"], 2));
    assert_counts_add_up(&r);
    let env = part(&r, "pr-main", "rel-shop-store-pr-main");
    assert_eq!(env["itself"]["class"], "deleted");
    assert_eq!(env["summary"]["deleted"], env["summary"]["resources"]);
    assert!(env["summary"]["resources"].as_u64().unwrap() >= 2);
    let text = drift(&p, &[], 2).stdout;
    assert!(text.contains("the stack was deleted outside rel"), "{text}");
}

#[test]
fn ignore_rules_hide_what_they_cover_until_they_expire() {
    let rules = r#"environment "pr-${branch}" from store {
  tier = "preprod"
  drift_ignore = [
    { path = "Deployment/*.spec.replicas", reason = "scaled by the autoscaler" },
    { path = "Deployment/*.spec.template.spec.containers", reason = "hotfix image during the incident", expires = "2026-06-30" },
  ]
}
"#;
    let text = template(&["web"], "store/db-password").replace(
        "environment \"pr-${branch}\" from store {\n  tier = \"preprod\"\n}\n",
        rules,
    );
    assert!(text.contains("drift_ignore"));
    let p = Project::new("drift-ignore", &text);
    p.rel("apply", &["--auto-approve"]).expect(0);
    patch(
        &p,
        "/apis/apps/v1/namespaces/shop-store-pr-main/deployments/web",
        serde_json::json!({"spec": {"replicas": 4}}),
    );
    // Only the replicas changed: the rule covers them, nothing drifted.
    let r = report(&drift(&p, &["--format", "json"], 0));
    assert_counts_add_up(&r);
    let objects = part(&r, "pr-main", "kubernetes/shop-store-pr-main");
    let web = finding(objects, "Deployment/shop-store-pr-main/web");
    assert_eq!(web["class"], "ignored");
    assert_eq!(web["ignored"][0]["path"], "spec.replicas");
    assert_eq!(
        web["ignored"][0]["rule"]["reason"],
        "scaled by the autoscaler"
    );
    assert_eq!(objects["summary"]["ignored"], 1);

    // The image rule expired: the image is drift again, and says why.
    set_image(&p, "registry.example.com/web:hotfix");
    let r = report(&drift(&p, &["--format", "json"], 2));
    let web = finding(
        part(&r, "pr-main", "kubernetes/shop-store-pr-main"),
        "Deployment/shop-store-pr-main/web",
    );
    assert_eq!(web["class"], "modified");
    let image = difference(web, "spec.template.spec.containers[0].image");
    assert_eq!(image["rule"]["expired"], true);
    assert_eq!(image["rule"]["expires"], "2026-06-30");
    let warnings = r["environments"][0]["warnings"].to_string();
    assert!(warnings.contains("expired on 2026-06-30"), "{warnings}");
    let text = drift(&p, &[], 2).stdout;
    assert!(text.contains("2026-06-30"), "{text}");

    // An expiry that is not a date is an error at the rule.
    p.write(&text_with_bad_expiry(&p.dir));
    let bad = drift(&p, &[], 1);
    let err = flat(&bad.stderr);
    assert!(err.contains("E0520") && err.contains("2026-02-30"), "{err}");
    assert!(err.contains("main.rel:"), "{err}");
}

fn text_with_bad_expiry(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("main.rel"))
        .unwrap()
        .replace("2026-06-30", "2026-02-30")
}

#[test]
fn every_environment_with_state_is_checked_and_one_without_is_an_error() {
    let p = Project::new("drift-all", &template(&["web"], "store/db-password"));
    p.rel("apply", &["--auto-approve"]).expect(0);
    p.apply_branch("next");
    // States written before parameters were recorded get them on the
    // next apply, even one with nothing to change.
    let path = p.state_dir().join("rel-shop-store-pr-next.json");
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    assert_eq!(read()["parameters"]["branch"], "next");
    let mut state = read();
    state.as_object_mut().unwrap().remove("parameters");
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    p.apply_branch("next");
    assert_eq!(read()["parameters"]["branch"], "next");
    let mut args = p.args_in("pr-main", "drift", &["--all-envs", "--format", "json"]);
    let at = args.iter().position(|a| a == "--env").unwrap();
    args.drain(at..at + 2);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = Run::of(p.command(&refs).output().unwrap()).expect(0);
    let r = report(&run);
    assert_counts_add_up(&r);
    let names: Vec<&str> = r["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shared", "pr-main", "pr-next"]);
    // pr-next was applied with `--set branch=next`: state recorded it, so
    // it is compiled as applied (its namespace, its rules), not from state
    // alone.
    let next = &r["environments"][2];
    assert_eq!(next["warnings"], serde_json::json!([]), "{next:#}");
    part(&r, "pr-next", "kubernetes/shop-store-pr-next");
    // The shared stack is reported once, on its own.
    assert_eq!(
        r["environments"][1]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "rel-shop-shared")
            .count(),
        0
    );
    let none = drift_in(&p, "pr-none", &["--set", "branch=none"], 1);
    let err = flat(&none.stderr);
    assert!(err.contains("E0521") && err.contains("pr-none"), "{err}");
}
