use serde_json::Value;

use crate::helpers::{spawn_app, spawn_with, PlainRun, Spawn, API_TOKEN};

#[tokio::test]
async fn health_has_the_design_shape_and_is_healthy_at_start() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy", "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "status",
            "version",
            "last_sync",
            "next_sync",
            "sources",
            "targets",
            "metrics",
            "queue",
            "data_freshness_seconds",
            "disk",
            "github_budgets"
        ]
    );
    // No GitHub request has been made yet, so no budget is known.
    assert_eq!(body["github_budgets"], serde_json::json!([]));
    for (group, names) in [
        ("sources", ["github", "ucf_state", "agent_metrics"]),
        ("targets", ["discord", "notion", "portal"]),
    ] {
        for n in names {
            let s = body[group][n].as_str().unwrap();
            assert!(
                ["ok", "error", "disabled"].contains(&s),
                "{group}.{n} = {s}"
            );
        }
    }
    // The test app has no GITHUB_REPOS and no Notion key.
    assert_eq!(body["sources"]["github"], "disabled");
    assert_eq!(body["targets"]["notion"], "disabled");
    for k in ["success_rate", "avg_duration_seconds", "last_error"] {
        assert!(body["metrics"].get(k).is_some(), "metrics.{k}");
    }
    assert_eq!(body["queue"]["depth"]["queued"], 0);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_failed_target_degrades_and_a_closed_store_is_unhealthy() {
    let app = spawn_with(Spawn::default().env(
        "DISCORD_SYNC_WEBHOOK",
        "https://discord.com/api/webhooks/1234/very-secret-discord-token",
    ))
    .await;
    let now = helix_sync::store::now_ms();
    app.seed_plain_run(PlainRun {
        id: "run-1",
        trigger: "manual",
        started_at: now - 1000,
        finished_at: now,
        status: "succeeded",
        sources_json: r#"{"ucf_state":{"status":"ok","error":null},"agent_metrics":{"status":"ok","error":null}}"#,
        error: None,
        targets: &[("discord", true), ("notion", false), ("portal", true)],
    })
    .await;
    let mut d = app
        .store
        .get_delivery("run-1", "discord")
        .await
        .unwrap()
        .unwrap();
    d.state = "failed".into();
    d.attempts = 1;
    d.last_error = Some(format!(
        "POST https://discord.com/api/webhooks/1234/very-secret-discord-token: HTTP 500: {}",
        "upstream body ".repeat(100)
    ));
    d.updated_at = now + 1;
    app.store.update_delivery(&d).await.unwrap();

    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["targets"]["discord"], "error");
    assert_eq!(body["targets"]["portal"], "ok");
    let last_error = body["metrics"]["last_error"].as_str().unwrap();
    assert!(last_error.starts_with("discord: "), "{last_error}");
    assert!(
        !last_error.contains("very-secret-discord-token"),
        "{last_error}"
    );
    assert!(last_error.len() <= 200, "{}", last_error.len());
    assert_eq!(body["metrics"]["success_rate"], 1.0);
    assert!(body["data_freshness_seconds"].as_i64().unwrap() >= 0);

    // The bearer status endpoint serves the same report.
    let res = app.get_authed("/api/sync/status").await;
    assert_eq!(res.status(), 200);
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["status"], "degraded");
    assert_eq!(status["targets"], body["targets"]);
    let res = app
        .client
        .get(app.url("/api/sync/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    app.store.close().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert!(body["metrics"]["last_error"]
        .as_str()
        .unwrap()
        .starts_with("store unreachable"));
}

#[tokio::test]
async fn the_health_port_serves_health_only() {
    let app = spawn_app().await;
    let port = app
        .health_port
        .expect("HEALTH_CHECK_PORT=0 gives a second listener");
    assert_ne!(port, app.port);
    let base = format!("http://127.0.0.1:{port}");
    let res = app
        .client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    let res = app
        .client
        .get(format!("{base}/api/sync/history"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Disabled, or on the main port: no second listener.
    let off = spawn_with(Spawn::default().env("HEALTH_CHECK_ENABLED", "false")).await;
    assert_eq!(off.health_port, None);
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "caller-chosen")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "caller-chosen");
}
