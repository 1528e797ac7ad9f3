//! The portal feed: files written atomically, served with ETag / 304, CORS and caching, a
//! late older run never replacing a newer feed, and the rebuild hook.

use helix_sync::store::now_ms;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::publish_support::*;

#[tokio::test]
async fn the_feed_has_etag_304_cors_and_cache_control() {
    let h = harness(Setup::default()).await;
    let url = h.app.url("/api/sync/latest.json");
    let res = h.app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 404, "nothing published yet");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    h.seed_run("run-1", now_ms(), &changes(), &["portal"]).await;
    h.run_pending().await;
    let res = h
        .app
        .client
        .get(&url)
        .header("origin", "https://portal.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body = res.bytes().await.unwrap();
    let file = std::fs::read(h.app.dir.path().join("exports/portal/api/sync/latest.json")).unwrap();
    assert_eq!(
        body.as_ref(),
        file.as_slice(),
        "the API serves the portal's file"
    );

    let feed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(feed["run"]["status"], "succeeded");
    assert_eq!(feed["stats"]["github"]["new_commits"], 2);
    assert_eq!(feed["stats"]["github"]["stars"], 42);
    assert_eq!(feed["ucf"]["metrics"]["harmony"], 0.82);
    assert_eq!(
        feed["changes"]["repos"]["helix/core"]["prs_merged"],
        json!([12])
    );
    assert_eq!(feed["exports"][0]["path"], "markdown/run-1.md");

    let res = h
        .app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    let res = h
        .app
        .client
        .get(&url)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let preflight = h
        .app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://portal.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "if-none-match")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn history_keeps_the_last_runs_and_an_older_run_never_replaces_the_feed() {
    let h = harness(Setup {
        publishers: json!({"portal": {"history": 2}}),
        ..Setup::default()
    })
    .await;
    let t = now_ms();
    h.seed_run("run-b", t, &changes(), &["portal"]).await;
    h.seed_run("run-c", t + 10, &changes(), &["portal"]).await;
    h.run_pending().await;
    // A late delivery of an older run (a retry that waited) still refreshes history only.
    h.seed_run("run-a", t - 10, &changes(), &["portal"]).await;
    h.run_pending().await;
    let dir = h.app.dir.path().join("exports/portal/api/sync");
    let latest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["run"]["id"], "run-c");
    let history: Value =
        serde_json::from_slice(&std::fs::read(dir.join("history.json")).unwrap()).unwrap();
    let ids: Vec<&str> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["run-c", "run-b"]);
    assert_eq!(history["runs"][0]["ucf"]["harmony"], 0.82);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[tokio::test]
async fn the_rebuild_hook_is_posted_after_a_new_feed() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rebuild"))
        .and(body_partial_json(
            json!({"run_id": "run-1", "status": "succeeded"}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    let h = harness(Setup {
        publishers: json!({"portal": {"rebuild_hook": format!("{}/rebuild", hook.uri())}}),
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["portal"]).await;
    h.run_pending().await;
    assert_eq!(h.delivery("run-1", "portal").await.state, "succeeded");
    hook.verify().await;
}
