//! `rel plan` over 10,000 recorded resources and 15,000 Kubernetes objects
//! with nothing changed: a generated app of 5,000 services, each with an
//! ECR repository and a Route 53 record in the environment's stack and a
//! Deployment, a Service and an Ingress, recorded as applied. Measures the
//! plan of the stacks in process (desired, recorded and live compared,
//! with live equal to the record as a refresh would find it), the
//! comparison of the objects in process (filled, compared with what the
//! cluster would return), then the release binary end to end from state
//! (`--refresh=false`: compile, read the states, compare, print).
//! `cargo bench --bench plan [-- SERVICES]`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::collections::BTreeMap;
use std::time::Instant;

use rel::deploy::Desired;
use rel::deploy::kubernetes::{self as k8s, Values};
use rel::deploy::plan::{self, LiveStack, Precondition, StackInput};
use rel::state::State;

fn main() {
    let services = generate::services_arg();
    let dir = generate::write_build_app(services, "rel-plan-bench");
    let (model, build) = generate::build_app(&dir);
    let desired =
        Desired::from_build(&model, &build, rel::emit::Target::Aws).expect("JSON templates");

    // What a refresh finds, and the states an apply would have recorded.
    let mut live = BTreeMap::new();
    let mut states = BTreeMap::new();
    let state_dir = dir.join(".rel/state");
    for d in &desired.stacks {
        let l = LiveStack {
            stack_id: format!(
                "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/1",
                d.name
            ),
            status: "CREATE_COMPLETE".into(),
            template: Some(d.template.clone()),
            outputs: BTreeMap::new(),
            physical_ids: d
                .addresses
                .keys()
                .map(|k| (k.clone(), format!("physical-{k}")))
                .collect(),
            tags: BTreeMap::new(),
        };
        let mut state = State::new(d.layer.clone());
        state.serial = 1;
        state.names = Some(desired.names.clone());
        if !d.layer.is_shared() {
            // The environment's objects, as apply records them.
            let values = Values {
                placeholders: &desired.placeholders,
                outputs: &BTreeMap::new(),
                secrets: None,
            };
            let objects = desired
                .objects
                .iter()
                .map(|o| {
                    // Marked with the state's lineage, as apply marks them.
                    let mut f = k8s::fill(o, &values).expect("filled");
                    rel::deploy::ownership::annotate(&mut f.manifest, &state.lineage);
                    (f.key.id(), k8s::object_record(&f, None, &state.salt))
                })
                .collect();
            state.kubernetes = Some(rel::state::KubeRecord {
                server: "https://cluster.example:6443".into(),
                objects,
            });
        }
        state.stack = Some(rel::deploy::run::record(
            &d.name,
            &l,
            Some(d),
            None,
            &state.salt,
        ));
        rel::atomic_file::write_atomically(
            &state_dir.join(format!("{}.json", d.name)),
            state.to_json().as_bytes(),
        )
        .expect("the state is written");
        live.insert(d.name.clone(), l);
        states.insert(d.name.clone(), state);
    }
    let recorded: usize = states
        .values()
        .map(|s| s.stack.as_ref().map_or(0, |st| st.resources.len()))
        .sum();

    let plan_once = || {
        let inputs: Vec<StackInput<'_>> = desired
            .stacks
            .iter()
            .map(|d| StackInput {
                name: &d.name,
                layer: &d.layer,
                desired: Some(d),
                recorded: states[&d.name].stack.as_ref(),
                live: Some(live.get(&d.name)),
                salt: &states[&d.name].salt,
                precondition: Precondition {
                    lineage: Some(states[&d.name].lineage.clone()),
                    serial: 1,
                },
            })
            .collect();
        let start = Instant::now();
        let p = plan::plan(&desired.environment, &inputs, true, &[], "bench");
        let took = start.elapsed();
        assert!(!p.has_changes(), "nothing changed, so the plan is empty");
        assert_eq!(p.summary.unchanged, recorded);
        took
    };
    let mut times = generate::repeat(20, 20, plan_once);
    println!(
        "plan in process: {recorded} recorded resources, refreshed, no changes   median {:.1} ms   runs {}",
        generate::median_ms(&mut times),
        times.len()
    );

    // The objects: filled and compared with what the cluster returns (the
    // applied configuration; server defaults aside, the same fields).
    let env_state = states
        .values()
        .find(|s| s.kubernetes.is_some())
        .expect("the environment's state");
    let record = env_state.kubernetes.as_ref().expect("recorded objects");
    let compare_once = || {
        let values = Values {
            placeholders: &desired.placeholders,
            outputs: &BTreeMap::new(),
            secrets: None,
        };
        let start = Instant::now();
        let mut unchanged = 0;
        for o in &desired.objects {
            let mut f = k8s::fill(o, &values).expect("filled");
            rel::deploy::ownership::annotate(&mut f.manifest, &env_state.lineage);
            let r = record.objects.get(&f.key.id());
            let c = k8s::object_change(&f, r.map(|r| &r.applied), r, &env_state.salt);
            unchanged += usize::from(c.action == plan::Action::NoOp);
        }
        let took = start.elapsed();
        assert_eq!(unchanged, desired.objects.len(), "nothing changed");
        took
    };
    let mut times = generate::repeat(10, 20, compare_once);
    println!(
        "objects in process: {} Kubernetes objects filled and compared, no changes   median {:.1} ms   runs {}",
        desired.objects.len(),
        generate::median_ms(&mut times),
        times.len()
    );

    // Drift: each recorded object against the live one (what was applied,
    // plus what the server adds: metadata, defaults, status), then the
    // stacks' recorded resources against the deployed template, and the
    // report with ignore rules applied.
    let lives: Vec<(k8s::ObjectKey, &rel::state::ObjectRecord, serde_json::Value)> = record
        .objects
        .values()
        .map(|o| {
            let mut live = o.applied.clone();
            if let Some(m) = live.as_object_mut() {
                let meta = m.entry("metadata").or_insert_with(|| serde_json::json!({}));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert("uid".into(), "00000000-0000-0000-0000-000000000001".into());
                    meta.insert("resourceVersion".into(), "12345".into());
                    meta.insert("generation".into(), 1.into());
                }
                m.insert(
                    "status".into(),
                    serde_json::json!({"observedGeneration": 1}),
                );
            }
            (k8s::ObjectKey::of_record(o), o, live)
        })
        .collect();
    let rules = [rel::compile::DriftRule {
        path: "Deployment/*.spec.replicas".into(),
        reason: "autoscaled".into(),
        expires: None,
        span: Default::default(),
    }];
    let drift_once = || {
        let start = Instant::now();
        let mut collected = rel::drift::Collected::default();
        for (key, o, live) in &lives {
            collected.resources.push((
                rel::drift::kubernetes::resource_name(key),
                rel::drift::kubernetes::compared(key, o, live),
            ));
        }
        let mut stacks = Vec::new();
        for s in states.values() {
            let Some(stack) = &s.stack else { continue };
            let deployed = rel::state::redact(
                live[&stack.name].template.as_ref().expect("a template"),
                &s.salt,
            );
            let mut c = rel::drift::Collected::default();
            for (id, r) in &stack.resources {
                let d = rel::drift::differences(Some(&r.values), deployed["Resources"].get(id));
                c.resources.push((
                    id.clone(),
                    (!d.is_empty()).then(|| {
                        rel::drift::Finding::new(
                            rel::drift::Class::Modified,
                            id.clone(),
                            r.type_name.clone(),
                        )
                        .differences(d)
                    }),
                ));
            }
            stacks.push(c);
        }
        let rules = rel::drift::rules::Rules::new(&rules, "2026-11-26");
        let mut parts: Vec<rel::drift::PartReport> = stacks
            .into_iter()
            .map(|c| {
                rel::drift::PartReport::new("stack".into(), rel::drift::PartKind::Stack, c, &rules)
            })
            .collect();
        parts.push(rel::drift::PartReport::new(
            "kubernetes/production".into(),
            rel::drift::PartKind::Kubernetes,
            collected,
            &rules,
        ));
        let env = rel::drift::EnvironmentReport::new(
            "production".into(),
            "aws",
            parts,
            Vec::new(),
            &rules,
        );
        let report = rel::drift::Report::new("2026-11-26T00:00:00Z".into(), vec![env]);
        let text = rel::drift::render::text(&report);
        let took = start.elapsed();
        assert!(!report.drifted, "nothing drifted: {text}");
        assert_eq!(report.summary.in_sync, recorded + lives.len());
        took
    };
    let mut times = generate::repeat(10, 20, drift_once);
    println!(
        "drift in process: {} objects and {recorded} stack resources compared with live, report built   median {:.1} ms   runs {}",
        lives.len(),
        generate::median_ms(&mut times),
        times.len()
    );

    // The binary, from state.
    let mut runs = generate::repeat(10, 30, || {
        let start = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rel"))
            .args([
                "plan",
                "--env",
                "production",
                "--set",
                "git.sha=abc1234",
                "--refresh=false",
            ])
            .arg(&dir)
            .output()
            .expect("rel runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "no changes: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed()
    });
    let runs_count = runs.len();
    println!(
        "rel plan --refresh=false (the binary, compile included): {recorded} recorded resources   wall median {:.1} ms   runs {runs_count}",
        generate::median_ms(&mut runs)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
