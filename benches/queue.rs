//! Queue throughput and latency with a no-op job runner, on SQLite (synchronous=FULL).
//!
//! 1. Throughput: enqueue N jobs, start 2 workers, time until all succeeded (claims +
//!    completes per second). Target ≥ 5,000 jobs/s.
//! 2. Idle latency: with the pool idle, enqueue one job at a time and measure enqueue → start.
//!    Target p50 < 5 ms.
//!
//! Run: `cargo bench --bench queue` (HELIX_BENCH_QUICK=1 for a smoke run).
//! With `HELIX_BENCH_DATABASE_URL=postgres://…` it measures that backend instead.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use helix_sync::config::QueueConfig;
use helix_sync::queue::{ClaimedJob, JobError, JobPayload, Queue, SyncJob, SyncScope, Trigger};
use helix_sync::store::{now_ms, Store};
use helix_sync::worker::{JobRunner, WorkerPool};

/// Records when each job started.
struct NoOp {
    started: Mutex<Vec<(String, Instant)>>,
    done: tokio::sync::Notify,
}

#[async_trait]
impl JobRunner for NoOp {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        self.started
            .lock()
            .unwrap()
            .push((job.row.id.clone(), Instant::now()));
        self.done.notify_one();
        Ok(())
    }
}

fn job(i: usize) -> JobPayload {
    JobPayload::Sync(SyncJob {
        scope: SyncScope::Repo {
            repo: format!("bench/repo-{i}"),
        },
        sources: None,
        targets: None,
        trigger: Trigger::Cli,
    })
}

#[tokio::main]
async fn main() {
    let n = if common::quick() { 500 } else { 20_000 };
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("HELIX_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/queue.db", dir.path().display()));
    let store = Store::connect(&url).await.unwrap();
    let queue = Queue::new(store.clone(), QueueConfig::default());
    println!(
        "queue benchmark on {}: {n} no-op jobs, 2 workers",
        url.split(':').next().unwrap()
    );

    let t = Instant::now();
    for i in 0..n {
        queue.enqueue(&job(i), now_ms()).await.unwrap();
    }
    let enqueue = t.elapsed();
    println!(
        "enqueue   {:>8.0} jobs/s   ({n} jobs in {:.2} s, one transaction each)",
        n as f64 / enqueue.as_secs_f64(),
        enqueue.as_secs_f64()
    );

    let runner = Arc::new(NoOp {
        started: Mutex::new(Vec::new()),
        done: tokio::sync::Notify::new(),
    });
    let pool = WorkerPool::new(queue.clone(), runner.clone());
    let t = Instant::now();
    let handle = pool.spawn(2);
    loop {
        let s = store.queue_stats(now_ms()).await.unwrap();
        if s.by_state["succeeded"] as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain = t.elapsed();
    println!(
        "run       {:>8.0} jobs/s   (claim + run + complete, {n} jobs in {:.2} s; target >= 5000)",
        n as f64 / drain.as_secs_f64(),
        drain.as_secs_f64()
    );

    // Idle latency: one job at a time, waiting for each to start.
    let samples = if common::quick() { 20 } else { 300 };
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let before = runner.started.lock().unwrap().len();
        let t = Instant::now();
        queue.enqueue(&job(n + i), now_ms()).await.unwrap();
        loop {
            runner.done.notified().await;
            let s = runner.started.lock().unwrap();
            if s.len() > before {
                lat.push(s[s.len() - 1].1 - t);
                break;
            }
        }
    }
    lat.sort();
    println!(
        "idle enqueue -> start   p50 {}   p99 {}   ({samples} samples; target p50 < 5 ms)",
        common::ms(common::percentile(&lat, 50.0)),
        common::ms(common::percentile(&lat, 99.0))
    );
    handle.shutdown(Duration::from_secs(5)).await;
}
