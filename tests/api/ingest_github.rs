//! `POST /webhooks/github`: signatures, content types, limits, dedupe, routing.

use crate::helpers::*;

#[tokio::test]
async fn signed_push_is_stored_with_its_job() {
    let app = spawn_app().await;
    let body =
        serde_json::to_vec(&push_payload("helix/core", "main", "Add ritual engine")).unwrap();
    let res = app.post_github("push", "d-1", &body).await;
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["duplicate"], false);
    let id = v["id"].as_str().unwrap();

    let ev: serde_json::Value = app
        .get_authed(&format!("/api/events/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ev["event_type"], "push");
    assert_eq!(ev["repo"], "helix/core");
    assert_eq!(ev["headers"]["default_branch"], true);
    assert_eq!(ev["payload"]["commits"][0]["message"], "Add ritual engine");
    // Stored compressed, read back as exactly the bytes that were signed.
    let stored = app.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(stored.payload.as_bytes(), body.as_slice());
    let job_id = ev["job_id"].as_str().expect("push queues a job");
    let job = app.store.get_job(job_id).await.unwrap().unwrap();
    assert_eq!(job.state, "queued");
    assert_eq!(
        job.coalesce_key.as_deref(),
        Some("sync:repo:helix/core;sources=github")
    );
}

#[tokio::test]
async fn redelivery_is_a_duplicate_and_stores_nothing() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "x")).unwrap();
    let first: serde_json::Value = app
        .post_github("push", "same", &body)
        .await
        .json()
        .await
        .unwrap();
    let res = app.post_github("push", "same", &body).await;
    assert_eq!(res.status(), 202);
    let second: serde_json::Value = res.json().await.unwrap();
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(app.count("events").await, 1);
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn ping_answers_with_the_zen_and_stores_nothing() {
    let app = spawn_app().await;
    let body = br#"{"zen":"Design for failure.","hook_id":42}"#;
    let res = app.post_github("ping", "p-1", body).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["zen"], "Design for failure.");
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn other_events_are_stored_for_history_without_a_job() {
    let app = spawn_app().await;
    for (i, event) in ["star", "fork", "watch", "member", "label", "workflow_run"]
        .iter()
        .enumerate()
    {
        let body = format!(r#"{{"action":"created","repository":{{"full_name":"o/r"}},"n":{i}}}"#);
        let res = app
            .post_github(event, &format!("h-{i}"), body.as_bytes())
            .await;
        assert_eq!(res.status(), 202, "{event}");
    }
    assert_eq!(app.count("events").await, 6);
    assert_eq!(app.count("jobs").await, 0);
}

#[tokio::test]
async fn form_encoded_delivery_is_verified_over_the_raw_form_body() {
    let app = spawn_app().await;
    let payload = serde_json::to_string(&push_payload("o/r", "dev", "form & more")).unwrap();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let res = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "push")
        .header("x-github-delivery", "form-1")
        .header(
            "x-hub-signature-256",
            github_signature(GITHUB_SECRET, form.as_bytes()),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let v: serde_json::Value = res.json().await.unwrap();
    let ev: serde_json::Value = app
        .get_authed(&format!("/api/events/{}", v["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ev["payload"]["commits"][0]["message"], "form & more");
    assert_eq!(ev["headers"]["default_branch"], false);
}

async fn post_raw(app: &TestApp, headers: &[(&str, String)], body: Vec<u8>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/webhooks/github"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let body = br#"{"repository":{"full_name":"o/r"}}"#.to_vec();
    let good_sig = github_signature(GITHUB_SECRET, &body);
    let base = |sig: Option<String>, ct: &str| {
        let mut h = vec![
            ("content-type", ct.to_owned()),
            ("x-github-event", "push".to_owned()),
            ("x-github-delivery", "bad-1".to_owned()),
        ];
        if let Some(s) = sig {
            h.push(("x-hub-signature-256", s));
        }
        h
    };
    // Missing, wrong, and wrong-secret signatures.
    assert_eq!(
        error_code(
            post_raw(&app, &base(None, "application/json"), body.clone()).await,
            401
        )
        .await,
        "unauthorized"
    );
    let wrong = github_signature("not-the-secret", &body);
    assert_eq!(
        error_code(
            post_raw(&app, &base(Some(wrong), "application/json"), body.clone()).await,
            401
        )
        .await,
        "unauthorized"
    );
    let tampered = br#"{"repository":{"full_name":"o/x"}}"#.to_vec();
    assert_eq!(
        error_code(
            post_raw(
                &app,
                &base(Some(good_sig.clone()), "application/json"),
                tampered
            )
            .await,
            401
        )
        .await,
        "unauthorized"
    );
    // Wrong content type.
    assert_eq!(
        error_code(
            post_raw(
                &app,
                &base(Some(good_sig.clone()), "text/plain"),
                body.clone()
            )
            .await,
            415
        )
        .await,
        "unsupported_media_type"
    );
    // Signed but malformed JSON.
    let junk = b"{not json".to_vec();
    let junk_sig = github_signature(GITHUB_SECRET, &junk);
    assert_eq!(
        error_code(
            post_raw(&app, &base(Some(junk_sig), "application/json"), junk).await,
            400
        )
        .await,
        "bad_request"
    );
    // Signed but no event header.
    let mut h = base(Some(good_sig), "application/json");
    h.retain(|(k, _)| *k != "x-github-event");
    assert_eq!(
        error_code(post_raw(&app, &h, body).await, 400).await,
        "bad_request"
    );
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn body_over_25_mb_is_413() {
    let app = spawn_app().await;
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let res = app.post_github("push", "big", &big).await;
    assert_eq!(error_code(res, 413).await, "payload_too_large");
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn without_a_secret_the_endpoint_is_not_configured() {
    let app = spawn_with(Spawn::default().env("GITHUB_WEBHOOK_SECRET", "")).await;
    let res = app.post_github("push", "x", b"{}").await;
    assert_eq!(error_code(res, 503).await, "not_configured");
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn concurrent_deliveries_are_all_committed() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "burst")).unwrap();
    let futures = (0..200).map(|i| {
        let (app, body) = (&app, &body);
        async move {
            app.post_github("push", &format!("c-{i}"), body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(futures).await;
    assert!(statuses.iter().all(|s| *s == 202));
    assert_eq!(app.count("events").await, 200);
    // All 200 pushes to one repository coalesce into one queued job.
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let res = app
        .client
        .get(app.url("/webhooks/github"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn concurrent_redeliveries_store_one_event() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "same")).unwrap();
    let futures = (0..50).map(|_| {
        let (app, body) = (&app, &body);
        async move {
            let res = app.post_github("push", "same-delivery", body).await;
            assert_eq!(res.status(), 202);
            res.json::<serde_json::Value>().await.unwrap()
        }
    });
    let answers = futures::future::join_all(futures).await;
    let firsts = answers.iter().filter(|a| a["duplicate"] == false).count();
    assert_eq!(firsts, 1, "exactly one delivery is new");
    assert!(
        answers.iter().all(|a| a["id"] == answers[0]["id"]),
        "all answers name the stored event"
    );
    assert_eq!(app.count("events").await, 1);
    assert_eq!(app.count("jobs").await, 1);
}
