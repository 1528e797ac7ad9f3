//! Jobs: dead letters with their attempt history, retry and cancel of one job, bulk retry by
//! filter after a confirmation, unknown ids.

use helix_sync::queue::JobError;
use helix_sync::store::now_ms;

use super::{flash, Console};
use crate::helpers::{spawn_app, TestApp};

/// Pushes to `repo` and dead-letters the job the push queued, after one failed attempt.
async fn dead_job(app: &TestApp, repo: &str) -> String {
    let id = app.push_job(repo, &format!("{repo}-d")).await;
    let now = now_ms() + 60_000; // past any debounce
    let claimed = app
        .state
        .queue
        .claim("test-worker", now)
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(claimed.row.id, id);
    app.state
        .queue
        .fail(
            &claimed.row,
            "test-worker",
            now,
            &JobError::Permanent("upstream said 401 <b>no</b>".into()),
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_dead_letter_shows_its_attempts_and_is_retried() {
    let app = spawn_app().await;
    let id = dead_job(&app, "o/alpha").await;
    let op = Console::as_role(&app, "otto", "operator").await;
    let dead = op.page("/console/jobs?state=dead").await;
    assert!(
        dead.contains(&id[..13]) && dead.contains("upstream said 401 &lt;b&gt;no&lt;&#x2f;b&gt;")
    );
    let page = op.page(&format!("/console/jobs/{id}")).await;
    assert!(page.contains("Attempt history") && page.contains("badge dead"));
    assert!(
        page.matches("upstream said 401").count() >= 2,
        "last error and the attempt row"
    );

    let res = op.post(&format!("/console/jobs/{id}/retry"), &[]).await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains("queued again"));
    assert_eq!(
        app.store.get_job(&id).await.unwrap().unwrap().state,
        "queued"
    );
    // Retrying a queued job is a conflict, and changes nothing.
    assert_eq!(
        op.post(&format!("/console/jobs/{id}/retry"), &[])
            .await
            .status(),
        409
    );
    assert_eq!(
        op.post(&format!("/console/jobs/{id}/explode"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(op.get("/console/jobs/no-such-job").await.status(), 404);
    assert_eq!(
        op.post("/console/jobs/no-such-job/cancel", &[])
            .await
            .status(),
        404
    );
    let res = op.post(&format!("/console/jobs/{id}/cancel"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.store.get_job(&id).await.unwrap().unwrap().state,
        "cancelled"
    );
}

#[tokio::test]
async fn retry_all_matching_confirms_the_count_first() {
    let app = spawn_app().await;
    let a = dead_job(&app, "o/alpha").await;
    let b = dead_job(&app, "o/beta").await;
    let queued = app.push_job("o/gamma", "g-1").await;
    let op = Console::as_role(&app, "otto", "operator").await;
    let confirm = op.page("/console/jobs/bulk?state=dead&action=retry").await;
    assert!(
        confirm.contains("<strong>2</strong> job(s) match"),
        "{confirm}"
    );
    assert_eq!(
        app.store.get_job(&a).await.unwrap().unwrap().state,
        "dead",
        "a GET changes nothing"
    );
    let res = op
        .post(
            "/console/jobs/bulk",
            &[("state", "dead"), ("action", "retry")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains("2 job(s) queued again"));
    for id in [&a, &b] {
        assert_eq!(
            app.store.get_job(id).await.unwrap().unwrap().state,
            "queued"
        );
    }
    // Cancel by filter: only the kind and state asked for.
    let res = op
        .post(
            "/console/jobs/bulk",
            &[("state", "queued"), ("kind", "sync"), ("action", "cancel")],
        )
        .await;
    assert!(
        flash(&res).contains("3 job(s) cancelled"),
        "{}",
        flash(&res)
    );
    assert_eq!(
        app.store.get_job(&queued).await.unwrap().unwrap().state,
        "cancelled"
    );
    // A bad filter shows its error and changes nothing.
    let res = op
        .post(
            "/console/jobs/bulk",
            &[("state", "exploded"), ("action", "retry")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("id=\"err-state\""));
}
