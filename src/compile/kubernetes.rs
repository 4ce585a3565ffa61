//! Services and jobs as Kubernetes objects, with rel's ownership labels so a
//! later apply can find and prune what it owns.

use crate::eval::value::{Fields, Str, Value};
use crate::identity::Names;

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

/// A map with static keys (borrowed, not copied).
fn map<const N: usize>(entries: [(&'static str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Str::const_new(k), v))
            .collect(),
    )
}

/// Ownership labels (project, app, environment), and the component's
/// name when it has one.
fn labels(names: &Names, component: Option<&str>) -> Value {
    let mut l: Fields = names
        .labels()
        .into_iter()
        .map(|(k, v)| (Str::const_new(k), s(v)))
        .collect();
    if let Some(c) = component {
        l.insert(Str::const_new("app.kubernetes.io/name"), s(c));
    }
    Value::Map(l)
}

fn metadata(name: &str, names: &Names, component: Option<&str>) -> Value {
    map([
        ("name", s(name)),
        ("namespace", s(&names.namespace)),
        ("labels", labels(names, component)),
    ])
}

pub fn namespace(names: &Names) -> Value {
    map([
        ("apiVersion", s("v1")),
        ("kind", s("Namespace")),
        (
            "metadata",
            map([
                ("name", s(&names.namespace)),
                ("labels", labels(names, None)),
            ]),
        ),
    ])
}

/// The Secret apply creates in a namespace for environment variables that
/// hold secrets.
pub const ENV_SECRET: &str = "rel-secrets";

/// Environment variables: plain values, or references to the secret that
/// apply creates from the secret store (never the value itself).
fn env_vars(env: Option<&Value>) -> Value {
    let Some(Value::Map(vars)) = env else {
        return Value::List(Vec::new());
    };
    Value::List(
        vars.iter()
            .map(|(name, value)| match value {
                Value::Secret(secret) => map([
                    ("name", s(name)),
                    (
                        "valueFrom",
                        map([(
                            "secretKeyRef",
                            map([("name", s(ENV_SECRET)), ("key", s(&secret_key(secret)))]),
                        )]),
                    ),
                ]),
                Value::Str(_) | Value::Unknown(_) | Value::Interpolated(_) | Value::Derived(_) => {
                    map([("name", s(name)), ("value", value.clone())])
                }
                other => map([
                    ("name", s(name)),
                    ("value", s(&other.as_text().unwrap_or_default())),
                ]),
            })
            .collect(),
    )
}

/// The key of a secret inside the `rel-secrets` Secret: its name with
/// characters Kubernetes keys do not allow replaced.
pub fn secret_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .collect()
}

fn container(name: &str, settings: &Fields) -> Value {
    let mut c = Fields::from([
        ("name".to_string(), s(name)),
        (
            "image".to_string(),
            settings.get("image").cloned().unwrap_or(Value::Null),
        ),
        ("env".to_string(), env_vars(settings.get("env"))),
    ]);
    if let Some(Value::Map(resources)) = settings.get("resources") {
        let requests = Value::Map(resources.clone());
        c.insert(
            "resources",
            map([("requests", requests.clone()), ("limits", requests)]),
        );
    }
    for key in ["command", "args"] {
        if let Some(v @ Value::List(_)) = settings.get(key) {
            c.insert(key, v.clone());
        }
    }
    Value::Map(c)
}

/// The ServiceAccount a service's pods run as, if any.
fn account_name(name: &str, settings: &Fields) -> String {
    match settings.get("service_account") {
        Some(Value::Str(account)) => account.to_string(),
        _ => name.to_string(),
    }
}

/// A pod spec with one container, and the ServiceAccount when there is one.
fn pod_spec(name: &str, settings: &Fields, container: Value) -> Value {
    let mut spec = Fields::from([("containers".to_string(), Value::List(vec![container]))]);
    let annotated =
        matches!(settings.get("service_account_annotations"), Some(Value::Map(m)) if !m.is_empty());
    if annotated || matches!(settings.get("service_account"), Some(Value::Str(_))) {
        spec.insert("serviceAccountName", s(&account_name(name, settings)));
    }
    Value::Map(spec)
}

/// Deployment, Service, a ServiceAccount when asked for, and (for a public
/// service with a hostname) an Ingress.
pub fn service_objects(
    name: &str,
    names: &Names,
    settings: &Fields,
) -> Vec<(&'static str, &'static str, Value)> {
    let port = settings.get("port").cloned().unwrap_or(Value::Int(8080));
    let selector = map([("app.kubernetes.io/name", s(name))]);
    let mut container = container(name, settings);
    if let Value::Map(c) = &mut container {
        c.insert(
            "ports",
            Value::List(vec![map([
                ("containerPort", port.clone()),
                ("name", s("http")),
            ])]),
        );
        if let Some(Value::Map(health)) = settings.get("health") {
            let probe = map([
                (
                    "httpGet",
                    map([
                        ("path", health.get("path").cloned().unwrap_or(s("/healthz"))),
                        ("port", health.get("port").cloned().unwrap_or(port.clone())),
                    ]),
                ),
                (
                    "initialDelaySeconds",
                    health
                        .get("initial_delay_seconds")
                        .cloned()
                        .unwrap_or(Value::Int(5)),
                ),
                (
                    "periodSeconds",
                    health
                        .get("period_seconds")
                        .cloned()
                        .unwrap_or(Value::Int(10)),
                ),
                (
                    "timeoutSeconds",
                    health
                        .get("timeout_seconds")
                        .cloned()
                        .unwrap_or(Value::Int(2)),
                ),
            ]);
            c.insert("readinessProbe", probe.clone());
            c.insert("livenessProbe", probe);
        }
    }
    let deployment = map([
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        ("metadata", metadata(name, names, Some(name))),
        (
            "spec",
            map([
                (
                    "replicas",
                    settings.get("replicas").cloned().unwrap_or(Value::Int(1)),
                ),
                ("selector", map([("matchLabels", selector.clone())])),
                (
                    "template",
                    map([
                        ("metadata", map([("labels", labels(names, Some(name)))])),
                        ("spec", pod_spec(name, settings, container)),
                    ]),
                ),
            ]),
        ),
    ]);
    let service = map([
        ("apiVersion", s("v1")),
        ("kind", s("Service")),
        ("metadata", metadata(name, names, Some(name))),
        (
            "spec",
            map([
                ("selector", selector),
                (
                    "ports",
                    Value::List(vec![map([
                        ("name", s("http")),
                        ("port", Value::Int(80)),
                        ("targetPort", port),
                    ])]),
                ),
            ]),
        ),
    ]);
    let mut objects = vec![
        ("deployment", "apps/v1/Deployment", deployment),
        ("service", "v1/Service", service),
    ];
    // A ServiceAccount when the service asks for one with annotations.
    if let Some(Value::Map(annotations)) = settings
        .get("service_account_annotations")
        .filter(|a| matches!(a, Value::Map(m) if !m.is_empty()))
    {
        let account = account_name(name, settings);
        let mut metadata = metadata(&account, names, Some(name));
        if let Value::Map(m) = &mut metadata {
            m.insert("annotations", Value::Map(annotations.clone()));
        }
        objects.push((
            "serviceaccount",
            "v1/ServiceAccount",
            map([
                ("apiVersion", s("v1")),
                ("kind", s("ServiceAccount")),
                ("metadata", metadata),
            ]),
        ));
    }
    let public = !matches!(settings.get("public"), Some(Value::Bool(false)));
    if public
        && let Some(host) = settings
            .get("hostname")
            .filter(|h| !matches!(h, Value::Null))
    {
        let mut hosts = vec![host.clone()];
        if let Some(Value::List(custom)) = settings.get("custom_domains") {
            hosts.extend(custom.iter().cloned());
        }
        let rules = hosts
            .into_iter()
            .map(|h| {
                map([
                    ("host", h),
                    (
                        "http",
                        map([(
                            "paths",
                            Value::List(vec![map([
                                ("path", s("/")),
                                ("pathType", s("Prefix")),
                                (
                                    "backend",
                                    map([(
                                        "service",
                                        map([
                                            ("name", s(name)),
                                            ("port", map([("number", Value::Int(80))])),
                                        ]),
                                    )]),
                                ),
                            ])]),
                        )]),
                    ),
                ])
            })
            .collect();
        let mut ingress_metadata = metadata(name, names, Some(name));
        if let (Value::Map(m), Some(Value::Map(annotations))) =
            (&mut ingress_metadata, settings.get("ingress_annotations"))
            && !annotations.is_empty()
        {
            m.insert("annotations", Value::Map(annotations.clone()));
        }
        let mut spec = Fields::from([("rules".to_string(), Value::List(rules))]);
        if let Some(class @ Value::Str(_)) = settings.get("ingress_class") {
            spec.insert("ingressClassName", class.clone());
        }
        let ingress = map([
            ("apiVersion", s("networking.k8s.io/v1")),
            ("kind", s("Ingress")),
            ("metadata", ingress_metadata),
            ("spec", Value::Map(spec)),
        ]);
        objects.push(("ingress", "networking.k8s.io/v1/Ingress", ingress));
    }
    objects
}

/// A Job, or a CronJob when the job has a schedule.
pub fn job_object(
    name: &str,
    names: &Names,
    settings: &Fields,
) -> (&'static str, &'static str, Value) {
    let pod = map([
        ("metadata", map([("labels", labels(names, Some(name)))])),
        (
            "spec",
            map([
                ("restartPolicy", s("Never")),
                ("containers", Value::List(vec![container(name, settings)])),
            ]),
        ),
    ]);
    let job_spec = map([
        (
            "backoffLimit",
            settings
                .get("backoff_limit")
                .cloned()
                .unwrap_or(Value::Int(3)),
        ),
        ("template", pod),
    ]);
    match settings.get("schedule") {
        Some(schedule @ Value::Str(_)) => (
            "cronjob",
            "batch/v1/CronJob",
            map([
                ("apiVersion", s("batch/v1")),
                ("kind", s("CronJob")),
                ("metadata", metadata(name, names, Some(name))),
                (
                    "spec",
                    map([
                        ("schedule", schedule.clone()),
                        ("jobTemplate", map([("spec", job_spec)])),
                    ]),
                ),
            ]),
        ),
        _ => (
            "job",
            "batch/v1/Job",
            map([
                ("apiVersion", s("batch/v1")),
                ("kind", s("Job")),
                ("metadata", metadata(name, names, Some(name))),
                ("spec", job_spec),
            ]),
        ),
    }
}
