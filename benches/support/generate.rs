//! Generates large, realistic, type-correct templates for benchmarks.

use std::fmt::Write;

/// An app with `services` services (image, port, replicas, env, resources,
/// health probe, dependencies), a domain, a cluster, a database and a few
/// environments: the shape of a real template, repeated.
pub fn app_template(services: usize) -> String {
    let mut s = String::with_capacity(services * 400 + 2048);
    s.push_str(
        r#"import "std/aws" as aws

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
        let dep = if i > 0 { format!("\n    depends_on = [svc{}]", i - 1) } else { String::new() };
        write!(
            s,
            r#"
  service svc{i} {{
    image    = "registry.example.com/store/svc{i}:${{git.sha}}"
    port     = {port}
    replicas = if tier == "prod" then replicas * 2 else replicas
    env      = {{ SERVICE_INDEX = "{i}", FEATURE_FLAGS = join(["a", "b", "c"], ",") }}
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
