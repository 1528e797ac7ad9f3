//! Schedules: next firings, last firing and outcome, "run now".

use super::{flash, Console};
use crate::helpers::spawn_app;

#[tokio::test]
async fn schedules_show_next_firings_and_run_now_queues_a_sync() {
    let app = spawn_app().await;
    let op = Console::as_role(&app, "otto", "operator").await;
    let page = op.page("/console/schedules").await;
    assert!(
        page.contains("hourly") && page.contains("0 * * * *"),
        "the shipped hourly schedule"
    );
    assert!(page.contains("never fired"));
    assert_eq!(
        page.matches("<li><time").count() % 5,
        0,
        "five next firings per schedule"
    );

    let res = op
        .post("/console/schedules/run", &[("name", "hourly")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains("Queued schedule hourly"));
    let jobs = app.store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(
        jobs[0].payload.contains("\"schedule\":\"hourly\""),
        "{}",
        jobs[0].payload
    );

    let unknown = op
        .post("/console/schedules/run", &[("name", "weekly")])
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        app.store.list_jobs(None, 10).await.unwrap().len(),
        1,
        "nothing changed"
    );

    // After a firing, the page shows it and its outcome.
    let fired = app
        .scheduler
        .as_ref()
        .unwrap()
        .tick(chrono::Utc::now())
        .await
        .unwrap();
    assert!(!fired.is_empty());
    let page = op.page("/console/schedules").await;
    assert!(!page.contains("never fired"), "{page}");
    assert!(page.contains(&format!("/console/jobs/{}", fired[0])));
}
