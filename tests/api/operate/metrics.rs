use crate::helpers::{push_payload, spawn_app, PlainRun};

async fn scrape(app: &crate::helpers::TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    res.text().await.unwrap()
}

/// Values are process-wide (one recorder for every test app), so only names and labels are
/// asserted, never exact numbers.
#[tokio::test]
async fn metrics_cover_ingest_queue_jobs_runs_sources_and_targets() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "m")).unwrap();
    assert_eq!(
        app.post_github("push", "d-metrics-1", &body).await.status(),
        202
    );
    let res = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "d-metrics-2")
        .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A finished run with per-source outcomes and its deliveries.
    let now = helix_sync::store::now_ms();
    app.seed_plain_run(PlainRun {
        id: "run-m",
        trigger: "manual",
        started_at: now - 1500,
        finished_at: now,
        status: "partial",
        sources_json: r#"{"github":{"status":"error","error":"x"},"ucf_state":{"status":"ok","error":null}}"#,
        error: None,
        targets: &[("portal", true), ("discord", false)],
    })
    .await;
    app.state
        .run_events
        .send(helix_sync::sync::RunEvent::Finished {
            run_id: "run-m".into(),
            status: "partial".into(),
        })
        .unwrap();
    app.run_pending_jobs().await;

    let mut text = scrape(&app).await;
    for _ in 0..200 {
        if text.contains("helix_sync_duration_seconds_bucket") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        text = scrape(&app).await;
    }
    for needle in [
        r#"helix_webhooks_received_total{source="github"}"#,
        r#"helix_webhooks_rejected_total{source="github",reason="unauthorized"}"#,
        "helix_ingest_latency_seconds_bucket",
        r#"helix_queue_depth{state="queued"}"#,
        r#"helix_queue_depth{state="dead"}"#,
        r#"helix_queue_oldest_age_seconds{state="queued"}"#,
        "helix_job_runs_total{",
        "helix_job_duration_seconds_bucket",
        r#"helix_sync_duration_seconds_bucket{status="partial""#,
        r#"helix_source_results_total{source="github",status="error"}"#,
        r#"helix_source_results_total{source="ucf_state",status="ok"}"#,
        r#"helix_target_deliveries{target="portal",state="pending"}"#,
        r#"helix_target_deliveries{target="discord",state="disabled"}"#,
        "helix_store_up 1",
        "# HELP helix_queue_depth",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}
