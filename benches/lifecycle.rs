//! Data lifecycle benchmarks, on SQLite in a temp dir.
//!
//! **snapshots**: 1,000 hourly runs of 3 repos × 2,000 items, 1 % of the items changing per
//! run (an issue edited or closed, or a new commit). Prints the database size and the bytes
//! stored for snapshots against what storing every snapshot whole (gzip, as before migration
//! 0012) takes, and the time to rebuild the oldest run's snapshot, and the slowest one of its
//! chain (the deepest delta), from a process that never saw them written.
//!
//! **pruning**: a database of `HELIX_BENCH_EVENTS` events (default 1,000,000), half of them
//! past the 30-day retention, served by the release binary and loaded like `benches/ingest.rs`
//! (signed 7 KB pushes, 64 connections, 10 s): once with nothing to prune (baseline), once
//! with the retention pass deleting the old half while the load runs. Prints both p99s and
//! how many events the pass deleted during the load.
//!
//! Run: `cargo bench --bench lifecycle` (HELIX_BENCH_QUICK=1: 60 runs and 20,000 events;
//! `HELIX_BENCH_PART=snapshots` or `pruning` for one part).

mod common;
#[path = "../tests/api/lifecycle_history.rs"]
mod lifecycle_history;

use std::path::Path;
use std::time::{Duration, Instant};

use helix_sync::store::{gzip, now_ms, Compressed, NewEvent, Store};
use lifecycle_history::{store_run, History};

use common::push::{payload, run, sign, start_service};

const DAY: i64 = 86_400_000;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let part = std::env::var("HELIX_BENCH_PART").unwrap_or_default();
    if part.is_empty() || part == "snapshots" {
        snapshots().await;
    }
    if part.is_empty() || part == "pruning" {
        pruning().await;
    }
}

async fn snapshots() {
    let runs: u64 = if common::quick() { 60 } else { 1_000 };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("snapshots.db");
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect(&url).await.unwrap();
    let mut history = History::new(3, 2_000);
    let changes = history.items() / 100;
    let (mut whole_gzip, mut raw) = (0u64, 0u64);
    let started = Instant::now();
    let mut store_time = Duration::ZERO;
    for i in 0..runs {
        let json = history.next(changes);
        raw += json.len() as u64;
        whole_gzip += gzip(&json).len() as u64;
        let at = history.taken_at(i).timestamp_millis();
        let t = Instant::now();
        store_run(
            &store,
            &format!("run-{i:04}"),
            "schedule:hourly",
            at,
            Some(&json),
            &[],
        )
        .await;
        store_time += t.elapsed();
    }
    let stored = store.snapshot_stored_bytes().await.unwrap() as u64;
    store.close().await;
    drop(store);
    println!(
        "snapshots: {runs} hourly runs, {} items, {changes} changing per run, {:.1} MiB of JSON per snapshot ({:.0} s to generate and store; storing {:.1} ms per run)",
        history.items(),
        raw as f64 / runs as f64 / (1u64 << 20) as f64,
        started.elapsed().as_secs_f64(),
        store_time.as_secs_f64() * 1000.0 / runs as f64
    );
    println!(
        "  stored snapshot bytes: {} (compact) vs {} whole gzip as before: {:.1}x smaller",
        mib(stored),
        mib(whole_gzip),
        whole_gzip as f64 / stored.max(1) as f64
    );
    println!(
        "  database file: {} (with runs and indexes; whole gzip snapshots alone would be {})",
        mib(file_size(&db)),
        mib(whole_gzip)
    );

    let fresh = Store::connect(&url).await.unwrap();
    let chain_end = (helix_sync::store::MAX_CHAIN as u64 - 1).min(runs - 1);
    for (what, id) in [
        ("oldest run", "run-0000".to_owned()),
        (
            "deepest delta of the oldest chain",
            format!("run-{chain_end:04}"),
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let json = fresh.snapshot_json(&id).await.unwrap().unwrap();
            times.push(t.elapsed());
            assert!(!json.is_empty());
        }
        times.sort();
        println!(
            "  rebuild {what} ({id}): median {} of 5 (min {})",
            common::ms(times[2]),
            common::ms(times[0])
        );
    }
    fresh.close().await;
}

async fn pruning() {
    let events: usize = std::env::var("HELIX_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if common::quick() { 20_000 } else { 1_000_000 });
    let secs = if common::quick() { 2 } else { 10 };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let url = format!("sqlite://{}", db.display());
    let body = payload();
    let sig = sign(&body);

    // Half the events two months old (past the default 30 days), half from yesterday.
    let started = Instant::now();
    let store = Store::connect(&url).await.unwrap();
    let stored = Compressed::new(std::str::from_utf8(&body).unwrap());
    let now = now_ms();
    const BATCH: usize = 1_000;
    for start in (0..events).step_by(BATCH) {
        let batch = (start..(start + BATCH).min(events))
            .map(|i| NewEvent {
                id: uuid::Uuid::now_v7().to_string(),
                source: "github",
                delivery_id: format!("seed-{i}"),
                event_type: "push".into(),
                hook_id: None,
                repo: Some("helix-collective/helix-core".into()),
                headers: "{}".into(),
                payload: stored.clone(),
                received_at: if i % 2 == 0 {
                    now - 60 * DAY
                } else {
                    now - DAY
                } + i as i64,
                job: None,
            })
            .collect();
        store.insert_events(batch).await.unwrap();
    }
    store.close().await;
    drop(store);
    println!(
        "pruning: built a database of {events} events ({} on disk) in {:.0} s",
        mib(file_size(&db)),
        started.elapsed().as_secs_f64()
    );

    let config = dir.path().join("config.json");
    let mut results = Vec::new();
    for (case, events_retention) in [
        ("baseline, nothing to prune", "3650d"),
        ("pruning the old half", "30d"),
    ] {
        std::fs::write(
            &config,
            format!(r#"{{"retention": {{"events": "{events_retention}", "prune_every": "1h"}}}}"#),
        )
        .unwrap();
        let (mut child, port) =
            start_service(&url, &[("HELIX_CONFIG", config.to_str().unwrap())]).await;
        let load = run(port, &body, &sig, Duration::from_secs(secs)).await;
        let _ = child.kill();
        let _ = child.wait();
        load.report(case);
        results.push((case, load));
    }
    let store = Store::connect(&url).await.unwrap();
    let left = store.count_events().await.unwrap() as usize;
    store.close().await;
    let ingested: usize = results.iter().map(|(_, l)| l.requests).sum();
    let deleted = events + ingested - left;
    println!(
        "  the retention pass deleted {deleted} of {} old events during the {secs} s load",
        events / 2
    );
    let p99 = |i: usize| common::percentile(&results[i].1.latencies, 99.0);
    println!(
        "  ingest p99: {} baseline, {} while pruning (ingest benchmark target < 10 ms)",
        common::ms(p99(0)),
        common::ms(p99(1))
    );
}
