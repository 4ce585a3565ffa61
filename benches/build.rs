//! `rel build` on a generated 5,000-service app: each service a Deployment,
//! a Service and an Ingress, plus an ECR repository and a Route53 record.
//! Measures the whole pipeline in process (load, parse, check, compile,
//! emit CloudFormation, manifests and the index) over repeated runs, and the
//! process's peak memory. `cargo bench --bench build [-- SERVICES]`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::time::{Duration, Instant};

use rel::compile::Options;
use rel::emit::BuildOptions;
use rel::source::SourceMap;

/// One build: (resources, bytes of artifacts, time to compile, time to emit).
fn build_once(dir: &std::path::Path) -> (usize, usize, Duration, Duration) {
    let entry = rel::resolve::Entry {
        display: "app.rel".into(),
        path: dir.join("app.rel"),
        root: dir.to_path_buf(),
    };
    let options = Options {
        env: "production".into(),
        sets: [("git.sha".to_string(), "abc1234".to_string())].into(),
    };
    let start = Instant::now();
    let model = rel::compile_entries(&mut SourceMap::new(), &[entry], &options)
        .expect("the generated app compiles");
    let compiled = start.elapsed();
    let build =
        rel::emit::build(&model, &BuildOptions::default()).expect("the generated app builds");
    let emitted = start.elapsed() - compiled;
    let bytes = build.artifacts.iter().map(|a| a.content.len()).sum();
    (model.resources.len(), bytes, compiled, emitted)
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let services: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("rel-build-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.rel"), generate::build_template(services)).unwrap();
    let before = peak_rss_mb();

    let start = Instant::now();
    let (resources, bytes, compiled, emitted) = build_once(&dir);
    let first = start.elapsed();
    let peak = peak_rss_mb();

    let mut times = vec![first];
    let mut compile_times = vec![compiled];
    let mut emit_times = vec![emitted];
    let deadline = Instant::now() + Duration::from_secs(10);
    while times.len() < 10 && Instant::now() < deadline {
        let start = Instant::now();
        let (_, _, compiled, emitted) = build_once(&dir);
        times.push(start.elapsed());
        compile_times.push(compiled);
        emit_times.push(emitted);
    }
    times.sort();
    compile_times.sort();
    emit_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "build: {services} services -> {resources} resources, {:.1} MB of artifacts",
        bytes as f64 / 1e6
    );
    println!(
        "  wall   median {:.1} ms   best {:.1} ms   first {:.1} ms   runs {}",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(first),
        times.len()
    );
    println!(
        "  of which: load, check and compile {:.1} ms, emit {:.1} ms (medians; the rest frees the model)",
        ms(compile_times[compile_times.len() / 2]),
        ms(emit_times[emit_times.len() / 2]),
    );
    if let (Some(before), Some(peak)) = (before, peak) {
        println!("  memory peak {peak:.1} MB after the first build ({before:.1} MB before it)");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
