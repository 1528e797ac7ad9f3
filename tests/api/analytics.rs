//! Analytics (issue 18 part 4): the API, the json export, the HTML export and the portal
//! feed show the same numbers for a run, in the shape of `schemas/analytics.schema.json`,
//! with the forecast labelled as a prediction; bad input gets the usual JSON errors.

use serde_json::{json, Value};

use crate::end_to_end::{pipeline_app_with, REPO};
use crate::helpers::*;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/analytics.schema.json"))
        .expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_valid(doc: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}\n{doc}");
}

/// Queues a full sync through the API and runs it and its deliveries.
async fn sync_once(app: &TestApp) {
    app.trigger(json!({})).await;
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn every_surface_shows_the_same_analytics_of_a_run() {
    let (app, _github, _discord, _notion, _dir) = pipeline_app_with(&[]).await;
    for _ in 0..4 {
        sync_once(&app).await;
    }
    let runs = app.store.list_runs(10).await.unwrap();
    assert_eq!(runs.len(), 4);
    let latest = &runs[0];
    assert_eq!(latest.status, "succeeded", "{:?}", latest.error);

    let res = app.get_authed("/api/analytics").await;
    assert_eq!(res.status(), 200);
    let api: Value = res.json().await.unwrap();
    assert_valid(&api);
    assert_eq!(api["run_id"], latest.id.as_str());
    let harmony = api["ucf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "harmony")
        .expect("harmony is analysed");
    assert_eq!(harmony["runs"], 4);
    assert_eq!(harmony["forecast"]["kind"], "prediction");
    // The example UCF file does not change between runs: flat, no anomaly, zero-width interval.
    assert_eq!(harmony["direction"], "flat");
    assert_eq!(harmony["anomaly"]["flagged"], false);
    let repo = &api["repos"][0];
    assert_eq!(repo["repo"], REPO);
    assert_eq!(repo["weeks"].as_array().unwrap().len(), 8);
    // The example agents have no task counts (those come from the profiles database), so
    // there is no success rate to trend here; the unit tests cover agent trends.
    assert!(api["agents"].is_array());

    // The json export of the same run embeds the same numbers.
    let export: Value = app
        .get_authed(&format!("/api/export/json?run={}", latest.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["analytics"], api);
    // An earlier run has its own analytics, over the runs up to it only.
    let first = &runs[3];
    let old: Value = app
        .get_authed(&format!("/api/analytics?run={}", first.id))
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&old);
    assert_eq!(old["ucf"][0]["runs"], 1);
    assert_eq!(old["ucf"][0]["direction"], "insufficient_data");
    assert!(old["ucf"][0]["forecast"].is_null());

    // The portal feed carries them too, and the HTML export labels the forecast.
    let feed: Value = app.get_json("/api/sync/latest.json").await;
    assert_valid(&feed["analytics"]);
    assert_eq!(feed["analytics"], api);
    let html = app
        .get_authed("/api/export/html")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"analytics\""));
    assert!(
        html.contains("<em>prediction:</em>"),
        "the forecast reads as a prediction"
    );
    assert!(html.contains("Repository velocity"));

    // A scope keeps only its part.
    let ucf: Value = app
        .get_authed("/api/analytics?scope=ucf")
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&ucf);
    assert!(ucf["repos"].as_array().unwrap().is_empty());
    assert!(ucf["agents"].as_array().unwrap().is_empty());
    assert_eq!(ucf["ucf"], api["ucf"]);

    let schema = app.get_text("/api/schema/analytics.json").await;
    assert_eq!(
        serde_json::from_str::<Value>(&schema).unwrap()["$id"],
        "https://helix-sync.local/schemas/analytics.schema.json"
    );
}

#[tokio::test]
async fn bad_analytics_requests_get_json_errors() {
    let app = spawn_app().await;
    let res = app.get_authed("/api/analytics").await;
    assert_eq!(error_code(res, 404).await, "not_found", "no run yet");
    let res = app
        .client
        .get(app.url("/api/analytics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app.get_authed("/api/analytics?scope=everything").await;
    assert_eq!(error_code(res, 400).await, "bad_request");
    let res = app.get_authed("/api/analytics?run=no-such-run").await;
    assert_eq!(error_code(res, 404).await, "not_found");
}
