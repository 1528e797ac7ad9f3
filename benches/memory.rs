//! Memory of the service across syncs, for both builds a user runs: the `release` profile
//! (what `cargo run --release` builds, and `cargo bench` with it) and the `dist` profile (fat
//! LTO, one codegen unit: the Docker image and published binaries; measured when
//! `target/dist/helix-sync` exists, i.e. after `cargo build --profile dist --bin
//! helix-sync`). Each runs on the shipped config file and SQLite, manual syncs of the example
//! data one after another over its HTTP API (UCF state and agents only, no GitHub, no
//! Discord), and reports the service's resident set size after 1, 100 and 1,000 runs
//! (`HELIX_BENCH_QUICK=1`: 1, 10, 50).
//!
//! Targets (issue 19): under 30 MB after 1,000 runs, and no growth from run 100 to 1,000.
//!
//! It runs the service twice: with glibc malloc's defaults, and with `MALLOC_ARENA_MAX=2` as
//! the Dockerfile sets it (per-thread malloc arenas keep freed memory resident).
//!
//! Run: `cargo bench --bench memory`.

mod common;

use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use common::process::{file_backed, rss};
use common::push::start_binary;
use serde_json::{json, Value};

const TOKEN: &str = "memory-bench-api-token-0123456789";

#[tokio::main]
async fn main() {
    let marks: &[usize] = if common::quick() {
        &[1, 10, 50]
    } else {
        &[1, 100, 1000]
    };
    for (profile, binary) in builds() {
        let Some(binary) = binary else {
            println!(
                "\n== {profile}: not built; `cargo build --profile {profile} --bin helix-sync` \
                 makes it =="
            );
            continue;
        };
        for arenas in [None, Some("2")] {
            println!(
                "\n== {profile} profile ({}), MALLOC_ARENA_MAX={} ==",
                binary.display(),
                arenas.unwrap_or("unset (glibc default: 8 per core)")
            );
            bench(&binary, arenas, marks).await;
        }
    }
}

/// The two profiles' binaries: `release` is the one this bench was built with (cargo bench
/// builds the release profile into `target/release`); `dist` sits beside it when built.
fn builds() -> [(&'static str, Option<PathBuf>); 2] {
    let release = PathBuf::from(env!("CARGO_BIN_EXE_helix-sync"));
    let dist = release
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("dist/helix-sync"))
        .filter(|p| p.exists());
    [("release", Some(release)), ("dist", dist)]
}

async fn bench(binary: &Path, arenas: Option<&str>, marks: &[usize]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = env!("CARGO_MANIFEST_DIR");
    let path = |p: &str| dir.path().join(p).display().to_string();
    let example = |f: &str| format!("{root}/config/examples/{f}");
    // The bench's own environment must not decide the unset case.
    std::env::remove_var("MALLOC_ARENA_MAX");
    let mut env = vec![
        ("HELIX_CONFIG", format!("{root}/config/sync_config.json")),
        ("HELIX_WORKERS", "2".into()),
        ("HELIX_API_TOKEN", TOKEN.into()),
        ("EXPORT_PATH", path("exports")),
        ("UCF_STATE_SOURCE", example("ucf_state.json")),
        ("AGENT_METRICS_SOURCE", example("agents_state.json")),
    ];
    if let Some(n) = arenas {
        env.push(("MALLOC_ARENA_MAX", n.into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut child, port) =
        start_binary(binary, &format!("sqlite://{}", path("bench.db")), &env).await;
    let pid = child.id();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/sync");
    println!("memory bench: manual syncs of the example data (UCF + agents), one at a time");
    println!("before the first sync          {}", rss(pid));
    let started = Instant::now();
    for run in 1..=*marks.last().expect("marks") {
        let trigger: Value = client
            .post(&base)
            .bearer_auth(TOKEN)
            .json(&json!({"sources": ["ucf_state", "agent_metrics"]}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("a trigger")
            .json()
            .await
            .expect("its job id");
        let job = format!(
            "{base}/jobs/{}",
            trigger["job_id"].as_str().expect("job_id")
        );
        loop {
            let detail: Value = client
                .get(&job)
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("the job")
                .json()
                .await
                .expect("as JSON");
            match detail["state"].as_str().unwrap_or_default() {
                "succeeded" => break,
                "dead" | "cancelled" => panic!("sync {run} ended {}", detail["state"]),
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
        if marks.contains(&run) {
            println!(
                "after {run:>5} runs                {}   ({:.1} s so far)",
                rss(pid),
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!("file-backed pages by file: {}", file_backed(pid));
    let _ = child.kill();
    let _ = child.wait();
}
