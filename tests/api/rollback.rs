//! Rollback: an earlier run's state published again — portal feed and `latest.*` exports,
//! Notion pages, one Discord message — as a recorded run of its own, through the same
//! deliveries as any run, with nothing deleted.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::versions_support::{seed_failed_run, text, versions_app};

#[tokio::test]
async fn a_rollback_publishes_the_earlier_state_everywhere_and_is_a_run_of_its_own() {
    let v = versions_app(json!({})).await;
    v.set_harmony(0.5);
    let first = v.sync().await;
    v.set_harmony(0.9);
    v.set_agent_active("Kael", false);
    let second = v.sync().await;
    let app = &v.app;
    assert_eq!(v.discord.messages().len(), 2);
    assert_eq!(
        v.agent_page("Kael").properties["Status"]["select"]["name"],
        "Inactive"
    );

    // Only with the operator's credential.
    let res = app
        .client
        .post(app.url(&format!("/api/runs/{}/rollback", first.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");

    let res = v.post(&format!("/api/runs/{}/rollback", first.id)).await;
    assert_eq!(res.status(), 201);
    let outcome: Value = res.json().await.unwrap();
    let rollback = outcome["run_id"].as_str().unwrap().to_owned();
    assert_eq!(outcome["rollback_to"], first.id.as_str());
    assert_eq!(outcome["rollback_from"], second.id.as_str());
    assert_eq!(outcome["requested_by"], "HELIX_API_TOKEN");
    assert_eq!(outcome["changes"]["ucf"][0]["direction"], "down");
    app.run_pending_jobs().await;

    // The same durable deliveries as any run.
    for target in ["discord", "notion", "portal"] {
        let d = app
            .store
            .get_delivery(&rollback, target)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.state, "succeeded", "{target}: {:?}", d.last_error);
    }
    // The portal feed and the latest exports show the first run's state.
    let feed = v.portal_latest();
    assert_eq!(feed["run"]["id"], rollback.as_str());
    assert_eq!(feed["run"]["trigger"], "rollback");
    assert_eq!(feed["rollback"]["to"], first.id.as_str());
    assert_eq!(feed["ucf"]["metrics"]["harmony"], 0.5);
    let row = app.store.get_run(&rollback).await.unwrap().unwrap();
    let files: Vec<Value> = serde_json::from_str(&row.exports).unwrap();
    let exports = app.dir.path().join("exports");
    for f in &files {
        let path = f["path"].as_str().unwrap();
        let (format, name) = path.split_once('/').unwrap();
        let ext = name.split_once('.').unwrap().1;
        let latest = std::fs::read(exports.join(format).join(format!("latest.{ext}"))).unwrap();
        assert!(
            latest == std::fs::read(exports.join(path)).unwrap(),
            "latest.{ext}"
        );
    }
    assert_eq!(
        app.store.snapshot_json(&rollback).await.unwrap(),
        app.store.snapshot_json(&first.id).await.unwrap(),
        "the rollback stores the first run's snapshot as it was"
    );
    // Notion's pages carry the first run's values again; the run page records the rollback.
    assert_eq!(
        v.agent_page("Kael").properties["Status"]["select"]["name"],
        "Active"
    );
    let run_page = v
        .notion
        .pages()
        .into_iter()
        .find(|p| text(&p.properties["Sync ID"]) == rollback)
        .expect("a run page for the rollback");
    assert_eq!(run_page.properties["Trigger"]["select"]["name"], "rollback");
    // Discord: one message saying what, to which run, and by whom.
    let messages = v.discord.messages();
    assert_eq!(messages.len(), 3, "exactly one message for the rollback");
    let content = messages[2]["content"].as_str().unwrap();
    assert!(
        content.contains("rolled back")
            && content.contains(&first.id)
            && content.contains(&second.id)
            && content.contains("HELIX_API_TOKEN"),
        "{content}"
    );
    let description = messages[2]["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.contains("Taken back") && description.contains("harmony"),
        "what was rolled back: {description}"
    );

    // It shows in history, nothing was deleted, and it can itself be rolled back.
    let history: Value = app
        .get_authed("/api/sync/history")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["runs"][0]["trigger"], "rollback");
    for id in [&first.id, &second.id] {
        assert!(app.store.snapshot_json(id).await.unwrap().is_some());
    }
    let record = v.record(&rollback).await;
    assert_eq!(record["rollback"]["to"], first.id.as_str());
    let res = v.post(&format!("/api/runs/{rollback}/rollback")).await;
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["rollback_to"], rollback.as_str());
    app.run_pending_jobs().await;
    assert_eq!(v.discord.messages().len(), 4);

    // From the command line, by a named person, back to the second run.
    let out = v.cli(&["rollback", "--to", &second.id, "--by", "alice", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The person named, and the account that ran the command.
    let by = cli["requested_by"].as_str().unwrap();
    assert!(by.starts_with("alice (cli:"), "{by}");
    app.run_pending_jobs().await;
    let last = v.discord.messages().pop().unwrap();
    assert!(
        last["content"].as_str().unwrap().contains("by alice"),
        "{last}"
    );
    assert_eq!(v.portal_latest()["ucf"]["metrics"]["harmony"], 0.9);
}

#[tokio::test]
async fn a_rollback_to_an_unknown_run_or_one_without_a_snapshot_is_refused_with_the_reason() {
    let v = versions_app(json!({})).await;
    v.sync().await;
    let app = &v.app;
    assert_eq!(
        error_code(v.post("/api/runs/nope/rollback").await, 404).await,
        "not_found"
    );
    seed_failed_run(app, "failed-run", "ucf_state: file not found").await;
    let res = v.post("/api/runs/failed-run/rollback").await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "conflict");
    let m = body["message"].as_str().unwrap();
    assert!(
        m.contains("no snapshot") && m.contains("file not found"),
        "{m}"
    );
    // Nothing was recorded for the refused rollbacks.
    let runs = app.store.list_runs(10).await.unwrap();
    assert!(runs.iter().all(|r| r.trigger != "rollback"));
}
