//! How drift reports read: text for terminals, Markdown for pull requests,
//! the HTML page and the JSON document, snapshotted over a report with
//! every class of finding (modified with a secret and a multi-line value,
//! deleted, unmanaged, not checked, ignored by a rule, drift again after a
//! rule expired, a stack changed as a whole) in an AWS and a GCP
//! environment. The JSON follows `docs/schema/drift.v1.json`, the HTML
//! parses without an error in a spec-following parser, and user values
//! cannot inject markup into either page.

use rel::compile::DriftRule;
use rel::drift::rules::Rules;
use rel::drift::{
    Class, Collected, Difference, EnvironmentReport, Finding, PartKind, PartReport, Report, render,
};
use serde_json::{Value, json};

mod support;
use support::{assert_html_valid, assert_schema_valid, outside_code_blocks};

const TODAY: &str = "2026-11-26";
const GENERATED_AT: &str = "2026-11-26T12:00:00Z";
/// The secret a sensitive difference is made from: no output may show it.
const SECRET: &str = "hunter2-canary-71c4";
const NASTY: &str = "<script>alert(1)</script> \"quotes\" & ampersands | `ticks`";

fn rule(path: &str, reason: &str, expires: Option<&str>) -> DriftRule {
    DriftRule {
        path: path.into(),
        reason: reason.into(),
        expires: expires.map(str::to_string),
        span: Default::default(),
    }
}

fn rules() -> Vec<DriftRule> {
    vec![
        rule(
            "AssetsBucket.Properties.LoggingConfiguration",
            "the platform team's log pipeline sets the target bucket",
            None,
        ),
        rule(
            "AssetsBucket.Properties.Tags",
            "cost tags added by the finance tool until it writes them to rel",
            Some("2026-10-31"),
        ),
        rule(
            "LegacyQueue",
            "replaced by the shared queue; removed from the template next release",
            Some("2026-12-31"),
        ),
        rule(
            "AlertsTopic.Properties.Subscription",
            "on-call subscribes by hand",
            None,
        ),
        rule(
            "Deployment/*/shoes.spec.replicas",
            "scaled by the HorizontalPodAutoscaler",
            None,
        ),
    ]
}

fn difference(path: &str, expected: Option<Value>, actual: Option<Value>) -> Difference {
    Difference::new(path.into(), expected, actual, false)
}

fn located(f: Finding, address: &str, physical_id: &str) -> Finding {
    Finding {
        address: Some(address.into()),
        physical_id: Some(physical_id.into()),
        ..f
    }
}

fn aws_stack(rules: &Rules<'_>) -> PartReport {
    let itself = Finding::new(
        Class::Modified,
        "rel-shop-store-pr-42",
        "AWS::CloudFormation::Stack",
    )
    .source("template")
    .reason("the deployed template is not the one rel applied")
    .differences(vec![difference(
        "Description",
        Some(json!("rel shop: rel-shop-store-pr-42")),
        Some(json!(
            "rel shop: rel-shop-store-pr-42 (edited in the console)"
        )),
    )]);
    let bucket = Finding::new(Class::Modified, "AssetsBucket", "AWS::S3::Bucket")
        .source("drift-detection")
        .differences(vec![
            difference(
                "Properties.VersioningConfiguration.Status",
                Some(json!("Enabled")),
                Some(json!("Suspended")),
            ),
            difference(
                "Properties.Tags",
                Some(json!([{"Key": "team", "Value": "shop"}, {"Key": "env", "Value": "pr-42"}])),
                Some(json!([
                    {"Key": "team", "Value": "shop"},
                    {"Key": "env", "Value": "pr-42"},
                    {"Key": "cost-center", "Value": "1234"}
                ])),
            ),
            difference(
                "Properties.LoggingConfiguration",
                None,
                Some(json!({"DestinationBucketName": "platform-logs"})),
            ),
        ]);
    let secret = Finding::new(Class::Modified, "DbPassword", "AWS::SecretsManager::Secret")
        .source("drift-detection")
        .differences(vec![Difference::new(
            "Properties.SecretString".into(),
            Some(json!(SECRET)),
            Some(json!(format!("{SECRET}-rotated"))),
            true,
        )]);
    let queue = Finding::new(Class::Deleted, "JobsQueue", "AWS::SQS::Queue")
        .source("existence")
        .reason("GetQueueUrl: the queue does not exist");
    let legacy = Finding::new(Class::Deleted, "LegacyQueue", "AWS::SQS::Queue")
        .source("drift-detection")
        .reason("CloudFormation reports it deleted");
    let topic = Finding::new(Class::Modified, "AlertsTopic", "AWS::SNS::Topic")
        .source("drift-detection")
        .differences(vec![difference(
            "Properties.Subscription",
            Some(json!([])),
            Some(json!([{"Endpoint": "oncall@example.com", "Protocol": "email"}])),
        )]);
    let certificate = Finding::new(
        Class::NotChecked,
        "SiteCertificate",
        "AWS::CertificateManager::Certificate",
    )
    .source("drift-detection")
    .reason("CloudFormation cannot detect drift on this resource type");
    let debug_bucket = Finding::new(Class::Unmanaged, "shop-debug-pr-42", "AWS::S3::Bucket")
        .source("labels")
        .reason("tagged rel:environment=pr-42 but not in state");
    let collected = Collected {
        itself: Some(itself),
        resources: vec![
            (
                "AssetsBucket".into(),
                Some(located(
                    bucket,
                    "app.shop/resource.assets",
                    "shop-assets-pr-42",
                )),
            ),
            ("Role".into(), None),
            (
                "DbPassword".into(),
                Some(located(
                    secret,
                    "app.shop/resource.db_password",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf",
                )),
            ),
            ("JobsQueue".into(), Some(queue)),
            ("LegacyQueue".into(), Some(legacy)),
            ("AlertsTopic".into(), Some(topic)),
            ("LogGroup".into(), None),
            ("SiteCertificate".into(), Some(certificate)),
        ],
        unmanaged: vec![debug_bucket],
        ..Default::default()
    };
    PartReport::new(
        "rel-shop-store-pr-42".into(),
        PartKind::Stack,
        collected,
        rules,
    )
}

fn aws_kubernetes(rules: &Rules<'_>) -> PartReport {
    let deployment = Finding::new(
        Class::Modified,
        "Deployment/shop-pr-42/shoes",
        "apps/v1/Deployment",
    )
    .source("live")
    .differences(vec![
        difference("spec.replicas", Some(json!(2)), Some(json!(5))),
        difference(
            "spec.template.spec.containers[0].image",
            Some(json!("registry.example.com/shop/shoes:1.4.2")),
            Some(json!("registry.example.com/shop/shoes:1.4.3-hotfix")),
        ),
    ]);
    let job = Finding::new(
        Class::Unmanaged,
        "Job/shop-pr-42/debug-shell",
        "batch/v1/Job",
    )
    .source("labels")
    .reason("labelled rel.dev/environment=pr-42 but not in state");
    let collected = Collected {
        resources: vec![
            ("Deployment/shop-pr-42/shoes".into(), Some(deployment)),
            ("Service/shop-pr-42/shoes".into(), None),
            ("ConfigMap/shop-pr-42/settings".into(), None),
        ],
        unmanaged: vec![job],
        ..Default::default()
    };
    PartReport::new(
        "kubernetes/shop-pr-42".into(),
        PartKind::Kubernetes,
        collected,
        rules,
    )
}

fn gcp_deployment(rules: &Rules<'_>) -> PartReport {
    let bucket = Finding::new(
        Class::Modified,
        "google_storage_bucket.assets",
        "google_storage_bucket",
    )
    .source("revision")
    .differences(vec![
        difference("labels", None, Some(json!({"owner": "data-team"}))),
        difference("uniform_bucket_level_access", Some(json!(true)), None),
    ]);
    let database = Finding::new(
        Class::NotChecked,
        "google_sql_database_instance.db",
        "google_sql_database_instance",
    )
    .source("revision")
    .reason("the deployment's latest revision failed, so its resources were not read");
    let collected = Collected {
        resources: vec![
            (
                "google_storage_bucket.assets".into(),
                Some(located(
                    bucket,
                    "app.shop/resource.assets",
                    "shop-assets-staging",
                )),
            ),
            ("google_sql_database_instance.db".into(), Some(database)),
            ("google_pubsub_topic.events".into(), None),
        ],
        ..Default::default()
    };
    PartReport::new(
        "rel-env-staging".into(),
        PartKind::Deployment,
        collected,
        rules,
    )
}

fn gcp_kubernetes(rules: &Rules<'_>) -> PartReport {
    let collected = Collected {
        resources: vec![
            ("Deployment/shop-staging/shoes".into(), None),
            ("Service/shop-staging/shoes".into(), None),
        ],
        ..Default::default()
    };
    PartReport::new(
        "kubernetes/shop-staging".into(),
        PartKind::Kubernetes,
        collected,
        rules,
    )
}

fn example_report() -> Report {
    let rules = rules();
    let rules = Rules::new(&rules, TODAY);
    let aws = EnvironmentReport::new(
        "pr-42".into(),
        "aws",
        vec![aws_stack(&rules), aws_kubernetes(&rules)],
        vec!["an apply started at 2026-11-26T11:58:00Z is still in progress: the stack may be mid-update".into()],
        &rules,
    );
    let gcp = EnvironmentReport::new(
        "staging".into(),
        "gcp",
        vec![gcp_deployment(&rules), gcp_kubernetes(&rules)],
        vec![
            "the deployment's latest revision r-7 failed: resources it holds were not checked"
                .into(),
        ],
        &rules,
    );
    Report::new(GENERATED_AT.into(), vec![aws, gcp])
}

/// Every output format of a report.
fn all_outputs(report: &Report) -> Vec<(&'static str, String)> {
    vec![
        ("text", render::text(report)),
        ("markdown", render::markdown(report)),
        (
            "html",
            render::html(report).expect("the HTML report renders"),
        ),
        ("json", serde_json::to_string_pretty(report).unwrap()),
    ]
}

#[test]
fn the_report_counts_every_class() {
    let report = example_report();
    assert!(report.drifted);
    let c = report.summary;
    assert_eq!(
        (c.resources, c.checked, c.not_checked, c.in_sync),
        (16, 14, 2, 7)
    );
    assert_eq!(
        (c.modified, c.deleted, c.ignored, c.unmanaged),
        (4, 1, 2, 2)
    );
    assert!(
        report.environments[0]
            .warnings
            .iter()
            .any(|w| w.contains("AssetsBucket.Properties.Tags") && w.contains("2026-10-31")),
        "{:?}",
        report.environments[0].warnings
    );
}

#[test]
fn text_report() {
    let text = render::text(&example_report());
    // The command line colours a finding by the marker that starts it.
    for line in text
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
    {
        assert!(
            line.trim_start().starts_with(['~', '-', '+', '=', '?']),
            "a finding without a marker: {line}"
        );
    }
    insta::assert_snapshot!("text", text);
}

#[test]
fn markdown_report() {
    let markdown = render::markdown(&example_report());
    assert_tables_keep_their_columns(&outside_code_blocks(&markdown));
    insta::assert_snapshot!("markdown", markdown);
}

#[test]
fn html_report() {
    let html = render::html(&example_report()).unwrap();
    assert_html_valid(&html);
    // One page that fetches and runs nothing.
    for outside in [
        "<script", "http:", "https:", "src=", "url(", "@import", "<link",
    ] {
        assert!(!html.contains(outside), "the page holds {outside}");
    }
    insta::assert_snapshot!("html", html);
}

#[test]
fn json_report_follows_the_schema() {
    let report = example_report();
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_schema_valid(&json, "drift.v1.json");
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    insta::assert_snapshot!("json", json);
}

#[test]
fn rendering_is_deterministic() {
    for ((format, first), (_, second)) in all_outputs(&example_report())
        .into_iter()
        .zip(all_outputs(&example_report()))
    {
        assert_eq!(first, second, "{format} differs between two renderings");
    }
}

#[test]
fn secrets_are_masked_everywhere() {
    for (format, output) in all_outputs(&example_report()) {
        assert!(!output.contains(SECRET), "{format} shows the secret");
        assert!(
            output.contains("(sensitive)"),
            "{format} does not mark the secret"
        );
    }
    let text = render::text(&example_report());
    assert!(
        text.contains("- Properties.SecretString = (sensitive)\n")
            && text.contains("+ Properties.SecretString = (sensitive, changed)\n"),
        "{text}"
    );
}

#[test]
fn headlines_never_call_unchecked_resources_in_sync() {
    let rules = Rules::new(&[], TODAY);
    let part = |resources: Vec<(String, Option<Finding>)>| {
        let collected = Collected {
            resources,
            ..Default::default()
        };
        PartReport::new(
            "rel-shop-store-pr-7".into(),
            PartKind::Stack,
            collected,
            &rules,
        )
    };
    let report = |p: PartReport| {
        Report::new(
            GENERATED_AT.into(),
            vec![EnvironmentReport::new(
                "pr-7".into(),
                "aws",
                vec![p],
                vec![],
                &rules,
            )],
        )
    };
    let in_sync = report(part(vec![("Bucket".into(), None), ("Role".into(), None)]));
    assert!(
        render::text(&in_sync).starts_with("No drift: all 2 resources checked are in sync\n"),
        "{}",
        render::text(&in_sync)
    );
    let unchecked = report(part(vec![
        ("Bucket".into(), None),
        (
            "Cert".into(),
            Some(
                Finding::new(
                    Class::NotChecked,
                    "Cert",
                    "AWS::CertificateManager::Certificate",
                )
                .reason("no drift detection for this type"),
            ),
        ),
    ]));
    let text = render::text(&unchecked);
    let headline = text.lines().next().unwrap();
    assert_eq!(
        headline,
        "No drift found in the 1 resource checked (1 in sync, 0 ignored), but 1 of 2 resources not checked"
    );
    assert!(!headline.contains("all"), "{headline}");
    for output in [
        render::markdown(&unchecked),
        render::html(&unchecked).unwrap(),
    ] {
        assert!(output.contains(headline), "{output}");
        assert!(!output.contains("are in sync"), "{output}");
    }
    assert_html_valid(&render::html(&unchecked).unwrap());
}

/// A report whose user values (a field's value, a resource name, a rule's
/// reason, a warning) try to inject markup.
fn hostile_report() -> Report {
    let rules = [rule("Topic", NASTY, Some("2026-12-31"))];
    let rules = Rules::new(&rules, TODAY);
    let modified = Finding::new(Class::Modified, format!("Bucket{NASTY}"), "AWS::S3::Bucket")
        .source("drift-detection")
        .reason(NASTY)
        .differences(vec![difference(
            &format!("Properties.{NASTY}"),
            Some(json!(NASTY)),
            Some(json!({ "nested": NASTY })),
        )]);
    let ignored = Finding::new(Class::Deleted, "Topic", "AWS::SNS::Topic").source("existence");
    let collected = Collected {
        resources: vec![
            (format!("Bucket{NASTY}"), Some(modified)),
            ("Topic".into(), Some(ignored)),
            (format!("Role{NASTY}"), None),
        ],
        ..Default::default()
    };
    let part = PartReport::new(
        format!("rel-env-{NASTY}"),
        PartKind::Stack,
        collected,
        &rules,
    );
    Report::new(
        GENERATED_AT.into(),
        vec![EnvironmentReport::new(
            format!("pr-{NASTY}"),
            "aws",
            vec![part],
            vec![format!("warning {NASTY}")],
            &rules,
        )],
    )
}

/// Every row of every Markdown table has as many cell separators as its
/// header: no value splits a cell.
fn assert_tables_keep_their_columns(markdown: &str) {
    let separators = |row: &str| {
        let bytes = row.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count()
    };
    let mut header: Option<usize> = None;
    for line in markdown.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        match header {
            None => header = Some(separators(line)),
            Some(n) => assert_eq!(separators(line), n, "a value splits a table cell: {line}"),
        }
    }
}

#[test]
fn user_values_cannot_inject_markup() {
    let report = hostile_report();
    assert_eq!(
        report.environments[0].parts[0].findings[1].class,
        Class::Ignored
    );

    let html = render::html(&report).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&quot;quotes&quot; &amp; ampersands"),
        "{html}"
    );
    assert_html_valid(&html);

    let markdown = render::markdown(&report);
    let markup = outside_code_blocks(&markdown);
    assert!(!markup.to_lowercase().contains("<script"), "{markdown}");
    assert!(markup.contains("&lt;script&gt;"), "{markdown}");
    assert_tables_keep_their_columns(&markup);

    let text = render::text(&report);
    assert!(
        text.contains(NASTY),
        "text shows values as they are: {text}"
    );
    assert_schema_valid(
        &serde_json::to_string_pretty(&report).unwrap(),
        "drift.v1.json",
    );
}
