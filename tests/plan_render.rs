//! How plans read: text for terminals and Markdown for pull requests,
//! snapshotted over a plan with every kind of change (create, update,
//! replace, delete, a secret, a value known after apply, a change made
//! outside rel, a certificate to validate by hand).

use rel::address::Layer;
use std::collections::BTreeMap;

use rel::deploy::DesiredStack;
use rel::deploy::plan::{self, LiveStack, Precondition, StackInput};
use rel::deploy::render;
use rel::emit::ManualValidation;
use rel::state::StackRecord;
use serde_json::json;

fn desired(name: &str, layer: &str, template: serde_json::Value) -> DesiredStack {
    let addresses: BTreeMap<String, String> = template["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), format!("{layer}/resource.{}", k.to_lowercase())))
        .collect();
    DesiredStack {
        name: name.into(),
        layer: if layer == "shared" {
            Layer::Shared
        } else {
            Layer::Environment(layer.trim_start_matches("env:").into())
        },
        text: template.to_string(),
        sha256: String::new(),
        addresses,
        depends_on: Vec::new(),
        deployment: None,
        template,
    }
}

fn live(template: serde_json::Value) -> LiveStack {
    LiveStack {
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/x/1".into(),
        status: "UPDATE_COMPLETE".into(),
        template: Some(template),
        outputs: BTreeMap::new(),
        physical_ids: [("Old".to_string(), "old-bucket".to_string())].into(),
        tags: BTreeMap::new(),
    }
}

fn example_plan() -> plan::Plan {
    let before = json!({
        "Description": "rel shop: rel-env-pr-1",
        "Resources": {
            "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "shop/a", "ImageScanningConfiguration": {"ScanOnPush": true}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Description": "{{resolve:secretsmanager:shop/one}}", "MaxSessionDuration": 3600}},
            "Record": {"Type": "AWS::Route53::RecordSet", "Properties": {"Name": "a.example.com", "ResourceRecords": ["1.2.3.4"]}},
            "Old": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "old-bucket"}}
        }
    });
    let after = json!({
        "Description": "rel shop: rel-env-pr-1 (v2)",
        "Resources": {
            "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "shop/b", "ImageScanningConfiguration": {"ScanOnPush": true}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Description": "{{resolve:secretsmanager:shop/two}}", "MaxSessionDuration": 7200}},
            "Record": {"Type": "AWS::Route53::RecordSet", "Properties": {"Name": "a.example.com", "ResourceRecords": [{"Fn::GetAtt": ["Lb", "DNSName"]}]}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/shop/pr-1", "RetentionInDays": 14}}
        }
    });
    // What rel last applied: the role's session length was changed by hand since.
    let mut recorded_template = before.clone();
    recorded_template["Resources"]["Role"]["Properties"]["MaxSessionDuration"] = json!(1800);
    let salt = "salt";
    let record = StackRecord {
        name: "rel-env-pr-1".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/x/1".into(),
        status: "UPDATE_COMPLETE".into(),
        template_sha256: "0".repeat(64),
        template: json!({"Description": "rel shop: rel-env-pr-1"}),
        resources: recorded_template["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    rel::state::ResourceRecord {
                        address: format!("env:pr-1/resource.{}", k.to_lowercase()),
                        type_name: v["Type"].as_str().unwrap().into(),
                        physical_id: None,
                        values: rel::state::redact(v, salt),
                    },
                )
            })
            .collect(),
        outputs: BTreeMap::new(),
        applied_at: "2026-11-26T00:00:00Z".into(),
    };
    let env = desired("rel-env-pr-1", "env:pr-1", after);
    let shared_template = json!({"Resources": {"Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.com"}}}});
    let shared = desired("rel-shared", "shared", shared_template.clone());
    let shared_live = live(shared_template);
    let env_live = live(before);
    let inputs = [
        StackInput {
            name: "rel-shared",
            layer: &Layer::Shared,
            desired: Some(&shared),
            recorded: None,
            live: Some(Some(&shared_live)),
            salt,
            precondition: Precondition::default(),
        },
        StackInput {
            name: "rel-env-pr-1",
            layer: &Layer::Environment("pr-1".into()),
            desired: Some(&env),
            recorded: Some(&record),
            live: Some(Some(&env_live)),
            salt,
            precondition: Precondition {
                lineage: Some("l".into()),
                serial: 7,
            },
        },
    ];
    let manual = [ManualValidation {
        certificate: "shared/certificate.web/resource.cert".into(),
        domains: vec!["*.example.com".into()],
        record_type: "CNAME".into(),
        records: "known once ACM has the request".into(),
    }];
    let mut p = plan::plan("pr-1", &inputs, true, &manual, "digest-salt");
    p.validation_records = vec![plan::CertificateRecords {
        certificate: "shared/certificate.web/resource.cert".into(),
        arn: "arn:aws:acm:us-east-1:123456789012:certificate/1".into(),
        records: vec![plan::ValidationRecord {
            domain: "*.example.com".into(),
            name: "_d930.example.com.".into(),
            record_type: "CNAME".into(),
            value: "_c9ed.acm-validations.aws.".into(),
            status: "PENDING_VALIDATION".into(),
        }],
    }];
    p
}

#[test]
fn text_plans_read_summary_first_with_destroys_pinned() {
    let plan = example_plan();
    let text = render::text(&plan);
    insta::assert_snapshot!("plan_text", text);
    assert!(!text.contains("shop/one") && !text.contains("shop/two"));
}

#[test]
fn markdown_plans_are_pull_request_comments() {
    let plan = example_plan();
    let md = render::markdown(&plan);
    insta::assert_snapshot!("plan_markdown", md);
    assert!(!md.contains("shop/one") && !md.contains("shop/two"));
}
