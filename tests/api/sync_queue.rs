//! The cycle as the workers run it: rate limits become a wait, not a failure, and a job
//! whose run already committed is not run again.

use helix_sync::store::now_ms;
use helix_sync::sync::cycle;

use crate::sync_fake::Mode;
use crate::sync_support::*;

const REPO: &str = "helix/core";

#[tokio::test]
async fn a_rate_limited_sync_is_retried_after_the_reset_without_using_an_attempt() {
    let (app, fake) = sync_app(&[REPO], &[]).await;
    fake.add_commits(REPO, 2, 0);
    let reset = now_ms() / 1000 + 3600;
    fake.set_mode(Mode::RateLimited { reset });
    let id = enqueue(&app, job(None)).await;

    app.run_pending_jobs().await;
    let row = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(row.state, "failed");
    assert_eq!(row.run_at, reset * 1000, "retried at the reset time");
    assert_eq!(
        row.attempts, 0,
        "a rate limit does not count towards dead-lettering"
    );
    assert!(row.last_error.unwrap().contains("rate limit"));
    assert!(latest_snapshot(&app).await.is_none(), "no snapshot stored");
    assert!(
        app.store.cursors_for(REPO).await.unwrap().is_empty(),
        "no cursor moved"
    );
    let failed = app.store.run_for_job(&id).await.unwrap().unwrap();
    assert_eq!(failed.status, "failed");

    // The reset passes (the test cannot wait an hour: it makes the job due now).
    fake.set_mode(Mode::Normal);
    assert_eq!(app.store.retry_jobs(Some(&id), now_ms()).await.unwrap(), 1);
    app.run_pending_jobs().await;
    assert_eq!(
        app.store.get_job(&id).await.unwrap().unwrap().state,
        "succeeded"
    );
    let run = app.store.run_for_job(&id).await.unwrap().unwrap();
    assert_eq!(run.status, "succeeded");
    assert_eq!(
        latest_snapshot(&app).await.unwrap().1.repos[REPO]
            .commits
            .len(),
        2
    );
}

#[tokio::test]
async fn rerunning_a_job_whose_run_committed_does_nothing_new() {
    let (app, fake) = sync_app(&[REPO], &[]).await;
    fake.add_commits(REPO, 2, 0);
    let sync_job = job(None);
    let id = enqueue(&app, sync_job.clone()).await;
    let d = deps(&app);

    let first = cycle::run(&d, Some(&id), &sync_job).await.unwrap();
    let (runs, jobs, requests) = (
        app.store.list_runs(100).await.unwrap().len(),
        app.count("jobs").await,
        fake.log().len(),
    );
    // The worker "crashed" before acknowledging: the job runs again.
    let again = cycle::run(&d, Some(&id), &sync_job).await.unwrap();
    assert_eq!(again.run_id, first.run_id);
    assert_eq!(again.status, "succeeded");
    assert_eq!(
        app.store.list_runs(100).await.unwrap().len(),
        runs,
        "no new run"
    );
    assert_eq!(app.count("jobs").await, jobs, "no new publish jobs");
    assert_eq!(fake.log().len(), requests, "no new requests");
}

#[tokio::test]
async fn a_run_left_running_by_a_dead_worker_is_closed_and_the_job_runs_again() {
    let (app, _fake) = sync_app(&[], &[]).await;
    let sync_job = job(None);
    let id = enqueue(&app, sync_job.clone()).await;
    app.store
        .start_run(&helix_sync::store::RunStart {
            id: "stale-run".into(),
            job_id: Some(id.clone()),
            trigger: "manual".into(),
            started_at: now_ms() - 1000,
        })
        .await
        .unwrap();
    let outcome = cycle::run(&deps(&app), Some(&id), &sync_job).await.unwrap();
    assert_ne!(outcome.run_id, "stale-run");
    let stale = run(&app, "stale-run").await;
    assert_eq!(stale.status, "failed");
    assert!(stale.error.unwrap().contains("abandoned"));
}

#[tokio::test]
async fn trend_history_reads_the_small_extracts_and_rebuilds_a_missing_one() {
    let (app, _fake) = sync_app(&[], &[]).await;
    let first = sync_ok(&app).await;
    sync_ok(&app).await;
    app.store
        .set_snapshot_trend(&first.id, "not json")
        .await
        .unwrap();
    let points = helix_sync::sync::history::recent(&app.store, 10)
        .await
        .unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].run_id, first.id, "oldest first");
    assert!(points.iter().all(|p| p.ucf["harmony"] == 0.8734));
    let rebuilt = app
        .store
        .recent_trends(10)
        .await
        .unwrap()
        .remove(0)
        .1
        .unwrap();
    assert!(
        rebuilt.contains("harmony"),
        "the extract was saved again: {rebuilt}"
    );
}
