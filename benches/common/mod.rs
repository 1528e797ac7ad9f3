//! Shared bits of the benchmark binaries: percentiles, quick mode, a load generator.

#![allow(dead_code)]

pub mod app;
pub mod process;
pub mod push;

use std::time::{Duration, Instant};

/// `HELIX_BENCH_QUICK=1` shrinks every benchmark to a smoke run.
pub fn quick() -> bool {
    std::env::var("HELIX_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// The p-th percentile (0..=100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Result of a closed-loop load run.
pub struct Load {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Load {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub fn report(&self, name: &str) {
        println!(
            "{name:<28} {:>9.0} req/s   p50 {:>9}   p99 {:>9}   ({} requests, {} errors, {:.1} s)",
            self.rate(),
            ms(percentile(&self.latencies, 50.0)),
            ms(percentile(&self.latencies, 99.0)),
            self.requests,
            self.errors,
            self.elapsed.as_secs_f64()
        );
    }
}

/// `connections` keep-alive HTTP/1.1 connections, each sending requests back to back for
/// `duration`; `make` builds the i-th request of a connection.
pub async fn closed_loop<F>(connections: usize, duration: Duration, make: F) -> Load
where
    F: Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = std::sync::Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .unwrap();
            let (mut lat, mut errors) = (Vec::new(), 0);
            let mut i = 0;
            while start.elapsed() < duration {
                let t = Instant::now();
                match make(&client, c, i).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Load {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}
