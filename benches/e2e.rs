//! End-to-end latency with immediate workers: a signed `push` webhook over HTTP → ingest →
//! queue → sync cycle (fake GitHub on loopback) → exports → publish jobs → the Discord
//! message arriving at a fake Discord, and the portal feed naming the new run.
//! Target: p50 < 300 ms. Run: `cargo bench --bench e2e` (HELIX_BENCH_QUICK=1: 5 samples).

mod common;
#[path = "../tests/api/sync_fake.rs"]
mod sync_fake;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helix_sync::config::Config;
use helix_sync::startup::{Application, Options};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sync_fake::FakeGithub;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "bench-secret";
const REPO: &str = "helix/core";

/// Counts Discord webhook executions and answers like Discord with `?wait=true`.
struct Discord(Arc<AtomicUsize>);

impl Respond for Discord {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"id": format!("{}", 990_000 + n), "channel_id": "1"}))
    }
}

#[tokio::main]
async fn main() {
    let samples = if common::quick() { 5 } else { 50 };
    let dir = tempfile::tempdir().unwrap();
    let github = MockServer::start().await;
    let fake = FakeGithub::default();
    fake.add_commits(REPO, 20, 0);
    fake.mount(&github).await;
    let discord = MockServer::start().await;
    let sent = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Discord(sent.clone()))
        .mount(&discord)
        .await;

    let root = env!("CARGO_MANIFEST_DIR");
    let env: HashMap<String, String> = [
        ("HELIX_CONFIG", format!("{root}/config/sync_config.json")),
        ("HELIX_BIND", "127.0.0.1:0".into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/e2e.db", dir.path().display()),
        ),
        (
            "EXPORT_PATH",
            dir.path().join("exports").display().to_string(),
        ),
        ("GITHUB_WEBHOOK_SECRET", SECRET.into()),
        ("GITHUB_REPOS", REPO.into()),
        ("GITHUB_API_URL", github.uri()),
        (
            "DISCORD_SYNC_WEBHOOK",
            "https://discord.com/api/webhooks/1/token".into(),
        ),
        ("DISCORD_API_URL", discord.uri()),
        (
            "UCF_STATE_SOURCE",
            format!("{root}/config/examples/ucf_state.json"),
        ),
        (
            "AGENT_METRICS_SOURCE",
            format!("{root}/config/examples/agents_state.json"),
        ),
        ("HEALTH_CHECK_ENABLED", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::load(&env).unwrap();
    let options = Options {
        workers: true,
        scheduler: false,
        runner: None,
    };
    let app = Application::build(config, options).await.unwrap();
    let port = app.port();
    let feed = dir.path().join("exports/portal/api/sync/latest.json");
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::new();
    let (mut to_discord, mut to_feed) = (Vec::new(), Vec::new());
    for i in 0..samples {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let body = serde_json::to_vec(&serde_json::json!({
            "ref": "refs/heads/main", "after": format!("{i:040x}"),
            "repository": {"full_name": REPO, "default_branch": "main"},
            "commits": [{"id": format!("{i:040x}"), "message": format!("change {i}"), "timestamp": "2026-11-20T10:00:00Z",
                         "url": "https://github.com/helix/core/commit/x", "author": {"name": "Octo", "username": "octo"}}],
        }))
        .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(&body);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let before_msgs = sent.load(Ordering::SeqCst);
        let before_feed = std::fs::read(&feed).unwrap_or_default();
        let t = Instant::now();
        let res = client
            .post(format!("http://127.0.0.1:{port}/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("e2e-{i}"))
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let (mut d, mut f) = (None, None);
        while d.is_none() || f.is_none() {
            if d.is_none() && sent.load(Ordering::SeqCst) > before_msgs {
                d = Some(t.elapsed());
            }
            if f.is_none() && std::fs::read(&feed).is_ok_and(|now| now != before_feed) {
                f = Some(t.elapsed());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "sample {i} did not complete"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        to_discord.push(d.unwrap());
        to_feed.push(f.unwrap());
    }
    to_discord.sort();
    to_feed.sort();
    println!("end-to-end ({samples} signed pushes, 2 workers, SQLite):");
    for (name, l) in [
        ("push -> Discord message", &to_discord),
        ("push -> portal feed", &to_feed),
    ] {
        println!(
            "  {name:<24} p50 {}   p90 {}   max {}   (target p50 < 300 ms)",
            common::ms(common::percentile(l, 50.0)),
            common::ms(common::percentile(l, 90.0)),
            common::ms(*l.last().unwrap())
        );
    }
}
