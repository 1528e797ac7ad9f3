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
