//! The UCF and agent sources, and the out-of-the-box run on the shipped example data.

use sqlx::Connection;

use crate::sync_support::*;

#[tokio::test]
async fn out_of_the_box_a_sync_succeeds_on_the_example_data_with_github_disabled() {
    let (app, _fake) = sync_app(&[], &[]).await;
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let s = sources(&run);
    assert_eq!(s["github"]["status"], "disabled");
    assert_eq!(s["ucf_state"]["status"], "ok");
    assert_eq!(s["agent_metrics"]["status"], "ok");
    let snap = latest_snapshot(&app).await.unwrap().1;
    let ucf = snap.ucf.unwrap();
    assert_eq!(ucf.metrics["harmony"], 0.8734);
    assert_eq!(
        (ucf.status.as_str(), ucf.origin.as_str()),
        ("HARMONIC", "file")
    );
    assert!(
        ucf.extra.contains_key("collective_behavior_dna"),
        "unknown keys are kept"
    );
    assert_eq!((snap.agent_totals.agents, snap.agent_totals.active), (5, 4));
    assert!(snap.repos.is_empty());
}

#[tokio::test]
async fn a_bad_ucf_file_makes_a_partial_run_that_names_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ucf_state.json");
    std::fs::write(
        &path,
        r#"{"harmony": 1.7, "resilience": 1.1, "prana": 0.6, "drishti": 0.7, "klesha": 0.04}"#,
    )
    .unwrap();
    let (app, _fake) = sync_app(&[], &[("UCF_STATE_SOURCE", path.to_str().unwrap())]).await;
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "partial");
    let error = run.error.clone().unwrap();
    assert!(
        error.contains("\"harmony\" = 1.7 is out of range [0, 1]"),
        "{error}"
    );
    assert!(
        error.contains("missing required metric \"zoom\""),
        "{error}"
    );
    assert!(
        error.contains(path.to_str().unwrap()),
        "names the file: {error}"
    );
    let s = sources(&run);
    assert_eq!(s["ucf_state"]["status"], "error");
    assert_eq!(s["agent_metrics"]["status"], "ok");
    let snap = latest_snapshot(&app).await.unwrap().1;
    assert!(snap.ucf.is_none(), "never a clamped value");
    assert_eq!(snap.agents.len(), 5, "the other sources still count");
}

fn ritual(harmony: f64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "ritual.completed",
        "timestamp": "2026-11-26T08:00:00Z",
        "data": {"ritual_id": "z88-7", "name": "Z-88", "steps": 108,
                 "ucf_after": {"harmony": harmony, "resilience": 1.2, "prana": 0.66, "drishti": 0.74,
                               "klesha": 0.03, "zoom": 1.0}}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_newer_ritual_ucf_after_wins_over_the_file() {
    let (app, _fake) = sync_app(&[], &[]).await;
    assert_eq!(
        app.post_ritual("msg_ucf", &ritual(0.91)).await.status(),
        202
    );
    app.run_pending_jobs().await;
    let run = app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let ucf = latest_snapshot(&app).await.unwrap().1.ucf.unwrap();
    assert_eq!(ucf.origin, "ritual:z88-7");
    assert_eq!(ucf.metrics["harmony"], 0.91);
    assert_eq!(ucf.extra["last_ritual"]["name"], "Z-88");
}

#[tokio::test]
async fn a_newer_but_out_of_range_ritual_state_is_reported_and_the_file_used() {
    let (app, _fake) = sync_app(&[], &[]).await;
    assert_eq!(app.post_ritual("msg_bad", &ritual(1.4)).await.status(), 202);
    app.run_pending_jobs().await;
    let run = app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "partial");
    let error = run.error.unwrap();
    assert!(
        error.contains("(ucf_after): \"harmony\" = 1.4 is out of range"),
        "{error}"
    );
    let ucf = latest_snapshot(&app).await.unwrap().1.ucf.unwrap();
    assert_eq!(
        (ucf.origin.as_str(), ucf.metrics["harmony"]),
        ("file", 0.8734)
    );
}

/// Creates the ecosystem's profiles database with the documented tables.
async fn profiles_db(path: &std::path::Path) {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in [
        "CREATE TABLE task_history (id INTEGER PRIMARY KEY, timestamp TEXT, agent_name TEXT, task_description TEXT, \
         success INTEGER, duration_seconds REAL, harmony_before REAL, harmony_after REAL, notes TEXT)",
        "CREATE TABLE collaborations (id INTEGER PRIMARY KEY, timestamp TEXT, task_description TEXT, agents TEXT, \
         success INTEGER, harmony_delta REAL, notes TEXT)",
        "CREATE TABLE agent_stats (agent_name TEXT PRIMARY KEY, total_tasks INTEGER, successful_tasks INTEGER, \
         total_collaborations INTEGER, average_harmony_impact REAL, last_active TEXT, specialization_score REAL)",
        "INSERT INTO task_history (timestamp, agent_name, task_description, success, duration_seconds, harmony_before, harmony_after) VALUES \
         ('2026-11-25T10:00:00Z', 'Kael', 'review policy', 1, 4.0, 0.80, 0.82), \
         ('2026-11-25T11:00:00Z', 'Kael', 'audit', 0, 8.0, 0.82, 0.81), \
         ('2026-11-25T12:00:00Z', 'Echo', 'listen', 1, 2.0, 0.81, 0.83)",
        "INSERT INTO collaborations (timestamp, task_description, agents, success, harmony_delta) VALUES \
         ('2026-11-25T12:30:00Z', 'joint review', '[\"Kael\", \"Lumina\"]', 1, 0.01), \
         ('2026-11-25T13:30:00Z', 'planning', '[\"Kael\", \"Vega\", \"Echo\"]', 1, 0.02)",
        "INSERT INTO agent_stats VALUES ('Vega', 40, 36, 7, 0.015, '2026-11-25T13:45:00Z', 0.9)",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn agents_come_from_the_state_json_and_a_real_profiles_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent_profiles.db");
    profiles_db(&db).await;
    let (app, _fake) = sync_app(&[], &[("AGENT_PROFILES_DB", db.to_str().unwrap())]).await;
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let snap = latest_snapshot(&app).await.unwrap().1;

    let kael = &snap.agents["Kael"];
    assert_eq!(kael.emoji.as_deref(), Some("🜂"), "from the JSON");
    assert_eq!(
        (kael.tasks_total, kael.tasks_succeeded),
        (2, 1),
        "recounted from task_history"
    );
    assert_eq!(kael.success_rate, Some(0.5));
    assert_eq!(kael.mean_duration_secs, Some(6.0));
    assert_eq!(kael.collaborations, 2);
    assert_eq!(kael.last_active.as_deref(), Some("2026-11-25T11:00:00Z"));
    let vega = &snap.agents["Vega"];
    assert_eq!(
        (vega.tasks_total, vega.collaborations),
        (40, 7),
        "agent_stats wins"
    );
    assert_eq!(vega.harmony_impact, Some(0.015));
    let echo = &snap.agents["Echo"];
    assert!(!echo.active, "known only to the database");
    assert_eq!(echo.tasks_total, 1);

    let t = &snap.agent_totals;
    assert_eq!(
        (t.agents, t.active, t.tasks_total, t.collaborations),
        (6, 4, 43, 2)
    );
    let c = changes(&run);
    assert_eq!(c.task_deltas.get("Vega"), Some(&40));
    assert!(
        std::fs::metadata(&db).unwrap().len() > 0,
        "the database is left alone"
    );
}

#[tokio::test]
async fn the_agent_filter_and_a_missing_profiles_file_are_reported() {
    let (app, _fake) = sync_app(&[], &[("AGENT_PROFILES_DB", "/nonexistent/profiles.db")]).await;
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "partial");
    assert!(run
        .error
        .unwrap()
        .contains("agent profiles database /nonexistent/profiles.db: no such file"));
}
