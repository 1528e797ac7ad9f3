//! Scheduler: each firing runs once across restarts; a missed firing runs once after downtime.

use chrono::{DateTime, Utc};
use helix_sync::config::{Config, SyncSchedule};
use helix_sync::queue::Queue;
use helix_sync::scheduler::{schedules, Scheduler};
use helix_sync::store::Store;

use crate::helpers::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn hourly_only() -> SyncSchedule {
    SyncSchedule {
        hourly: true,
        daily: None,
        ..Default::default()
    }
}

async fn scheduler_for(db: &str, cfg: &SyncSchedule) -> (Scheduler, Store) {
    let store = Store::connect(db).await.unwrap();
    let queue = Queue::new(store.clone(), Default::default());
    (Scheduler::new(schedules(cfg).unwrap(), queue), store)
}

#[tokio::test]
async fn a_firing_survives_a_restart_without_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let (s1, store) = scheduler_for(&db, &hourly_only()).await;
    assert_eq!(s1.tick(at("2026-03-01T10:00:05Z")).await.unwrap().len(), 1);
    assert_eq!(s1.tick(at("2026-03-01T10:30:00Z")).await.unwrap().len(), 0);
    drop(s1);
    // "Restart": a new scheduler on the same database, still inside the same hour.
    let (s2, _) = scheduler_for(&db, &hourly_only()).await;
    assert_eq!(s2.tick(at("2026-03-01T10:45:00Z")).await.unwrap().len(), 0);
    // Two processes racing on the next firing: one job.
    let (s3, _) = scheduler_for(&db, &hourly_only()).await;
    let a = s2.tick(at("2026-03-01T11:00:01Z")).await.unwrap();
    let b = s3.tick(at("2026-03-01T11:00:02Z")).await.unwrap();
    assert_eq!(a.len() + b.len(), 1);
    assert_eq!(
        store.list_jobs(None, 100).await.unwrap().len(),
        1,
        "the 11:00 firing coalesced into the queued full sync"
    );
}

#[tokio::test]
async fn catch_up_after_downtime_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let (s, store) = scheduler_for(&db, &hourly_only()).await;
    s.tick(at("2026-03-01T10:00:00Z")).await.unwrap();
    // Drain the queue so coalescing does not hide new jobs.
    let job = store.list_jobs(None, 1).await.unwrap().remove(0);
    store.cancel_job(&job.id, 0).await.unwrap();
    drop(s);
    // Down for 5 hours; at start-up the missed firings run once, as the latest one.
    let (s, store) = scheduler_for(&db, &hourly_only()).await;
    let fired = s.tick(at("2026-03-01T15:20:00Z")).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        store.last_firing("hourly").await.unwrap(),
        Some(at("2026-03-01T15:00:00Z").timestamp_millis())
    );
    assert_eq!(*s.next_sync().borrow(), Some(at("2026-03-01T16:00:00Z")));
}

#[tokio::test]
async fn disabled_sync_schedules_nothing_but_webhooks_still_work() {
    let app = spawn_with(Spawn::default().env("HELIX_SYNC_ENABLED", "false")).await;
    let s = app.scheduler.as_ref().unwrap();
    assert!(s.tick(Utc::now()).await.unwrap().is_empty());
    assert!(s.next_sync().borrow().is_none());
    let body = serde_json::to_vec(&push_payload("o/r", "main", "x")).unwrap();
    assert_eq!(app.post_github("push", "d", &body).await.status(), 202);
    let _: &Config = &app.state.config;
}
