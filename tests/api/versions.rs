//! Versions: any run's snapshot and the diff between any two runs from the API, the CLI and
//! MCP, and a past run's exports made again byte for byte.

use helix_sync::service::export::regenerate;
use helix_sync::store::{RunFinish, RunStart};
use helix_sync::sync::exporters::FORMATS;
use helix_sync::sync::snapshot::{RepoData, Snapshot};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::operate::mcp_protocol::Session;
use crate::versions_support::{seed_failed_run, versions_app, versions_app_with};

#[tokio::test]
async fn any_runs_snapshot_and_the_diff_of_any_two_runs() {
    let v = versions_app(json!({})).await;
    let mut runs = Vec::new();
    for h in [0.5, 0.6, 0.7] {
        v.set_harmony(h);
        runs.push(v.sync().await.id);
    }
    let app = &v.app;

    // The snapshot, exactly as stored.
    let res = app
        .get_authed(&format!("/api/runs/{}/snapshot", runs[0]))
        .await;
    assert_eq!(res.status(), 200);
    let body = res.bytes().await.unwrap();
    let stored = app.store.snapshot_json(&runs[0]).await.unwrap().unwrap();
    assert_eq!(body.as_ref(), stored.as_slice());

    // Not only consecutive runs: the first against the third, both ways.
    let diff = |from: &str, to: &str| format!("/api/runs/diff?from={from}&to={to}");
    let d: Value = app
        .get_authed(&diff(&runs[0], &runs[2]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["from"]["id"], runs[0].as_str());
    let harmony = &d["changes"]["ucf"][0];
    assert_eq!(harmony["metric"], "harmony");
    assert_eq!(
        (harmony["before"].as_f64(), harmony["after"].as_f64()),
        (Some(0.5), Some(0.7))
    );
    assert_eq!(harmony["direction"], "up");
    let back: Value = app
        .get_authed(&diff(&runs[2], &runs[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(back["changes"]["ucf"][0]["direction"], "down");
    // The change summary of consecutive runs is the run's own (one function serves both).
    let own: Value = app
        .get_authed(&diff(&runs[1], &runs[2]))
        .await
        .json()
        .await
        .unwrap();
    let row = app.store.get_run(&runs[2]).await.unwrap().unwrap();
    assert_eq!(
        own["changes"],
        serde_json::from_str::<Value>(&row.change_summary).unwrap()
    );
    // A scope narrows it.
    let agents: Value = app
        .get_authed(&format!("{}&scope=agents", diff(&runs[0], &runs[2])))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(agents["scope"], "agents");
    assert_eq!(agents["changes"]["ucf"], json!([]));

    // The same diff over MCP.
    let s = Session::open(app).await;
    let answer = s
        .call(
            1,
            "tools/call",
            json!({"name": "helix-sync-diff",
            "arguments": {"from": runs[0], "to": runs[2]}}),
        )
        .await;
    let out = &answer["result"]["structuredContent"];
    assert_eq!(out["changes"], d["changes"], "{answer}");
    let answer = s
        .call(
            2,
            "tools/call",
            json!({"name": "helix-sync-snapshot", "arguments": {"run_id": runs[1]}}),
        )
        .await;
    assert_eq!(
        answer["result"]["structuredContent"]["run_id"],
        runs[1].as_str()
    );
    let answer = s
        .call(
            3,
            "tools/call",
            json!({"name": "helix-sync-diff", "arguments": {"from": "nope", "to": runs[0]}}),
        )
        .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    // And from the command line.
    let out = v.cli(&["diff", &runs[0], &runs[2], "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["changes"], d["changes"]);
}

#[tokio::test]
async fn bad_input_is_a_404_a_409_or_an_explained_400() {
    let v = versions_app(json!({})).await;
    let good = v.sync().await.id;
    let app = &v.app;
    let code =
        |path: String, status| async move { error_code(app.get_authed(&path).await, status).await };

    assert_eq!(
        code("/api/runs/nope/snapshot".into(), 404).await,
        "not_found"
    );
    assert_eq!(code("/api/runs/nope".into(), 404).await, "not_found");
    assert_eq!(
        code(format!("/api/runs/diff?from=nope&to={good}"), 404).await,
        "not_found"
    );
    assert_eq!(
        code(format!("/api/runs/diff?from={good}"), 400).await,
        "bad_request"
    );
    assert_eq!(
        code(
            format!("/api/runs/diff?from={good}&to={good}&scope=all"),
            400
        )
        .await,
        "bad_request"
    );

    // A failed run has no snapshot: the diff says so and why.
    seed_failed_run(app, "failed-run", "github: bad credentials").await;
    let res = app
        .get_authed(&format!("/api/runs/diff?from=failed-run&to={good}"))
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("bad credentials"),
        "{body}"
    );

    // Runs that track different repositories: explained, not a crash.
    for (id, repo) in [("run-a", "o/a"), ("run-b", "o/b")] {
        let mut s = Snapshot::empty("2026-11-01T00:00:00Z".parse().unwrap());
        s.repos.insert(repo.into(), RepoData::default());
        store_run(app, id, &serde_json::to_vec(&s).unwrap()).await;
    }
    let res = app.get_authed("/api/runs/diff?from=run-a&to=run-b").await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let m = body["message"].as_str().unwrap();
    assert!(
        m.contains("only in run-a: o/a") && m.contains("only in run-b: o/b"),
        "{m}"
    );
    let ok = app
        .get_authed("/api/runs/diff?from=run-a&to=run-b&scope=ucf")
        .await;
    assert_eq!(ok.status(), 200);
}

/// Stores a finished run with `snapshot` and nothing to publish.
async fn store_run(app: &TestApp, id: &str, snapshot: &[u8]) {
    let store = &app.store;
    let start = RunStart {
        id: id.into(),
        job_id: None,
        trigger: "manual".into(),
        started_at: 10,
    };
    store.start_run(&start).await.unwrap();
    store
        .finish_run(&RunFinish {
            id,
            finished_at: 20,
            status: "succeeded",
            sources_json: "{}",
            change_summary_json: "{}",
            exports_json: "[]",
            error: None,
            schema_version: 1,
            snapshot_json: Some(snapshot),
            cursors: &[],
            forget: &[],
            targets: &[],
            jobs: &[],
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_past_runs_exports_are_made_again_byte_for_byte() {
    // Every format, the PDF report included.
    let formats = FORMATS.join(",");
    let v = versions_app_with(json!({}), &[("EXPORT_FORMATS", &formats)]).await;
    let mut runs = Vec::new();
    for h in [0.41, 0.52, 0.63] {
        v.set_harmony(h);
        runs.push(v.sync().await);
    }
    let app = &v.app;
    let exports = app.dir.path().join("exports");
    // The first and the middle run, after later runs changed `latest.*` and the trend.
    for run in &runs[..2] {
        let files = regenerate(&app.state, &run.id).await.unwrap();
        assert_eq!(files.len(), FORMATS.len(), "every format the run wrote");
        for (path, bytes) in &files {
            let then = std::fs::read(exports.join(path)).unwrap();
            assert!(
                then == *bytes,
                "{path} differs from the file written at the time"
            );
        }
    }
    // The CLI writes them under the same names.
    let out_dir = tempfile::tempdir().unwrap();
    let out = v.cli(&[
        "export",
        "--run",
        &runs[0].id,
        "-o",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<Value> = serde_json::from_str(&runs[0].exports).unwrap();
    for f in listed {
        let path = f["path"].as_str().unwrap();
        let again = std::fs::read(out_dir.path().join(path)).unwrap();
        assert!(
            again == std::fs::read(exports.join(path)).unwrap(),
            "{path}"
        );
    }
    // A run without exports is a 404-like refusal with the reason, not an empty directory.
    assert!(regenerate(&app.state, "nope").await.is_err());
}
