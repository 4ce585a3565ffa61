//! Generates large, realistic, type-correct templates for benchmarks.

use std::fmt::Write;

/// How each generated service is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// As services are usually written: literal settings, an image tag
    /// interpolated from git, an env map, resources, a probe, a dependency.
    Typical,
    /// Every service also computes its replicas with a conditional and an
    /// env value with a builtin call over a list: twice the expressions.
    Computed,
}

/// An app with `services` services written in `style`, a domain, a
/// cluster, a database and a few environments: the shape of a real
/// template, repeated.
pub fn template(services: usize, style: Style) -> String {
    let mut s = String::with_capacity(services * 400 + 2048);
    s.push_str(
        r#"project "bench"
import "std/aws" as aws

param branch: string = "main"
param replicas: int @range(1, 100) = 2

domain shop {
  base      = "example.com"
  wildcards = ["*.preprod.example.com", "*.example.com"]
}

cluster main = aws.eks {
  region = "us-east-1"
  nodes  = { instance_type = "m6i.large", min = 2, max = 10 }
}

let common_env = { LOG_LEVEL = "info", REGION = "us-east-1" }

app store {
  hostname = "${service}-${env}.${shop.base}"
  domain   = shop
  cluster  = main
  env      = merge(common_env, { DATABASE_URL = db.url })

  database db = aws.postgres {
    class    = "db.t4g.small"
    password = secret("store/db-password")
  }
"#,
    );
    for i in 0..services {
        let dep = if i > 0 {
            format!("\n    depends_on = [svc{}]", i - 1)
        } else {
            String::new()
        };
        let (replicas, flags) = match style {
            Style::Typical => ("2".to_string(), "\"a,b,c\"".to_string()),
            Style::Computed => (
                "if tier == \"prod\" then replicas * 2 else replicas".to_string(),
                "join([\"a\", \"b\", \"c\"], \",\")".to_string(),
            ),
        };
        write!(
            s,
            r#"
  service svc{i} {{
    image    = "registry.example.com/store/svc{i}:${{git.sha}}"
    port     = {port}
    replicas = {replicas}
    env      = {{ SERVICE_INDEX = "{i}", FEATURE_FLAGS = {flags} }}
    resources = {{ cpu = "250m", memory = "512Mi" }}
    health    = {{ path = "/healthz", period_seconds = 10 }}{dep}
  }}
"#,
            port = 8000 + (i % 1000),
        )
        .unwrap();
    }
    s.push_str("}\n\n");
    s.push_str("environment \"production\" from store {\n  tier = \"prod\"\n  env.LOG_LEVEL = \"warn\"\n}\n\n");
    s.push_str("environment \"pr-${branch}\" from store {\n  tier      = \"preprod\"\n  ephemeral = true\n  svc0.replicas = 1\n}\n");
    s
}

/// An app of `services` services, each with an ECR repository and a Route53
/// record besides its Deployment, Service and Ingress: the shape `rel build`
/// is measured on.
pub fn build_template(services: usize) -> String {
    let mut s = String::with_capacity(services * 600 + 1024);
    s.push_str(
        r#"project "bench"
import "std/aws" as aws

domain shop {
  base = "example.com"
}

resource zone "AWS::Route53::HostedZone" {
  Name = "example.com"
}

app store {
  hostname = "${service}-${env}.${shop.base}"
"#,
    );
    for i in 0..services {
        write!(
            s,
            r#"
  service svc{i} {{
    image    = "registry.example.com/store/svc{i}:${{git.sha}}"
    port     = 8080
    replicas = 2
    env      = {{ SERVICE_INDEX = "{i}" }}
  }}
  registry repo{i} = aws.repository {{
    name = "store/svc{i}"
  }}
  resource dns{i} "AWS::Route53::RecordSet" {{
    HostedZoneId    = zone.id
    Name            = "svc{i}-${{env}}.example.com"
    Type            = "CNAME"
    TTL             = "300"
    ResourceRecords = ["ingress.example.com"]
  }}
"#
        )
        .unwrap();
    }
    s.push_str("}\n\nenvironment \"production\" from store {\n  tier = \"prod\"\n}\n");
    s
}

/// A project folder holding `build_template(services)` as `app.rel`, under
/// the temporary folder (`name` keeps benchmarks apart); the caller
/// removes it.
pub fn write_build_app(services: usize, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    std::fs::write(dir.join("app.rel"), build_template(services)).expect("the app is written");
    dir
}

/// The entry file and compile options of the app `write_build_app` wrote:
/// its production environment at a fixed commit.
pub fn build_inputs(dir: &std::path::Path) -> (rel::resolve::Entry, rel::compile::Options) {
    let entry = rel::resolve::Entry {
        display: "app.rel".into(),
        path: dir.join("app.rel"),
        root: dir.to_path_buf(),
    };
    let options = rel::compile::Options {
        env: "production".into(),
        sets: [("git.sha".to_string(), "abc1234".to_string())].into(),
        ..rel::compile::Options::default()
    };
    (entry, options)
}

/// The service count given on the command line
/// (`cargo bench --bench NAME -- SERVICES`), or 5,000.
pub fn services_arg() -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000)
}

/// The median of some timings, in milliseconds (sorts them).
pub fn median_ms(times: &mut [std::time::Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// Runs `once` up to `count` times, stopping early once `budget_secs` have
/// passed (it always runs once), and returns what each run returned.
pub fn repeat<T>(count: usize, budget_secs: u64, mut once: impl FnMut() -> T) -> Vec<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(budget_secs);
    let mut results = vec![once()];
    while results.len() < count && std::time::Instant::now() < deadline {
        results.push(once());
    }
    results
}

/// Builds the app `write_build_app` wrote, the way `rel build` does.
pub fn build_app(dir: &std::path::Path) -> (rel::compile::Model, rel::emit::Build) {
    let (entry, options) = build_inputs(dir);
    rel::build_entries(
        &mut rel::source::SourceMap::new(),
        &[entry],
        &options,
        &rel::emit::BuildOptions::default(),
    )
    .expect("the generated app builds")
}
