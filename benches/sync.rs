//! Sync cycle benchmark on the fake GitHub API (loopback, no network).
//!
//! 3 repositories × 2,000 commits and 2,000 issues (`HELIX_BENCH_QUICK=1`: 50 each). Runs a
//! first full sync, then no-change re-syncs, and prints requests made and wall time for
//! each. Target: a no-change re-sync makes exactly one conditional request per
//! (repository, resource), all answered 304, and finishes in < 50 ms (release build).

#[path = "../tests/api/sync_fake.rs"]
mod sync_fake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use helix_sync::config::Config;
use helix_sync::queue::{Queue, SyncJob, SyncScope, Trigger};
use helix_sync::store::Store;
use helix_sync::sync::{cycle, SyncDeps};
use sync_fake::FakeGithub;
use wiremock::MockServer;

const REPOS: [&str; 3] = ["helix/core", "helix/portal", "helix/agents"];
/// `sources.github.include` has six resources.
const RESOURCES: usize = 6;
const RESYNCS: usize = 5;

fn main() {
    let quick = std::env::var("HELIX_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n = if quick { 50 } else { 2000 };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench(n));
}

async fn bench(n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = MockServer::start().await;
    let fake = FakeGithub::default();
    for repo in REPOS {
        fake.add_commits(repo, n, 0);
        fake.add_issues(repo, n, 0);
        fake.add_pull(repo, "open", false, 10);
        fake.add_release(repo, 1, "v1.0.0", 20);
        fake.add_deployment(repo, 1, "production", 30);
    }
    fake.mount(&server).await;

    let root = env!("CARGO_MANIFEST_DIR");
    let env: HashMap<String, String> = [
        ("HELIX_CONFIG", format!("{root}/config/sync_config.json")),
        (
            "DATABASE_URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
        ),
        (
            "EXPORT_PATH",
            dir.path().join("exports").display().to_string(),
        ),
        ("GITHUB_API_URL", server.uri()),
        ("GITHUB_REPOS", REPOS.join(",")),
        (
            "UCF_STATE_SOURCE",
            format!("{root}/config/examples/ucf_state.json"),
        ),
        (
            "AGENT_METRICS_SOURCE",
            format!("{root}/config/examples/agents_state.json"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::load(&env).expect("bench config is valid");
    let store = Store::connect(&config.database_url).await.expect("store");
    let deps = SyncDeps::new(
        Arc::new(config),
        store.clone(),
        Queue::new(store, Default::default()),
        tokio::sync::broadcast::channel(16).0,
    );
    let job = SyncJob {
        scope: SyncScope::Full,
        sources: None,
        targets: None,
        trigger: Trigger::Cli,
    };

    println!(
        "sync bench: {} repos × {n} commits + {n} issues (fake GitHub on loopback)",
        REPOS.len()
    );
    let (first, requests) = timed_sync(&deps, &job, &server).await;
    println!(
        "first sync:      {:>9.1} ms  {requests:>5} requests",
        ms(first)
    );

    let mut times = Vec::new();
    let want = REPOS.len() * RESOURCES;
    for _ in 0..RESYNCS {
        fake.clear_log();
        let (t, requests) = timed_sync(&deps, &job, &server).await;
        let not_modified = fake.log().iter().filter(|r| r.status == 304).count();
        assert_eq!(
            requests, want,
            "one conditional request per (repo, resource)"
        );
        assert_eq!(not_modified, want, "every re-sync request is answered 304");
        times.push(t);
    }
    times.sort();
    println!(
        "no-change sync:  {:>9.1} ms  {want:>5} requests, all 304 (median of {RESYNCS}; min {:.1} ms, max {:.1} ms; target < 50 ms)",
        ms(times[RESYNCS / 2]),
        ms(times[0]),
        ms(times[RESYNCS - 1])
    );
}

/// One cycle: wall time and the requests the fake received during it.
async fn timed_sync(deps: &SyncDeps, job: &SyncJob, server: &MockServer) -> (Duration, usize) {
    let before = server.received_requests().await.map_or(0, |r| r.len());
    let started = Instant::now();
    let outcome = cycle::run(deps, None, job)
        .await
        .expect("the sync succeeds");
    let elapsed = started.elapsed();
    assert_eq!(outcome.status, "succeeded");
    let after = server.received_requests().await.map_or(0, |r| r.len());
    (elapsed, after - before)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
