//! Every console page, for each role, is valid HTML (the W3C Nu checker, through
//! `scripts/check-html.sh --vnu`), self-contained and escaped.

use helix_sync::queue::JobError;
use helix_sync::store::now_ms;

use super::{add, Console};
use crate::helpers::{push_payload, spawn_app, TestApp};

/// An app with something on every page: a finished sync run with a UCF snapshot, pushes,
/// a dead letter with an attempt, a refused request, and one user per role.
pub async fn seeded() -> TestApp {
    let app = spawn_app().await;
    app.trigger(serde_json::json!({})).await;
    app.run_pending_jobs().await;
    for i in 0..3 {
        let body =
            serde_json::to_vec(&push_payload("helix/core", "main", "fix <b>bold</b>")).unwrap();
        app.post_github("push", &format!("delivery-{i}"), &body)
            .await;
    }
    let now = now_ms() + 60_000;
    if let Some(c) = app.state.queue.claim("w", now).await.unwrap() {
        app.state
            .queue
            .fail(
                &c.row,
                "w",
                now,
                &JobError::Permanent("GitHub answered 401 Bad credentials".into()),
            )
            .await
            .unwrap();
    }
    app.client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "forged-<script>")
        .header("x-hub-signature-256", "sha256=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    add(&app, "admin", "admin").await;
    add(&app, "operator", "operator").await;
    add(&app, "viewer", "viewer").await;
    app
}

/// Paths worth looking at in `app` (ids read from the store).
pub async fn paths(app: &TestApp) -> Vec<String> {
    let events = app
        .store
        .event_page(&Default::default(), &None, 1)
        .await
        .unwrap();
    let event_id = events[0].id.clone();
    let dead = app
        .store
        .list_jobs(Some(helix_sync::store::JobState::Dead), 1)
        .await
        .unwrap();
    let run = app.store.list_runs(1).await.unwrap();
    let mut p = vec![
        "/console".to_owned(),
        "/console/events".into(),
        format!("/console/events/{event_id}"),
        "/console/events?source=gitlab&from=nonsense".into(),
        "/console/events/replay?source=github".into(),
        "/console/rejected".into(),
        "/console/jobs".into(),
        "/console/jobs/bulk?state=dead&action=retry".into(),
        "/console/deliveries".into(),
        "/console/schedules".into(),
        "/console/users".into(),
        "/console/audit".into(),
        "/console/events/unknown-id".into(),
    ];
    if let Some(j) = dead.first() {
        p.push(format!("/console/jobs/{}", j.id));
    }
    if let Some(r) = run.first() {
        p.push(format!("/console/runs/{}", r.id));
    }
    p
}

#[tokio::test]
async fn every_page_is_valid_html_without_external_assets() {
    let app = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let login = app.get_text("/console/login").await;
    std::fs::write(dir.path().join("login.html"), &login).unwrap();
    files.push(dir.path().join("login.html"));
    for role in ["admin", "viewer"] {
        let c = Console::login(&app, role, super::PASSWORD).await.unwrap();
        for (i, path) in paths(&app).await.into_iter().enumerate() {
            let res = c.get(&path).await;
            let status = res.status().as_u16();
            let html = res.text().await.unwrap();
            assert!(matches!(status, 200 | 400 | 403 | 404), "{path}: {status}");
            for bad in [
                "src=\"http",
                "href=\"http",
                "src=\"//",
                "href=\"//",
                "<script>",
                "<b>bold",
            ] {
                assert!(!html.contains(bad), "{path}: {bad}");
            }
            let file = dir.path().join(format!("{role}-{i}.html"));
            std::fs::write(&file, html).unwrap();
            files.push(file);
        }
    }
    let dashboard = std::fs::read_to_string(dir.path().join("admin-0.html")).unwrap();
    assert!(
        dashboard.contains("harmony") && dashboard.contains("<meter"),
        "UCF gauges"
    );
    assert!(
        ["HARMONIC", "COHERENT", "FRAGMENTED"]
            .iter()
            .any(|s| dashboard.contains(s)),
        "the harmony status"
    );
    let script = format!("{}/scripts/check-html.sh", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("--vnu")
        .args(&files)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let required = std::env::var("HELIX_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    match out.status.code() {
        Some(0) => eprintln!("Nu checker: {} console pages, no errors", files.len()),
        Some(77) if !required => eprintln!("SKIP console Nu check: {}", stderr.trim()),
        Some(77) => panic!("HELIX_REQUIRE_TOOLS=1 but a tool is missing: {stderr}"),
        _ => panic!("Nu checker errors:\n{stdout}\n{stderr}"),
    }
}

#[tokio::test]
async fn static_assets_are_served_and_pages_forbid_anything_else() {
    let app = spawn_app().await;
    for (path, ct) in [
        ("/console/static/console.css", "text/css"),
        ("/console/static/console.js", "text/javascript"),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ct));
    }
    let c = Console::as_role(&app, "v", "viewer").await;
    let res = c.get("/console").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
}
