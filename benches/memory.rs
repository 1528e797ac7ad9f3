//! Memory of the service across syncs: the whole application (its workers, the shipped
//! config file, SQLite), manual syncs of the example data one after another (UCF state and
//! agents only, no GitHub, no Discord), and this process's resident set size after 1, 100
//! and 1,000 runs (`HELIX_BENCH_QUICK=1`: 1, 10, 50).
//!
//! Targets (issue 19): under 30 MB after 1,000 runs, and no growth from run 100 to 1,000.
//!
//! It runs twice, each in a process of its own: with glibc malloc's defaults, and with
//! `MALLOC_ARENA_MAX=2` as the Dockerfile sets it (a heap profile shows under 5 MB live
//! after a run; the rest is what per-thread malloc arenas keep).
//!
//! Run: `cargo bench --bench memory`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helix_sync::config::Config;
use helix_sync::ingest::manual::TriggerRequest;
use helix_sync::service;
use helix_sync::startup::{Application, Options};

/// A field of /proc/self/status in MB (`VmRSS`, `RssAnon`, `RssFile`).
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident set size, and how much of it is heap and stacks (anonymous) and how much is
/// the binary and libraries (file-backed).
fn rss() -> String {
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    format!(
        "RSS {:>6.1} MB (anonymous {:>5.1} MB, file-backed {:>5.1} MB; {threads} threads)",
        status_mb("VmRSS"),
        status_mb("RssAnon"),
        status_mb("RssFile")
    )
}

/// The files whose pages make up the file-backed part, largest first (from /proc/self/smaps).
fn file_backed() -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut by_file: HashMap<String, f64> = HashMap::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next()) {
            (Some("Rss:"), Some(kb)) => {
                if let Some(file) = &current {
                    *by_file.entry(file.clone()).or_default() +=
                        kb.parse::<f64>().unwrap_or(0.0) / 1024.0;
                }
            }
            // A mapping's header: address range, perms, offset, device, inode, path.
            (Some(range), Some(_)) if range.contains('-') && !range.ends_with(':') => {
                current = line
                    .split_whitespace()
                    .nth(5)
                    .filter(|p| p.starts_with('/'))
                    .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
            }
            _ => {}
        }
    }
    let mut files: Vec<(String, f64)> = by_file.into_iter().filter(|(_, mb)| *mb >= 0.1).collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    files
        .iter()
        .map(|(f, mb)| format!("{f} {mb:.1} MB"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    if std::env::var_os("HELIX_MEMORY_CHILD").is_none() {
        for arenas in [None, Some("2")] {
            println!(
                "\n== MALLOC_ARENA_MAX={} ==",
                arenas.unwrap_or("unset (glibc default: 8 per core)")
            );
            let mut cmd = std::process::Command::new(std::env::current_exe().expect("this binary"));
            cmd.args(std::env::args().skip(1))
                .env("HELIX_MEMORY_CHILD", "1");
            match arenas {
                Some(n) => cmd.env("MALLOC_ARENA_MAX", n),
                None => cmd.env_remove("MALLOC_ARENA_MAX"),
            };
            let status = cmd.status().expect("the bench runs");
            assert!(status.success(), "the memory bench failed");
        }
        return;
    }
    let quick = std::env::var("HELIX_BENCH_QUICK").is_ok_and(|v| v == "1");
    let marks: &[usize] = if quick { &[1, 10, 50] } else { &[1, 100, 1000] };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench(marks));
}

async fn bench(marks: &[usize]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = env!("CARGO_MANIFEST_DIR");
    let env: HashMap<String, String> = [
        ("HELIX_CONFIG", format!("{root}/config/sync_config.json")),
        ("HELIX_BIND", "127.0.0.1:0".into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
        ),
        (
            "EXPORT_PATH",
            dir.path().join("exports").display().to_string(),
        ),
        (
            "UCF_STATE_SOURCE",
            format!("{root}/config/examples/ucf_state.json"),
        ),
        (
            "AGENT_METRICS_SOURCE",
            format!("{root}/config/examples/agents_state.json"),
        ),
        ("HEALTH_CHECK_ENABLED", "false".into()),
        ("HELIX_SYNC_ENABLED", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::load(&env).expect("bench config is valid");
    let options = Options {
        workers: true,
        scheduler: false,
        runner: None,
    };
    let app = Application::build(config, options).await.expect("the app");
    let state = app.state().clone();
    let store = state.store.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    println!("memory bench: manual syncs of the example data (UCF + agents), one at a time");
    println!("before the first sync          {}", rss());
    let started = Instant::now();
    let last = *marks.last().expect("marks");
    for run in 1..=last {
        let request = TriggerRequest {
            sources: Some(vec!["ucf_state".into(), "agent_metrics".into()]),
            targets: None,
        };
        let id = service::trigger(&state, request).await.expect("a trigger");
        loop {
            let job = store
                .get_job(&id)
                .await
                .expect("the job")
                .expect("it exists");
            match job.state.as_str() {
                "succeeded" => break,
                "dead" | "cancelled" => panic!("sync {run} ended {}", job.state),
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
        if marks.contains(&run) {
            println!(
                "after {run:>5} runs                {}   ({:.1} s so far)",
                rss(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!("file-backed pages by file: {}", file_backed());
}
