//! CloudFormation's drift detection path, which moto does not serve: the
//! real AWS SDK client answered with recorded responses by the SDK's own
//! test utility (`StaticReplayClient`), for every drift status a resource
//! can have (IN_SYNC, MODIFIED with property differences, DELETED,
//! NOT_CHECKED, absent from the results), and for detection denied or
//! still running at the timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use rel::drift::aws::{Clients, DetectOptions, check_stack};
use rel::drift::rules::Rules;
use rel::drift::{Class, Collected, DifferenceKind, PartKind, PartReport};
use rel::state::{ResourceRecord, StackRecord, redact};
use serde_json::json;

const SALT: &str = "salt";
const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/rel-shop-store-pr-1/6f1e";
const SECRET: &str = "{{resolve:secretsmanager:store/role-note}}";
const CANARY: &str = "canary-5d0b3e";

/// The template rel applied (and CloudFormation still holds).
fn template() -> serde_json::Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-logs"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]}
                ]},
                "Description": SECRET,
                "MaxSessionDuration": 3600
            }},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
            "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {"Enabled": true}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "events"}}
        }
    })
}

/// What rel recorded after applying `template()`.
fn record() -> StackRecord {
    let t = redact(&template(), SALT);
    let resources = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, v)| {
            (
                id.clone(),
                ResourceRecord {
                    address: format!("env:pr-1/app.store/resource.{}", id.to_lowercase()),
                    type_name: v["Type"].as_str().unwrap().to_string(),
                    physical_id: Some(format!("{}-physical", id.to_lowercase())),
                    values: v.clone(),
                },
            )
        })
        .collect();
    StackRecord {
        name: "rel-shop-store-pr-1".into(),
        stack_id: STACK_ID.into(),
        status: "CREATE_COMPLETE".into(),
        template_sha256: "0".into(),
        template: json!({"AWSTemplateFormatVersion": "2010-09-09"}),
        resources,
        outputs: BTreeMap::new(),
        applied_at: "2026-11-01T00:00:00Z".into(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A query-protocol response as CloudFormation sends it.
fn answer(action: &str, status: u16, result: &str) -> ReplayEvent {
    let body = if status == 200 {
        format!(
            "<{action}Response xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{action}Response>"
        )
    } else {
        result.to_string()
    };
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://cloudformation.us-east-1.amazonaws.com/")
            .body(SdkBody::from(format!("Action={action}")))
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(SdkBody::from(body))
            .unwrap(),
    )
}

/// The calls before drift detection: the stack, its template, its resources.
fn stack_answers() -> Vec<ReplayEvent> {
    let stack = format!(
        "<Stacks><member><StackName>rel-shop-store-pr-1</StackName><StackId>{STACK_ID}</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-01T00:00:00Z</CreationTime></member></Stacks>"
    );
    let body = escape(&template().to_string());
    let mut summaries = String::from("<StackResourceSummaries>");
    for (id, v) in template()["Resources"].as_object().unwrap() {
        summaries.push_str(&format!(
            "<member><LogicalResourceId>{id}</LogicalResourceId><PhysicalResourceId>{}-physical</PhysicalResourceId><ResourceType>{}</ResourceType><ResourceStatus>CREATE_COMPLETE</ResourceStatus><LastUpdatedTimestamp>2026-11-01T00:00:00Z</LastUpdatedTimestamp></member>",
            id.to_lowercase(),
            v["Type"].as_str().unwrap()
        ));
    }
    summaries.push_str("</StackResourceSummaries>");
    vec![
        answer("DescribeStacks", 200, &stack),
        answer(
            "GetTemplate",
            200,
            &format!(
                "<TemplateBody>{body}</TemplateBody><StagesAvailable><member>Original</member></StagesAvailable>"
            ),
        ),
        answer("ListStackResources", 200, &summaries),
    ]
}

fn detection_status(status: &str) -> ReplayEvent {
    answer(
        "DescribeStackDriftDetectionStatus",
        200,
        &format!(
            "<StackId>{STACK_ID}</StackId><StackDriftDetectionId>d-1</StackDriftDetectionId><StackDriftStatus>DRIFTED</StackDriftStatus><DetectionStatus>{status}</DetectionStatus><Timestamp>2026-11-26T00:00:00Z</Timestamp>"
        ),
    )
}

fn drift(id: &str, kind: &str, status: &str, differences: &[(&str, &str, &str, &str)]) -> String {
    drift_at(id, kind, status, differences, "2026-11-26T00:00:00Z")
}

/// A resource's drift result, checked at `when`. Property paths are as
/// CloudFormation writes them: under the resource's properties.
fn drift_at(
    id: &str,
    kind: &str,
    status: &str,
    differences: &[(&str, &str, &str, &str)],
    when: &str,
) -> String {
    let mut d = String::new();
    if !differences.is_empty() {
        d.push_str("<PropertyDifferences>");
        for (path, expected, actual, how) in differences {
            d.push_str(&format!(
                "<member><PropertyPath>{path}</PropertyPath><ExpectedValue>{}</ExpectedValue><ActualValue>{}</ActualValue><DifferenceType>{how}</DifferenceType></member>",
                escape(expected),
                escape(actual)
            ));
        }
        d.push_str("</PropertyDifferences>");
    }
    format!(
        "<member><StackId>{STACK_ID}</StackId><LogicalResourceId>{id}</LogicalResourceId><PhysicalResourceId>{}-physical</PhysicalResourceId><ResourceType>{kind}</ResourceType><StackResourceDriftStatus>{status}</StackResourceDriftStatus>{d}<Timestamp>{when}</Timestamp></member>",
        id.to_lowercase()
    )
}

fn client(events: Vec<ReplayEvent>) -> (aws_sdk_cloudformation::Client, StaticReplayClient) {
    let replay = StaticReplayClient::new(events);
    let config = aws_sdk_cloudformation::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .http_client(replay.clone())
        .build();
    (aws_sdk_cloudformation::Client::from_conf(config), replay)
}

fn collect(events: Vec<ReplayEvent>, timeout: Duration) -> (Collected, Vec<String>) {
    let (cf, replay) = client(events);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let collected = rt.block_on(check_stack(
        &Clients {
            cloudformation: &cf,
            s3: None,
        },
        &record(),
        SALT,
        DetectOptions {
            timeout,
            poll: Duration::from_millis(5),
        },
    ));
    // The calls made, in order, by their action.
    let actions = replay
        .actual_requests()
        .map(|r| {
            let body = std::str::from_utf8(r.body().bytes().unwrap()).unwrap();
            body.split('&')
                .find_map(|p| p.strip_prefix("Action="))
                .unwrap()
                .to_string()
        })
        .collect();
    (collected, actions)
}

fn part(collected: Collected, rules: &[rel::compile::DriftRule]) -> PartReport {
    PartReport::new(
        "rel-shop-store-pr-1".into(),
        PartKind::Stack,
        collected,
        &Rules::new(rules, "2026-11-26"),
    )
}

#[test]
fn every_drift_status_is_classified_and_normalisation_is_not_drift() {
    let mut events = stack_answers();
    events.push(answer(
        "DetectStackDrift",
        200,
        "<StackDriftDetectionId>d-1</StackDriftDetectionId>",
    ));
    events.push(detection_status("DETECTION_IN_PROGRESS"));
    events.push(detection_status("DETECTION_COMPLETE"));
    let policy_expected = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole"]}]}"#;
    // The same policy as IAM returns it: another key order, a bare action.
    let policy_actual = r#"{"Statement":[{"Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"},"Effect":"Allow"}],"Version":"2012-10-17"}"#;
    let drifts = [
        drift("Bucket", "AWS::S3::Bucket", "IN_SYNC", &[]),
        drift(
            "Role",
            "AWS::IAM::Role",
            "MODIFIED",
            &[
                (
                    "/AssumeRolePolicyDocument",
                    policy_expected,
                    policy_actual,
                    "NOT_EQUAL",
                ),
                ("/MaxSessionDuration", "3600", "7200", "NOT_EQUAL"),
                ("/Description", CANARY, "edited by hand", "NOT_EQUAL"),
                ("/Tags/0", "", r#"{"Key":"owner","Value":"ops"}"#, "ADD"),
            ],
        ),
        drift("Queue", "AWS::SQS::Queue", "DELETED", &[]),
        drift("Cdn", "AWS::CloudFront::Distribution", "NOT_CHECKED", &[]),
        // A result from an earlier detection (this one could not check the
        // topic): not taken as this detection's answer.
        drift_at(
            "Topic",
            "AWS::SNS::Topic",
            "IN_SYNC",
            &[],
            "2026-11-20T00:00:00Z",
        ),
    ];
    events.push(answer(
        "DescribeStackResourceDrifts",
        200,
        &format!(
            "<StackResourceDrifts>{}</StackResourceDrifts>",
            drifts.concat()
        ),
    ));
    let (collected, actions) = collect(events, Duration::from_secs(30));
    assert_eq!(
        actions,
        [
            "DescribeStacks",
            "GetTemplate",
            "ListStackResources",
            "DetectStackDrift",
            "DescribeStackDriftDetectionStatus",
            "DescribeStackDriftDetectionStatus",
            "DescribeStackResourceDrifts"
        ]
    );
    let report = part(collected, &[]);
    assert!(report.itself.is_none(), "{:#?}", report.itself);
    let s = report.summary;
    assert_eq!((s.resources, s.checked, s.not_checked), (5, 3, 2), "{s:?}");
    assert_eq!((s.in_sync, s.modified, s.deleted), (1, 1, 1), "{s:?}");
    assert_eq!(report.in_sync, ["Bucket"]);
    let by_name = |name: &str| {
        report
            .findings
            .iter()
            .find(|f| f.resource == name)
            .unwrap_or_else(|| panic!("no finding for {name}: {:#?}", report.findings))
    };

    let role = by_name("Role");
    assert_eq!(role.class, Class::Modified);
    assert_eq!(role.source, "drift-detection");
    assert_eq!(
        role.address.as_deref(),
        Some("env:pr-1/app.store/resource.role")
    );
    let paths: Vec<&str> = role.differences.iter().map(|d| d.path.as_str()).collect();
    // The re-serialised policy is not among them.
    assert_eq!(
        paths,
        [
            "Properties.MaxSessionDuration",
            "Properties.Description",
            "Properties.Tags[0]"
        ]
    );
    assert_eq!(role.differences[0].expected, Some(json!(3600)));
    assert_eq!(role.differences[0].actual, Some(json!(7200)));
    assert_eq!(role.differences[0].kind, DifferenceKind::Changed);
    // The recorded Description is a secret reference: both sides masked.
    assert!(role.differences[1].sensitive);
    assert_eq!(role.differences[1].expected, Some(json!("(sensitive)")));
    assert_eq!(role.differences[1].actual, Some(json!("(sensitive)")));
    assert_eq!(role.differences[2].kind, DifferenceKind::Added);
    assert_eq!(role.differences[2].expected, None);
    assert_eq!(
        role.differences[2].actual,
        Some(json!({"Key": "owner", "Value": "ops"}))
    );

    assert_eq!(by_name("Queue").class, Class::Deleted);
    let cdn = by_name("Cdn");
    assert_eq!(cdn.class, Class::NotChecked);
    assert!(
        cdn.reason
            .as_deref()
            .unwrap()
            .contains("does not support AWS::CloudFront::Distribution"),
        "{cdn:?}"
    );
    let topic = by_name("Topic");
    assert_eq!(topic.class, Class::NotChecked);
    assert!(
        topic
            .reason
            .as_deref()
            .unwrap()
            .contains("not in CloudFormation's drift detection results"),
        "{topic:?}"
    );
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains(CANARY), "{text}");
    assert!(!text.contains("edited by hand"), "{text}");
}

#[test]
fn ignore_rules_apply_to_drift_detection_differences() {
    let mut events = stack_answers();
    events.push(answer(
        "DetectStackDrift",
        200,
        "<StackDriftDetectionId>d-1</StackDriftDetectionId>",
    ));
    events.push(detection_status("DETECTION_COMPLETE"));
    events.push(answer(
        "DescribeStackResourceDrifts",
        200,
        &format!(
            "<StackResourceDrifts>{}{}</StackResourceDrifts>",
            drift(
                "Role",
                "AWS::IAM::Role",
                "MODIFIED",
                &[("/Tags/0", "", r#"{"Key":"owner","Value":"ops"}"#, "ADD")]
            ),
            drift("Queue", "AWS::SQS::Queue", "DELETED", &[]),
        ),
    ));
    let (collected, _) = collect(events, Duration::from_secs(30));
    let rules = [
        rel::compile::DriftRule {
            path: "*.Properties.Tags".into(),
            reason: "tags are set by the cost tool".into(),
            expires: None,
            span: Default::default(),
        },
        rel::compile::DriftRule {
            path: "Queue".into(),
            reason: "being migrated".into(),
            expires: Some("2026-11-25".into()),
            span: Default::default(),
        },
    ];
    let report = part(collected, &rules);
    let role = report
        .findings
        .iter()
        .find(|f| f.resource == "Role")
        .unwrap();
    assert_eq!(role.class, Class::Ignored);
    assert_eq!(role.ignored.len(), 1);
    assert_eq!(
        role.ignored[0].rule.as_ref().unwrap().reason,
        "tags are set by the cost tool"
    );
    // The Queue's rule expired yesterday: deleted again, and it says why.
    let queue = report
        .findings
        .iter()
        .find(|f| f.resource == "Queue")
        .unwrap();
    assert_eq!(queue.class, Class::Deleted);
    assert!(queue.rule.as_ref().unwrap().expired);
    assert_eq!(report.summary.ignored, 1);
    assert_eq!(report.summary.deleted, 1);
}

#[test]
fn detection_denied_or_unfinished_leaves_resources_not_checked() {
    let mut denied = stack_answers();
    denied.push(answer(
        "DetectStackDrift",
        403,
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: cloudformation:DetectStackDrift</Message></Error><RequestId>r-2</RequestId></ErrorResponse>",
    ));
    let (collected, _) = collect(denied, Duration::from_secs(30));
    let report = part(collected, &[]);
    assert_eq!(report.summary.not_checked, 5, "{:#?}", report.findings);
    assert_eq!(report.summary.checked, 0);
    for f in &report.findings {
        let reason = f.reason.as_deref().unwrap();
        assert!(
            reason.contains("permission denied") && reason.contains("AccessDenied"),
            "{reason}"
        );
    }

    let mut slow = stack_answers();
    slow.push(answer(
        "DetectStackDrift",
        200,
        "<StackDriftDetectionId>d-1</StackDriftDetectionId>",
    ));
    slow.push(detection_status("DETECTION_IN_PROGRESS"));
    let (collected, _) = collect(slow, Duration::ZERO);
    let report = part(collected, &[]);
    assert_eq!(report.summary.not_checked, 5);
    assert!(
        report.findings[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("did not finish within 0 s"),
        "{:#?}",
        report.findings
    );
}
