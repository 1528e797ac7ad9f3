//! The status page: its HTML (escaping, no external assets, CSP), its event stream, and a
//! headless Chromium screenshot of it.

use std::process::Command;

use super::tool_available;
use crate::helpers::{spawn_with, PlainRun, Spawn, TestApp};

const DISCORD_URL: &str = "https://discord.com/api/webhooks/99/page-secret-discord-token";

/// An app with three runs: one succeeded with deliveries, one partial, one failed whose
/// error holds markup and the Discord token.
async fn app_with_runs() -> TestApp {
    let app = spawn_with(Spawn::default().env("DISCORD_SYNC_WEBHOOK", DISCORD_URL)).await;
    let now = helix_sync::store::now_ms();
    let runs = [
        ("run-a", "succeeded", now - 7_200_000, None),
        ("run-b", "partial", now - 3_600_000, None),
        (
            "run-c",
            "failed",
            now - 60_000,
            Some(format!(
                "<script>alert(1)</script> POST {DISCORD_URL} failed"
            )),
        ),
    ];
    for (id, status, at, error) in runs {
        app.seed_plain_run(PlainRun {
            id,
            trigger: "schedule:hourly",
            started_at: at - 4200,
            finished_at: at,
            status,
            sources_json: r#"{"ucf_state":{"status":"ok","error":null},"agent_metrics":{"status":"ok","error":null}}"#,
            error: error.as_deref(),
            targets: &[("discord", true), ("notion", false), ("portal", true)],
        })
        .await;
        for target in ["discord", "portal"] {
            let mut d = app.store.get_delivery(id, target).await.unwrap().unwrap();
            d.state = if status == "failed" && target == "discord" {
                "dead".into()
            } else {
                "succeeded".into()
            };
            d.attempts = 1;
            d.updated_at = at + 10;
            app.store.update_delivery(&d).await.unwrap();
        }
    }
    app
}

#[tokio::test]
async fn the_page_is_escaped_self_contained_and_secret_free() {
    let app = app_with_runs().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)"), "escaped error");
    assert!(!html.contains("<script>alert(1)"), "unescaped markup");
    assert!(
        !html.contains("page-secret-discord-token"),
        "secret on the page"
    );
    for attr in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(attr), "external asset: {attr}");
    }
    assert_eq!(
        html.matches("<tr>").count(),
        4,
        "a header row and three runs"
    );
    assert!(html.contains("schedule:hourly"));
    assert!(html.contains("/api/sync/events"));
}

#[tokio::test]
async fn the_event_stream_carries_run_events() {
    let app = app_with_runs().await;
    let res = app
        .client
        .get(app.url("/api/sync/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut res = res;
    app.state
        .run_events
        .send(helix_sync::sync::RunEvent::Started {
            run_id: "run-x".into(),
            trigger: "manual".into(),
        })
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = res.chunk().await.unwrap().expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: run_started"), "{seen}");
    assert!(seen.contains(r#""run_id":"run-x""#), "{seen}");
}

#[tokio::test]
async fn headless_chromium_renders_the_page() {
    if !tool_available(
        "chromium (apt-get install chromium)",
        Command::new("chromium").arg("--version"),
    ) {
        return;
    }
    let app = app_with_runs().await;
    let profile = tempfile::tempdir().unwrap();
    let png = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&png);
    let mut child = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1200,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(app.url("/"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    // A generous bound so a hung browser fails the test instead of hanging CI.
    let status = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait())
        .await
        .expect("chromium finished within 120 s")
        .unwrap();
    assert!(status.success(), "chromium exited with {status}");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[1..4], b"PNG");
    // A blank page compresses to a few kB; the rendered page is far larger.
    assert!(
        bytes.len() > 20_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    println!("status page screenshot: {}", png.display());
}
