//! Lanes: a target's rate limit lives in the store and is shared by every worker and replica;
//! a job that must wait for it is rescheduled (it never sleeps on a worker); running jobs are
//! bounded per kind and per target.

use std::time::{Duration, Instant};

use helix_sync::queue::{JobPayload, PublishJob, SyncJob, SyncScope, Trigger};
use helix_sync::store::{now_ms, Store};
use serde_json::json;

use crate::helpers::*;
use crate::publish_support::*;

#[tokio::test]
async fn notion_at_its_real_rate_waits_in_the_queue_and_never_earns_a_429() {
    let h = harness(Setup {
        // Notion's real limit, enforced by the fake as well.
        publishers: json!({"notion": {"requests_per_second": 3.0}}),
        ..Setup::default()
    })
    .await;
    h.notion.0.lock().enforce_rate = Some((3.0, 3.0));
    // 250 blocks: a page and three append requests, plus the schema read — over a burst.
    h.seed_run("run-1", now_ms(), &changes(), &["notion", "discord"])
        .await;
    h.set_notion_doc("run-1", notion_doc("run-1", 250));

    // One pass: Notion goes as far as its budget allows and is rescheduled; Discord is not
    // held up behind it.
    let t = Instant::now();
    h.run_pending().await;
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "no worker slept on the limit: {:?}",
        t.elapsed()
    );
    assert_eq!(h.delivery("run-1", "discord").await.state, "succeeded");
    let notion = h.delivery("run-1", "notion").await;
    assert_eq!(
        (notion.state.as_str(), notion.attempts),
        ("failed", 0),
        "a wait costs no attempt"
    );
    let wait = notion.next_attempt_at.unwrap() - now_ms();
    assert!(
        (0..=1000).contains(&wait),
        "rescheduled for when the budget allows: {wait} ms"
    );

    // Driving the queue as time passes finishes the page, resuming where it stopped.
    let start = Instant::now();
    while h.delivery("run-1", "notion").await.state != "succeeded" {
        let d = h.delivery("run-1", "notion").await;
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Notion never finished: {d:?} {:?} {:?}",
            h.notion.requests(),
            h.job_states().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.run_pending().await;
    }
    let s = h.notion.0.lock();
    assert_eq!(s.over_rate, 0, "never over Notion's 3 requests/s");
    assert_eq!(s.pages.len(), 1);
    assert_eq!(s.pages[0].children.len(), 250);
}

#[tokio::test]
async fn the_request_budget_is_shared_by_two_processes_on_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = test_database_url(dir.path()).await;
    let (a, b) = (
        Store::connect(&url).await.unwrap(),
        Store::connect(&url).await.unwrap(),
    );
    let t0 = now_ms();
    let mut granted = 0;
    // Both "replicas" ask 10 times each within the same instant: the bucket holds 3.
    for i in 0..20 {
        let store = if i % 2 == 0 { &a } else { &b };
        if store
            .take_token("notion", 3.0, 3.0, t0)
            .await
            .unwrap()
            .is_none()
        {
            granted += 1;
        }
    }
    assert_eq!(granted, 3);
    // The refusal says when the bucket is full again: a second later at 3/s; then a burst
    // of 3 goes, shared by both, and no more.
    let next = a.take_token("notion", 3.0, 3.0, t0).await.unwrap().unwrap();
    assert_eq!(next, t0 + 1000);
    let mut granted = 0;
    for i in 0..6 {
        let store = if i % 2 == 0 { &a } else { &b };
        granted += usize::from(
            store
                .take_token("notion", 3.0, 3.0, next)
                .await
                .unwrap()
                .is_none(),
        );
    }
    assert_eq!(granted, 3);
}

fn publish(run: &str, target: &str) -> JobPayload {
    JobPayload::Publish(PublishJob {
        run_id: run.into(),
        target: target.into(),
    })
}

fn sync(repo: &str) -> JobPayload {
    JobPayload::Sync(SyncJob {
        scope: SyncScope::Repo { repo: repo.into() },
        sources: None,
        targets: None,
        trigger: Trigger::Manual,
    })
}

#[tokio::test]
async fn running_jobs_are_bounded_per_target_and_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.json");
    std::fs::write(
        &config,
        json!({"delivery": {"concurrency": {"sync": 1}, "targets": {"notion": {"max_concurrent": 2}}}}).to_string(),
    )
    .unwrap();
    let app =
        crate::helpers::spawn_with(Spawn::default().env("HELIX_CONFIG", config.to_str().unwrap()))
            .await;
    let q = &app.state.queue;
    let now = now_ms();
    for (i, p) in [
        publish("r1", "discord"),
        publish("r2", "discord"),
        publish("r1", "notion"),
        publish("r2", "notion"),
        publish("r3", "notion"),
        sync("o/a"),
        sync("o/b"),
    ]
    .iter()
    .enumerate()
    {
        q.enqueue(p, now + i as i64).await.unwrap();
    }
    let mut claimed = Vec::new();
    for w in 0..10 {
        if let Some(j) = q.claim(&format!("w{w}"), now + 100).await.unwrap() {
            claimed.push(match j.payload {
                JobPayload::Publish(p) => p.target,
                other => other.kind().into(),
            });
        }
    }
    claimed.sort();
    // Discord 1 (the default), Notion 2, syncs 1; the rest wait for a slot.
    assert_eq!(claimed, ["discord", "notion", "notion", "sync"]);
}
