//! The batched queue: claims of several jobs keep the per-key and per-lane rules,
//! acknowledgements of several jobs keep the lease rule, `enqueue_many` coalesces like one
//! enqueue each, and a running pool drains a burst through its producer and completer.

use std::time::Duration;

use helix_sync::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use helix_sync::store::now_ms;

use crate::fake_runner::FakeRunner;
use crate::helpers::*;

fn sync_of(repo: &str) -> JobPayload {
    JobPayload::Sync(SyncJob {
        scope: SyncScope::Repo { repo: repo.into() },
        sources: None,
        targets: None,
        trigger: Trigger::Cli,
    })
}

fn syncs(n: usize) -> Vec<JobPayload> {
    (0..n).map(|i| sync_of(&format!("o/r{i}"))).collect()
}

#[tokio::test]
async fn enqueue_many_coalesces_like_one_enqueue_each() {
    let app = spawn_app().await;
    let queue = app.state.queue.clone();
    let ids = queue
        .enqueue_many(&[sync_of("o/a"), sync_of("o/b"), sync_of("o/a")], now_ms())
        .await
        .unwrap();
    assert_eq!(ids[0], ids[2], "the second job of o/a joins the first");
    assert_ne!(ids[0], ids[1]);
    // A later batch joins the job that is still waiting.
    let again = queue
        .enqueue_many(&[sync_of("o/b")], now_ms())
        .await
        .unwrap();
    assert_eq!(again[0], ids[1]);
    let stats = app.store.queue_stats(now_ms()).await.unwrap();
    assert_eq!(stats.by_state["queued"], 2);
}

/// PostgreSQL receives a batch's keys as one array literal: a key with a comma, a quote, a
/// backslash, braces or the word NULL must stay one key, equal only to itself.
#[tokio::test]
async fn enqueue_many_keeps_keys_with_array_syntax_apart() {
    let app = spawn_app().await;
    let queue = app.state.queue.clone();
    let odd = [
        "o/x,y",
        "o/x",
        "o/y",
        "o/\"q\\\"",
        "o/{NULL}",
        "NULL",
        "o/ s ",
    ];
    let first = queue
        .enqueue_many(&odd.map(sync_of), now_ms())
        .await
        .unwrap();
    let mut distinct = first.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), odd.len(), "no two of them coalesce");
    let again = queue
        .enqueue_many(&odd.map(sync_of), now_ms())
        .await
        .unwrap();
    assert_eq!(again, first, "each joins its own waiting job");
    // Acknowledging them as a batch finds each by its id.
    let claimed = queue.claim_batch("w", now_ms(), 10).await.unwrap();
    let ids: Vec<String> = claimed.iter().map(|j| j.row.id.clone()).collect();
    let mut done = queue.complete_batch(&ids, "w", now_ms()).await.unwrap();
    done.sort();
    assert_eq!(done, distinct);
}

#[tokio::test]
async fn a_batch_claim_stays_within_a_kinds_bound() {
    let app = spawn_app().await;
    let queue = app.state.queue.clone();
    app.store
        .set_lane_limits(&[("sync", Some(2))], now_ms())
        .await
        .unwrap();
    queue.enqueue_many(&syncs(5), now_ms()).await.unwrap();
    let first = queue.claim_batch("w", now_ms(), 10).await.unwrap();
    assert_eq!(first.len(), 2, "the kind allows two running syncs");
    assert!(queue
        .claim_batch("w", now_ms(), 10)
        .await
        .unwrap()
        .is_empty());
    let done = queue
        .complete_batch(&[first[0].row.id.clone()], "w", now_ms())
        .await
        .unwrap();
    assert_eq!(done, [first[0].row.id.clone()]);
    assert_eq!(queue.claim_batch("w", now_ms(), 10).await.unwrap().len(), 1);
}

/// A batch travels as one parameter (a JSON array on SQLite, a text array on PostgreSQL),
/// however long; the counts per state see running jobs through `running_jobs`.
#[tokio::test]
async fn a_batched_acknowledgement_of_hundreds_acknowledges_each_once() {
    let app = spawn_app().await;
    let queue = app.state.queue.clone();
    queue.enqueue_many(&syncs(300), now_ms()).await.unwrap();
    let claimed = queue.claim_batch("w", now_ms(), 300).await.unwrap();
    assert_eq!(claimed.len(), 300);
    let stats = app.store.queue_stats(now_ms()).await.unwrap();
    assert_eq!(
        (stats.by_state["running"], stats.by_state["queued"]),
        (300, 0)
    );
    let ages = app.store.oldest_job_age_by_state(now_ms()).await.unwrap();
    assert!(ages.contains_key("running") && !ages.contains_key("queued"));

    // 260 of ours, one twice, one that never existed, in no particular order.
    let mut ids: Vec<String> = claimed.iter().map(|j| j.row.id.clone()).collect();
    ids.truncate(260);
    ids.reverse();
    ids.push(ids[0].clone());
    ids.push("no-such-job".into());
    let mut acked = queue.complete_batch(&ids, "w", now_ms()).await.unwrap();
    acked.sort();
    let mut expected = ids[..260].to_vec();
    expected.sort();
    assert_eq!(acked, expected, "each of ours once, nothing else");

    let stats = app.store.queue_stats(now_ms()).await.unwrap();
    assert_eq!(
        (stats.by_state["running"], stats.by_state["succeeded"]),
        (40, 260)
    );
}

#[tokio::test]
async fn a_batched_acknowledgement_skips_a_job_that_is_no_longer_ours() {
    let app = spawn_app().await;
    let queue = app.state.queue.clone();
    queue.enqueue_many(&syncs(3), now_ms()).await.unwrap();
    let ours = queue.claim_batch("a", now_ms(), 3).await.unwrap();
    assert_eq!(ours.len(), 3, "in claim order, one per key");
    // Worker `a` loses its leases (as on a rescue); `b` takes the first job again.
    app.store.release_jobs("a", now_ms()).await.unwrap();
    let taken = queue.claim_batch("b", now_ms(), 1).await.unwrap();
    assert_eq!(taken[0].row.id, ours[0].row.id);
    let ids: Vec<String> = ours.iter().map(|j| j.row.id.clone()).collect();
    let acked = queue.complete_batch(&ids, "a", now_ms()).await.unwrap();
    assert!(
        acked.is_empty(),
        "no job is acknowledged for `a`: {acked:?}"
    );
    let job = app.store.get_job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (job.state.as_str(), job.locked_by.as_deref()),
        ("running", Some("b"))
    );
}

#[tokio::test]
async fn a_running_pool_drains_a_burst_in_batches() {
    let runner = FakeRunner::scripted(Vec::new());
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let n = 40;
    let ids = app
        .state
        .queue
        .enqueue_many(&syncs(n), now_ms())
        .await
        .unwrap();
    let handle = app.pool.spawn(4);
    until_started(&runner, n).await;
    // Shutdown waits for the completer's last write.
    handle.shutdown(Duration::from_secs(10)).await;
    for id in &ids {
        let job = app.store.get_job(id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.attempts), ("succeeded", 1), "{id}");
    }
    assert_eq!(runner.started().len(), n, "each job ran once");
}

/// A pool of `slots` over the test app's database that claims `prefetch` jobs ahead, with
/// leases of `lease_secs` (a buffered job must start within a third of it).
fn prefetching_pool(
    app: &TestApp,
    runner: std::sync::Arc<FakeRunner>,
    prefetch: usize,
    lease_secs: u64,
) -> helix_sync::worker::WorkerPool {
    let config = helix_sync::config::QueueConfig {
        prefetch,
        lease_secs,
        ..Default::default()
    };
    let queue = helix_sync::queue::Queue::new(app.store.clone(), config);
    helix_sync::worker::WorkerPool::new(queue, runner)
}

async fn states(app: &TestApp, ids: &[String]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for id in ids {
        let job = app.store.get_job(id).await.unwrap().unwrap();
        out.push((job.state, job.attempts));
    }
    out
}

/// Waits until `runner` has started `n` jobs (20 s at most).
async fn until_started(runner: &FakeRunner, n: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let started = runner.on_start.notified();
            tokio::pin!(started);
            started.as_mut().enable();
            if runner.started().len() >= n {
                break;
            }
            started.await;
        }
    })
    .await
    .expect("the jobs start");
}

#[tokio::test]
async fn a_prefetching_pool_claims_ahead_of_its_slots_and_runs_each_job_once() {
    let app = spawn_app().await;
    let (runner, gate) = FakeRunner::gated();
    let ids = app
        .state
        .queue
        .enqueue_many(&syncs(5), now_ms())
        .await
        .unwrap();
    let handle = prefetching_pool(&app, runner.clone(), 4, 60).spawn(1);
    until_started(&runner, 1).await;
    // One claim took the job for the one slot and four behind it.
    let held = states(&app, &ids).await;
    assert!(
        held.iter().all(|(s, a)| (s.as_str(), *a) == ("running", 1)),
        "{held:?}"
    );
    assert_eq!(runner.started().len(), 1, "one slot, one job at a time");
    gate.add_permits(5);
    until_started(&runner, 5).await;
    handle.shutdown(Duration::from_secs(10)).await;
    let done = states(&app, &ids).await;
    assert!(
        done.iter()
            .all(|(s, a)| (s.as_str(), *a) == ("succeeded", 1)),
        "{done:?}"
    );
    let mut started = runner.started();
    started.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(started, expected, "each job ran once");
}

#[tokio::test]
async fn buffered_jobs_not_started_within_a_third_of_their_lease_are_given_back() {
    let app = spawn_app().await;
    let (runner, gate) = FakeRunner::gated();
    let ids = app
        .state
        .queue
        .enqueue_many(&syncs(3), now_ms())
        .await
        .unwrap();
    // Leases of 1 s: the buffer holds a job for at most ~333 ms.
    let handle = prefetching_pool(&app, runner.clone(), 4, 1).spawn(1);
    until_started(&runner, 1).await;
    let first = runner.started()[0].clone();
    let others: Vec<String> = ids.iter().filter(|id| **id != first).cloned().collect();
    tokio::time::timeout(Duration::from_secs(10), async {
        while states(&app, &others).await != vec![("queued".to_owned(), 0); 2] {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the buffered jobs go back to the queue with their attempt refunded");
    // The slot's job kept its lease meanwhile (heartbeats), and the rest run after it.
    let job = app.store.get_job(&first).await.unwrap().unwrap();
    assert_eq!(job.state, "running");
    gate.add_permits(3);
    until_started(&runner, 3).await;
    handle.shutdown(Duration::from_secs(10)).await;
    let done = states(&app, &ids).await;
    assert!(
        done.iter()
            .all(|(s, a)| (s.as_str(), *a) == ("succeeded", 1)),
        "{done:?}"
    );
    assert_eq!(runner.started().len(), 3, "each job ran once");
}
