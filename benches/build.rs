//! `rel build` on a generated 5,000-service app: each service a Deployment,
//! a Service and an Ingress, plus an ECR repository and a Route53 record.
//! Measures the release binary as a user runs it (a fresh process per run,
//! writing the files; wall time and peak resident memory), then the same
//! pipeline in process (`rel::build_entries`) for a breakdown.
//! `cargo bench --bench build [-- SERVICES]`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::time::{Duration, Instant};

/// One build in process: (resources, bytes of artifacts, time until the
/// artifacts are ready, time to free the model and the artifacts).
fn build_once(dir: &std::path::Path) -> (usize, usize, Duration, Duration) {
    let start = Instant::now();
    let (model, build) = generate::build_app(dir);
    let built = start.elapsed();
    let counts = (
        model.resources.len(),
        build.artifacts.iter().map(|a| a.content.len()).sum(),
    );
    drop((model, build));
    (counts.0, counts.1, built, start.elapsed() - built)
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The largest peak resident memory of the child processes waited for so
/// far, in MB.
fn children_peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let services = generate::services_arg();
    let dir = generate::write_build_app(services, "rel-build-bench");

    // The binary, as a user runs it: a fresh process each time, writing
    // the artifacts to disk.
    let out = dir.join("out");
    let mut runs = generate::repeat(15, 20, || {
        let start = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_rel"))
            .args([
                "build",
                "--env",
                "production",
                "--set",
                "git.sha=abc1234",
                "--out",
            ])
            .arg(&out)
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("rel runs");
        assert!(status.success(), "rel build failed on the generated app");
        start.elapsed()
    });
    let best = runs.iter().min().copied().unwrap_or_default();
    let runs_count = runs.len();
    println!(
        "rel build (the binary): {services} services   wall median {:.1} ms   best {:.1} ms   runs {runs_count}   peak memory {:.1} MB",
        generate::median_ms(&mut runs),
        best.as_secs_f64() * 1e3,
        children_peak_rss_mb()
    );

    // In process, for a breakdown.
    let before = peak_rss_mb();
    let (resources, bytes, built, freed) = build_once(&dir);
    let peak = peak_rss_mb();
    let (mut builds, mut frees) = (vec![built], vec![freed]);
    for (_, _, built, freed) in generate::repeat(9, 10, || build_once(&dir)) {
        builds.push(built);
        frees.push(freed);
    }
    println!(
        "in process: {resources} resources, {:.1} MB of artifacts   build median {:.1} ms (first {:.1} ms)   then freeing {:.1} ms   runs {}",
        bytes as f64 / 1e6,
        generate::median_ms(&mut builds),
        built.as_secs_f64() * 1e3,
        generate::median_ms(&mut frees),
        builds.len()
    );
    if let (Some(before), Some(peak)) = (before, peak) {
        println!("  memory peak {peak:.1} MB after the first build ({before:.1} MB before it)");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
