//! Compiling environments: selection, overrides, expansion of components
//! and services, symbolic values, the dependency graph and its cycles.

use std::path::{Path, PathBuf};

use rel::compile::{Address, Model, render};
use rel::eval::value::Value;
use rel::source::SourceMap;

mod support;

fn shop() -> Vec<rel::resolve::Entry> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    vec![rel::resolve::Entry {
        display: "main.rel".into(),
        path: dir.join("main.rel"),
        root: dir,
    }]
}

fn compile(
    entries: &[rel::resolve::Entry],
    env: &str,
    sets: &[(&str, &str)],
) -> Result<Model, Vec<rel::diagnostic::Diagnostic>> {
    rel::compile_entries(&mut SourceMap::new(), entries, &support::options(env, sets))
}

fn project(name: &str, text: &str) -> Vec<rel::resolve::Entry> {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("compile")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.rel"), text).unwrap();
    vec![rel::resolve::Entry {
        display: "main.rel".into(),
        path: dir.join("main.rel"),
        root: dir,
    }]
}

fn resource<'m>(model: &'m Model, address: &str) -> &'m Value {
    let found = model
        .resources
        .iter()
        .find(|(a, _)| a.to_string() == address);
    &found
        .unwrap_or_else(|| {
            panic!(
                "no {address}; have {:?}",
                model
                    .resources
                    .keys()
                    .map(Address::to_string)
                    .collect::<Vec<_>>()
            )
        })
        .1
        .properties
}

fn at<'v>(v: &'v Value, path: &[&str]) -> &'v Value {
    path.iter()
        .fold(v, |v, key| match (v, key.parse::<usize>()) {
            (Value::List(items), Ok(i)) => &items[i],
            (Value::Map(m), _) => m.get(key).unwrap_or_else(|| panic!("no `{key}` in {v}")),
            _ => panic!("cannot take `{key}` of {v}"),
        })
}

#[test]
fn the_shop_graph_is_stable() {
    let model = compile(&shop(), "production", &[("git.sha", "abc1234")]).unwrap();
    insta::assert_snapshot!("shop_production_graph", render::to_json(&model));
    let again = compile(&shop(), "production", &[("git.sha", "abc1234")]).unwrap();
    assert_eq!(render::to_json(&model), render::to_json(&again));
    assert_eq!(render::to_dot(&model), render::to_dot(&again));
    assert_eq!(render::to_mermaid(&model), render::to_mermaid(&again));
    assert!(model.graph.topological_order().is_ok());
}

#[test]
fn environments_are_selected_by_their_evaluated_name() {
    let model = compile(&shop(), "pr-feature-x", &[("branch", "feature/x")]).unwrap();
    assert_eq!(model.environment.name, "pr-feature-x");
    assert_eq!(model.environment.namespace, "acme-store-pr-feature-x");
    assert_eq!(model.environment.tier, "preprod");
    assert!(model.environment.ephemeral);

    let errors = compile(&shop(), "pr-42", &[]).unwrap_err();
    assert_eq!(errors[0].code.id, "E0404");
    assert!(
        errors[0]
            .help
            .as_deref()
            .unwrap()
            .contains("pr-main, production"),
        "{:?}",
        errors[0].help
    );
}

#[test]
fn overrides_defaults_and_symbolic_values_reach_the_objects() {
    let model = compile(&shop(), "production", &[("git.sha", "abc1234")]).unwrap();
    let deployment = resource(
        &model,
        "env:production/app.store/service.shoes/k8s.deployment",
    );
    assert_eq!(
        at(deployment, &["spec", "replicas"]),
        &Value::Int(6),
        "the environment's override"
    );
    let container = at(deployment, &["spec", "template", "spec", "containers", "0"]);
    assert_eq!(
        at(container, &["image"]),
        &Value::Str("registry.example.com/shop/shoes:abc1234".into())
    );
    assert_eq!(
        at(container, &["resources", "requests", "cpu"]),
        &Value::Str("500m".into())
    );
    let env: Vec<(String, Value)> = match at(container, &["env"]) {
        Value::List(items) => items
            .iter()
            .map(|e| (at(e, &["name"]).as_str().unwrap().to_string(), e.clone()))
            .collect(),
        other => panic!("{other}"),
    };
    let find = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, e)| e).unwrap();
    assert_eq!(
        at(find("LOG_LEVEL"), &["value"]),
        &Value::Str("warn".into())
    );
    let url = at(find("DATABASE_URL"), &["value"]);
    assert!(
        !url.is_known(),
        "the database URL is known only after apply: {url}"
    );
    assert!(
        url.symbols()
            .iter()
            .all(|s| s.address.text() == "env:production/app.store/database.db/resource.instance")
    );
    let buyer = resource(
        &model,
        "env:production/app.store/service.buyer/k8s.deployment",
    );
    assert_eq!(at(buyer, &["spec", "replicas"]), &Value::Int(3));

    let ingress = resource(&model, "env:production/app.store/service.shoes/k8s.ingress");
    let hosts: Vec<&Value> = match at(ingress, &["spec", "rules"]) {
        Value::List(rules) => rules.iter().map(|r| at(r, &["host"])).collect(),
        other => panic!("{other}"),
    };
    assert_eq!(
        hosts,
        vec![
            &Value::Str("shoes-production.example.com".into()),
            &Value::Str("shoes.example.org".into())
        ]
    );

    let rds = resource(
        &model,
        "env:production/app.store/database.db/resource.instance",
    );
    assert_eq!(
        at(rds, &["MasterUserPassword"]),
        &Value::Secret("shop/db-password".into())
    );
    assert_eq!(
        at(rds, &["DBInstanceClass"]),
        &Value::Str("db.t4g.small".into())
    );
    assert!(
        model.secrets.contains("shop/db-password")
            && model.secrets.contains("shop/datadog-api-key")
    );
    let vpc = resource(&model, "shared/cluster.main/resource.vpc");
    assert_eq!(
        at(vpc, &["CidrBlock"]),
        &Value::Str("10.0.0.0/16".into()),
        "a component default"
    );
}

#[test]
fn a_cycle_is_reported_with_each_reference() {
    let entries = project(
        "cycle",
        r#"resource a "AWS::EC2::SecurityGroup" {
  GroupDescription = "a"
  Tags = [{ Key = "peer", Value = b.GroupId }]
}
resource b "AWS::EC2::SecurityGroup" {
  GroupDescription = "b"
  Tags = [{ Key = "peer", Value = a.GroupId }]
}
project "t"
app web {
  service site { image = "nginx" }
}
environment "dev" from web {}
"#,
    );
    let errors = compile(&entries, "dev", &[]).unwrap_err();
    assert_eq!(errors.len(), 1);
    let d = &errors[0];
    assert_eq!(d.code.id, "E0406");
    assert_eq!(
        d.message,
        "dependency cycle: shared/resource.a → shared/resource.b → shared/resource.a"
    );
    assert_eq!(d.labels.len(), 2, "one label per reference");
    assert!(
        d.labels
            .iter()
            .any(|l| l.message == "`a` refers to `b` here")
    );
}

#[test]
fn parameters_without_values_are_reported() {
    let entries = project(
        "param",
        r#"param account: string
project "t"
app web {
  service site { image = "nginx:${account}" }
}
environment "dev" from web {}
"#,
    );
    let errors = compile(&entries, "dev", &[]).unwrap_err();
    assert!(errors.iter().any(|d| d.code.id == "E0405"), "{errors:?}");
    let model = compile(&entries, "dev", &[("account", "123")]).unwrap();
    let container = at(
        resource(&model, "env:dev/app.web/service.site/k8s.deployment"),
        &["spec", "template", "spec", "containers", "0"],
    );
    assert_eq!(at(container, &["image"]), &Value::Str("nginx:123".into()));
}
