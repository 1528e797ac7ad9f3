//! Debounce: 10 s of signed pushes for one repository at full rate (16 keep-alive
//! connections, closed loop), first with debounce off (what the service did before:
//! coalescing only), then with the shipped debounce (300 ms quiet, 5 s maximum delay).
//! Reports the sync runs each burst caused and the ingest throughput during it.
//! Target with debounce: at most 1 + 10 s / 5 s = 3 runs. Run: `cargo bench --bench debounce`
//! (HELIX_BENCH_QUICK=1: 3 s bursts).

mod common;

use std::time::Duration;

use serde_json::json;

async fn burst(label: &str, file: serde_json::Value, secs: u64) {
    let app = std::sync::Arc::new(common::app::start(20, false, file).await);
    let push_app = app.clone();
    let load = common::closed_loop(16, Duration::from_secs(secs), move |client, c, i| {
        push_app.push(client, &format!("{c}"), i)
    })
    .await;
    // Let the last debounced run start (max delay 5 s) and finish.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let runs = app.store.list_runs(100_000).await.unwrap().len();
    load.report(&format!("ingest during burst, {label}"));
    println!(
        "  {runs} sync runs for {} pushes in {secs} s",
        load.requests
    );
}

#[tokio::main]
async fn main() {
    let secs = if common::quick() { 3 } else { 10 };
    println!("debounce (one repository, {secs} s of pushes at full rate, 2 workers, SQLite):");
    burst(
        "debounce off",
        json!({"delivery": {"debounce": {"quiet_ms": 0}}}),
        secs,
    )
    .await;
    burst("debounce on ", json!({}), secs).await;
    println!("  target with debounce on: at most {} runs", 1 + secs / 5);
}
