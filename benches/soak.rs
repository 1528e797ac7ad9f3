//! Ingest soak: the release binary with the shipped default config (`config/sync_config.json`,
//! INFO logs, 2 workers, SQLite) under full-rate signed pushes for 10 one-minute rounds; after
//! each round it prints the round's rate, p99 and the service's resident set size.
//! Target (issue 19): RSS flat after the first minute, within 10%.
//!
//! Run: `cargo bench --bench soak` (`HELIX_SOAK_ROUNDS=N` rounds, `HELIX_SOAK_SECS=S` seconds
//! each; `HELIX_BENCH_QUICK=1`: 3 rounds of 10 s). Each round's delivery ids are new, so
//! every request is stored, none is answered as a duplicate. The GitHub API points at a
//! closed loopback port: the syncs the pushes queue fail fast and retry, as they would
//! against an outage, and nothing leaves the machine.

mod common;

use std::time::Duration;

use common::push::{payload, sign, start_service, CONNECTIONS};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let quick = common::quick();
    let rounds = env_or("HELIX_SOAK_ROUNDS", if quick { 3 } else { 10 });
    let secs = env_or("HELIX_SOAK_SECS", if quick { 10 } else { 60 });
    let dir = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sync_config.json");
    let (mut child, port) = start_service(
        &format!("sqlite://{}/soak.db", dir.path().display()),
        &[
            ("HELIX_CONFIG", config),
            ("HELIX_WORKERS", "2"),
            ("RUST_LOG", "info"),
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
            (
                "EXPORT_PATH",
                &dir.path().join("exports").display().to_string(),
            ),
        ],
    )
    .await;
    let pid = child.id();
    let (body, sig) = (payload(), sign(&payload()));
    println!(
        "ingest soak: shipped config, INFO logs, {CONNECTIONS} connections, {rounds} rounds of {secs} s"
    );
    println!(
        "start                      RSS {:>6.1} MB",
        common::process::status_mb(pid, "VmRSS")
    );
    let mut after_first = None;
    for round in 1..=rounds {
        let url = format!("http://127.0.0.1:{port}/webhooks/github");
        let (b, s) = (bytes::Bytes::from(body.clone()), sig.clone());
        let load =
            common::closed_loop(CONNECTIONS, Duration::from_secs(secs), move |c, conn, i| {
                c.post(&url)
                    .header("content-type", "application/json")
                    .header("x-github-event", "push")
                    .header("x-github-delivery", format!("soak-{round}-{conn}-{i}"))
                    .header("x-hub-signature-256", &s)
                    .body(b.clone())
            })
            .await;
        let rss = common::process::status_mb(pid, "VmRSS");
        let first = *after_first.get_or_insert(rss);
        load.report(&format!("round {round:>2}"));
        println!(
            "round {round:>2}                   RSS {rss:>6.1} MB   ({:+.1}% against round 1; target within 10%)",
            (rss / first - 1.0) * 100.0
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
