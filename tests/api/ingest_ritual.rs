//! `POST /webhooks/ritual`: Standard Webhooks signatures, tolerance, envelope, dedupe.

use crate::helpers::*;

fn completed() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "ritual.completed",
        "timestamp": "2026-11-25T21:00:00Z",
        "data": {
            "ritual_id": "z88-1", "name": "Z-88", "steps": 108, "user": "andrew",
            "ucf_before": {"harmony": 0.7, "resilience": 1.0, "prana": 0.5, "drishti": 0.6, "klesha": 0.08, "zoom": 1.0},
            "ucf_after": {"harmony": 0.9, "resilience": 1.1, "prana": 0.6, "drishti": 0.7, "klesha": 0.04, "zoom": 1.0},
            "anomalies": []
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn signed_ritual_is_stored_and_queues_a_sync() {
    let app = spawn_app().await;
    let res = app.post_ritual("msg_1", &completed()).await;
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["duplicate"], false);
    let again: serde_json::Value = app
        .post_ritual("msg_1", &completed())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.count("events").await, 1);
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn ritual_started_is_stored_without_a_job() {
    let app = spawn_app().await;
    let body = br#"{"type":"ritual.started","timestamp":"2026-11-25T21:00:00Z","data":{"ritual_id":"z88-2"}}"#;
    assert_eq!(app.post_ritual("msg_2", body).await.status(), 202);
    assert_eq!(app.count("jobs").await, 0);
}

async fn post(
    app: &TestApp,
    id: &str,
    ts: i64,
    sig: Option<String>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/webhooks/ritual"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string());
    if let Some(s) = sig {
        req = req.header("webhook-signature", s);
    }
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn bad_signatures_and_timestamps_are_401() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let body = completed();
    assert_eq!(
        error_code(post(&app, "m", now, None, body.clone()).await, 401).await,
        "unauthorized"
    );
    let wrong = ritual_signature("whsec_dGhpcyBpcyBub3QgdGhlIGtleQ==", "m", now, &body);
    assert_eq!(
        error_code(post(&app, "m", now, Some(wrong), body.clone()).await, 401).await,
        "unauthorized"
    );
    for ts in [now - 301, now + 301] {
        let sig = ritual_signature(RITUAL_SECRET, "m", ts, &body);
        assert_eq!(
            error_code(post(&app, "m", ts, Some(sig), body.clone()).await, 401).await,
            "unauthorized"
        );
    }
    // Several signatures, one valid: accepted.
    let good = ritual_signature(RITUAL_SECRET, "m", now, &body);
    let res = post(&app, "m", now, Some(format!("v1,Zm9v {good}")), body).await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.count("events").await, 1);
}

#[tokio::test]
async fn bad_envelope_is_400_and_stores_nothing() {
    let app = spawn_app().await;
    for body in [
        br#"{"type":"ritual.completed","timestamp":"2026-11-25T21:00:00Z","data":{}}"#.to_vec(),
        br#"{"type":"unknown","timestamp":"2026-11-25T21:00:00Z","data":{}}"#.to_vec(),
        b"not json".to_vec(),
    ] {
        assert_eq!(
            error_code(app.post_ritual("bad", &body).await, 400).await,
            "bad_request"
        );
    }
    assert_eq!(app.count("events").await, 0);
}
