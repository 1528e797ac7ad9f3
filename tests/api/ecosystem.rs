//! Data shaped as the ecosystem's Python daemon writes it: zone-less `utcnow().isoformat()`
//! timestamps, an agents state with 21 agents, profile databases of older or simpler layouts,
//! and a state URL that hangs.

use sqlx::Connection;

use crate::helpers::*;
use crate::sync_support::*;

/// An agents state of `n` agents (every third one inactive), written by the daemon.
fn agents_state(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let agents: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            let name = format!("Agent{i:02}");
            let a = serde_json::json!({"name": name, "active": i % 3 != 0, "role": "worker",
                "last_heartbeat": "2026-11-25T09:30:00.123456"});
            (name, a)
        })
        .collect();
    let path = dir.join("agents_state.json");
    let doc = serde_json::json!({"timestamp": "2026-11-25T09:30:00.123456", "agents": agents});
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// A profiles database made of `statements`.
async fn database(path: &std::path::Path, statements: &[&str]) {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&mut db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
}

async fn export(app: &TestApp, format: &str) -> String {
    let res = app.get_authed(&format!("/api/export/{format}")).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test]
async fn a_profiles_database_without_total_tasks_keeps_all_21_agents() {
    let dir = tempfile::tempdir().unwrap();
    let state = agents_state(dir.path(), 21);
    let db = dir.path().join("profiles.db");
    database(
        &db,
        &[
            "CREATE TABLE agent_stats (agent_name TEXT PRIMARY KEY, successful_tasks INTEGER, last_active TEXT)",
            "INSERT INTO agent_stats VALUES ('Agent01', 7, '2026-11-25T09:30:00.123456')",
        ],
    )
    .await;
    let (app, _fake) = sync_app(
        &[],
        &[
            ("AGENT_METRICS_SOURCE", state.to_str().unwrap()),
            ("AGENT_PROFILES_DB", db.to_str().unwrap()),
        ],
    )
    .await;
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let json: serde_json::Value = serde_json::from_str(&export(&app, "json").await).unwrap();
    assert_eq!(json["agent_totals"]["agents"], 21);
    assert_eq!(json["agent_totals"]["active"], 14);
    let a = &json["agents"]["Agent01"];
    assert_eq!(a["tasks_succeeded"], 7, "the columns that exist are read");
    assert_eq!(
        a["last_active"], "2026-11-25T09:30:00.123456Z",
        "a profile's zone-less time is UTC"
    );
    assert_eq!(a["last_heartbeat"], "2026-11-25T09:30:00.123456Z");
    let md = export(&app, "markdown").await;
    assert!(md.contains("14 of 21 agents active"), "{md}");
}

#[tokio::test]
async fn an_unreadable_profiles_database_degrades_alone_with_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = agents_state(dir.path(), 21);
    let db = dir.path().join("profiles.db");
    // No agent_name: nothing in this table can be tied to an agent.
    database(
        &db,
        &[
            "CREATE TABLE agent_stats (name TEXT, total_tasks INTEGER)",
            "CREATE TABLE task_history (id INTEGER PRIMARY KEY, agent_name TEXT, success INTEGER)",
            "INSERT INTO task_history (agent_name, success) VALUES ('Agent02', 1), ('Agent02', 0)",
        ],
    )
    .await;
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, not even close").unwrap();
    for (path, expected) in [
        (
            &db,
            format!(
                "agent profiles database {}: table agent_stats has no column agent_name",
                db.display()
            ),
        ),
        (
            &garbage,
            format!("agent profiles database {}", garbage.display()),
        ),
    ] {
        let (app, _fake) = sync_app(
            &[],
            &[
                ("AGENT_METRICS_SOURCE", state.to_str().unwrap()),
                ("AGENT_PROFILES_DB", path.to_str().unwrap()),
            ],
        )
        .await;
        let run = sync_ok(&app).await;
        assert_eq!(run.status, "partial");
        let error = run.error.clone().unwrap();
        assert!(error.contains(&expected), "{error}");
        assert_eq!(sources(&run)["agent_metrics"]["status"], "error");
        let snap = latest_snapshot(&app).await.unwrap().1;
        assert_eq!(snap.agent_totals.agents, 21, "the JSON's agents stay");
        assert_eq!(snap.agent_totals.active, 14);
        if path == &db {
            assert_eq!(
                snap.agents["Agent02"].tasks_total, 2,
                "other tables still count"
            );
        }
    }
}

fn ritual(harmony: f64, timestamp: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "ritual.completed",
        "timestamp": timestamp,
        "data": {"ritual_id": "r-now", "ucf_after": {"harmony": harmony, "resilience": 1.2,
                 "prana": 0.66, "drishti": 0.74, "klesha": 0.03, "zoom": 1.0}}
    }))
    .unwrap()
}

#[tokio::test]
async fn zone_less_timestamps_are_utc_so_a_new_ritual_beats_an_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let ucf = dir.path().join("ucf_state.json");
    std::fs::write(
        &ucf,
        r#"{"harmony": 0.5, "resilience": 1.1, "prana": 0.6, "drishti": 0.7, "klesha": 0.04,
            "zoom": 1.0, "timestamp": "2026-11-25T09:30:00.123456"}"#,
    )
    .unwrap();
    let (app, _fake) = sync_app(&[], &[("UCF_STATE_SOURCE", ucf.to_str().unwrap())]).await;
    // The daemon's own form for the envelope too: `datetime.utcnow().isoformat()`.
    let now = chrono::Utc::now()
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let res = app.post_ritual("msg_now", &ritual(0.9, &now)).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    app.run_pending_jobs().await;
    let run = app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let ucf_state = latest_snapshot(&app).await.unwrap().1.ucf.unwrap();
    assert_eq!(ucf_state.metrics["harmony"], 0.9, "the newer ritual wins");
    assert_eq!(ucf_state.origin, "ritual:r-now");

    // And an old ritual loses to the same file read as UTC.
    let (app, _fake) = sync_app(&[], &[("UCF_STATE_SOURCE", ucf.to_str().unwrap())]).await;
    let old = ritual(0.9, "2026-11-24T09:30:00.000001");
    assert_eq!(app.post_ritual("msg_old", &old).await.status(), 202);
    app.run_pending_jobs().await;
    let ucf_state = latest_snapshot(&app).await.unwrap().1.ucf.unwrap();
    assert_eq!(ucf_state.metrics["harmony"], 0.5);
    assert_eq!(
        ucf_state.timestamp.as_deref(),
        Some("2026-11-25T09:30:00.123456Z")
    );
}

#[tokio::test]
async fn a_hung_state_url_times_out_after_the_configured_seconds_and_names_the_url() {
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ucf", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync_config.json");
    std::fs::write(&config, r#"{"sources": {"timeout_secs": 1}}"#).unwrap();
    let (app, _fake) = sync_app(
        &[],
        &[
            ("UCF_STATE_SOURCE", url.as_str()),
            ("HELIX_CONFIG", config.to_str().unwrap()),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let run = sync_ok(&app).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(run.status, "partial");
    let error = run.error.unwrap();
    assert!(
        error.contains(&format!("UCF state source {url}: timed out after 1 s")),
        "{error}"
    );
    hold.abort();
}
