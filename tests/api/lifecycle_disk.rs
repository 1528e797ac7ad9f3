//! Disk use in sight: database size, WAL size, free space and rows per table on `/metrics`
//! and the status page; `/health` degraded past the configured size or free-space threshold.

use helix_sync::store::Backend;
use serde_json::Value;

use crate::helpers::*;

/// A test app whose config file is the shipped one with `disk` replaced (the file lives in
/// the returned directory).
async fn app_with_disk(disk: Value) -> (TestApp, tempfile::TempDir) {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sync_config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(shipped).unwrap()).unwrap();
    cfg["disk"] = disk;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync_config.json");
    std::fs::write(&path, cfg.to_string()).unwrap();
    let app = spawn_with(Spawn::default().env("HELIX_CONFIG", path.to_str().unwrap())).await;
    (app, dir)
}

async fn health(app: &TestApp) -> Value {
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn disk_use_is_on_metrics_and_the_status_page() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "x")).unwrap();
    assert_eq!(app.post_github("push", "d1", &body).await.status(), 202);

    let text = app.get_text("/metrics").await;
    let gauge = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    assert!(gauge("helix_db_size_bytes").unwrap() > 0.0, "{text}");
    for table in ["events", "jobs", "sync_runs", "deliveries", "snapshots"] {
        assert!(
            gauge(&format!("helix_db_rows{{table=\"{table}\"}}")).is_some(),
            "rows of {table}: {text}"
        );
    }
    if app.store.backend() == Backend::Sqlite {
        assert_eq!(gauge("helix_db_rows{table=\"events\"}"), Some(1.0));
        assert!(gauge("helix_db_wal_bytes").is_some());
        assert!(gauge("helix_db_free_bytes").unwrap() > 0.0);
    }

    let h = health(&app).await;
    assert_eq!(h["status"], "healthy", "{h}");
    assert!(h["disk"]["database_bytes"].as_u64().unwrap() > 0);
    assert!(h["disk"]["problem"].is_null());

    let page = app.get_text("/").await;
    assert!(
        page.contains("id=\"storage\""),
        "the status page has a storage section"
    );
    assert!(page.contains("events rows"));
    assert!(page.contains("MiB"));
}

#[tokio::test]
async fn health_is_degraded_past_the_size_threshold() {
    let (app, _config) = app_with_disk(serde_json::json!({"degraded_above": "4KiB"})).await;
    let h = health(&app).await;
    assert_eq!(h["status"], "degraded", "{h}");
    let problem = h["disk"]["problem"].as_str().unwrap();
    assert!(problem.contains("disk.degraded_above"), "{problem}");
}

#[tokio::test]
async fn health_is_degraded_below_the_free_space_threshold() {
    let (app, _config) =
        app_with_disk(serde_json::json!({"degraded_free_below": "1000000TiB"})).await;
    let h = health(&app).await;
    if app.store.backend() == Backend::Sqlite {
        assert_eq!(h["status"], "degraded", "{h}");
        let problem = h["disk"]["problem"].as_str().unwrap();
        assert!(problem.contains("disk.degraded_free_below"), "{problem}");
    } else {
        // PostgreSQL's disk is the server's: there is no free space to compare here.
        assert!(
            h["disk"]["free_bytes"].is_null() && h["disk"]["problem"].is_null(),
            "{h}"
        );
    }
}
