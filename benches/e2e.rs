//! End-to-end latency with immediate workers: a signed `push` webhook over HTTP → ingest →
//! queue → sync cycle (fake GitHub on loopback) → exports → publish jobs → the Discord
//! message arriving at a fake Discord, and the portal feed naming the new run.
//! Target: p50 < 300 ms. Run: `cargo bench --bench e2e` (HELIX_BENCH_QUICK=1: 5 samples).

mod common;

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let samples = if common::quick() { 5 } else { 50 };
    let app = common::app::start(20, false, serde_json::json!({})).await;
    let feed = app.dir.path().join("exports/portal/api/sync/latest.json");
    let client = reqwest::Client::new();
    let (mut to_discord, mut to_feed) = (Vec::new(), Vec::new());
    for i in 0..samples {
        // Spaced beyond the debounce quiet period: each push is its own run.
        tokio::time::sleep(Duration::from_millis(350)).await;
        let before_msgs = app.discord.count();
        let before_feed = std::fs::read(&feed).unwrap_or_default();
        let t = Instant::now();
        let res = app.push(&client, "e2e", i).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let (mut d, mut f) = (None, None);
        while d.is_none() || f.is_none() {
            if d.is_none() && app.discord.count() > before_msgs {
                d = Some(t.elapsed());
            }
            if f.is_none() && std::fs::read(&feed).is_ok_and(|now| now != before_feed) {
                f = Some(t.elapsed());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "sample {i} did not complete"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        to_discord.push(d.unwrap());
        to_feed.push(f.unwrap());
    }
    to_discord.sort();
    to_feed.sort();
    println!("end-to-end ({samples} signed pushes, 2 workers, SQLite):");
    for (name, l) in [
        ("push -> Discord message", &to_discord),
        ("push -> portal feed", &to_feed),
    ] {
        println!(
            "  {name:<24} p50 {}   p90 {}   max {}   (target p50 < 300 ms)",
            common::ms(common::percentile(l, 50.0)),
            common::ms(common::percentile(l, 90.0)),
            common::ms(*l.last().unwrap())
        );
    }
}
