//! The GitHub Actions workflow in examples/ci is valid YAML with the three
//! jobs it promises, and every `rel` command in it parses with today's
//! command line (flags renamed or removed would fail here).

use clap::Parser;

#[test]
fn the_workflow_runs_commands_rel_accepts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci/rel.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let jobs = doc["jobs"].as_object().expect("jobs");
    for job in ["plan", "apply", "drift"] {
        assert!(jobs.contains_key(job), "no `{job}` job");
    }
    let mut commands = 0;
    for (name, job) in jobs {
        for step in job["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            for line in run.lines() {
                let line = line.trim();
                let Some(rest) = line.strip_prefix("rel ") else {
                    continue;
                };
                // Shell expansions and redirections are not rel's.
                let words: Vec<String> = std::iter::once("rel".to_string())
                    .chain(
                        rest.split_whitespace()
                            .take_while(|w| !matches!(*w, ">" | "||" | "|" | "&&"))
                            .map(|w| {
                                if w.contains("${{") || w.contains("$(") {
                                    "x=y".to_string()
                                } else {
                                    w.to_string()
                                }
                            }),
                    )
                    .collect();
                if let Err(e) = rel::cli::Cli::try_parse_from(&words) {
                    panic!("job `{name}`: `{line}` does not parse:\n{e}");
                }
                commands += 1;
            }
        }
    }
    assert!(commands >= 4, "only {commands} rel commands found");
}
