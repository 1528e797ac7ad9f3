//! `POST /api/sync`: bearer token, body validation, the on/off switch.

use crate::helpers::*;

#[tokio::test]
async fn token_is_required_and_checked() {
    let app = spawn_app().await;
    let res = app.client.post(app.url("/api/sync")).send().await.unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(error_code(res, 401).await, "unauthorized");
    let res = app
        .client
        .post(app.url("/api/sync"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
    let res = app
        .client
        .post(app.url("/api/sync"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    let job = app
        .store
        .get_job(v["job_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, "queued");
}

#[tokio::test]
async fn body_names_are_validated() {
    let app = spawn_app().await;
    let post = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/sync"))
            .bearer_auth(API_TOKEN)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = post(
        r#"{"sources":["github"],"targets":["discord"]}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 202);
    let res = post(r#"{"sources":["gitlab"]}"#, "application/json")
        .await
        .unwrap();
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"], "bad_request");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("github, ucf_state, agent_metrics"));
    assert_eq!(
        error_code(post("{", "application/json").await.unwrap(), 400).await,
        "bad_request"
    );
    assert_eq!(
        error_code(post(r#"{"x":1}"#, "application/json").await.unwrap(), 400).await,
        "bad_request"
    );
    assert_eq!(
        error_code(post(r#"{}"#, "text/plain").await.unwrap(), 415).await,
        "unsupported_media_type"
    );
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn disabled_manual_trigger_is_403() {
    let app = spawn_with(Spawn::default().env("HELIX_SYNC_MANUAL_TRIGGER", "false")).await;
    let res = app
        .client
        .post(app.url("/api/sync"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "forbidden");
}

#[tokio::test]
async fn no_token_configured_is_503() {
    let app = spawn_with(Spawn::default().env("HELIX_API_TOKEN", "")).await;
    let res = app
        .client
        .post(app.url("/api/sync"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 503).await, "not_configured");
}
