//! Lanes: a slow target must not starve another. Notion is on, held by its fake to the real
//! 3 requests/s (each run's page is several requests, so Notion falls behind on purpose),
//! and a signed push arrives every 0.5 s; we measure push → Discord message.
//! Target: p50 < 50 ms, p95 < 200 ms. Run: `cargo bench --bench lanes`
//! (HELIX_BENCH_QUICK=1: 10 pushes instead of 60).

mod common;

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let samples = if common::quick() { 10 } else { 60 };
    let app = common::app::start(20, true, serde_json::json!({})).await;
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    let mut next = Instant::now();
    for i in 0..samples {
        next += Duration::from_millis(500);
        tokio::time::sleep_until(next.into()).await;
        let before = app.discord.count();
        let t = Instant::now();
        let res = app.push(&client, "lanes", i).send().await.unwrap();
        assert_eq!(res.status(), 202);
        while app.discord.count() == before {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "push {i} never reached Discord"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(app.discord.0.lock().unwrap()[before] - t);
    }
    latencies.sort();
    let states = app.store.delivery_state_counts().await.unwrap();
    let notion = app.notion.as_ref().unwrap().0.lock();
    println!(
        "lanes ({samples} signed pushes 0.5 s apart, Notion at 3 requests/s, 2 workers, SQLite):"
    );
    println!(
        "  push -> Discord message  p50 {}   p95 {}   max {}   (target p50 < 50 ms, p95 < 200 ms)",
        common::ms(common::percentile(&latencies, 50.0)),
        common::ms(common::percentile(&latencies, 95.0)),
        common::ms(*latencies.last().unwrap())
    );
    println!(
        "  Notion meanwhile: {} requests, {} pages written, {} refused for going over 3/s, {} refused otherwise {:?}",
        notion.requests.len(),
        notion.pages.len(),
        notion.over_rate,
        notion.rejections.len(),
        notion.rejections.iter().take(2).collect::<Vec<_>>()
    );
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for r in &notion.requests {
        let k: String = r.split('/').take(3).collect::<Vec<_>>().join("/");
        *kinds.entry(k).or_default() += 1;
    }
    println!("  Notion requests by kind: {kinds:?}");
    println!("  deliveries by target and state: {states:?}");
}
