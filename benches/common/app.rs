//! The whole service as the end-to-end benchmarks run it: the real application with its
//! workers, on a fresh SQLite file, against loopback fakes — GitHub (`tests/api/sync_fake.rs`),
//! a Discord webhook that records when each message arrives, and optionally the Notion fake of
//! the tests (`tests/api/fakes/notion.rs`), which enforces Notion's 3 requests/s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use helix_sync::config::Config;
use helix_sync::startup::{Application, Options};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[path = "../../tests/api/sync_fake.rs"]
pub mod sync_fake;

#[path = "../../tests/api/fakes/mod.rs"]
pub mod fakes;

pub const SECRET: &str = "bench-secret";
pub const REPO: &str = "helix/core";

/// Records the arrival time of each Discord webhook execution and answers like Discord
/// with `?wait=true`.
#[derive(Clone, Default)]
pub struct DiscordClock(pub Arc<Mutex<Vec<Instant>>>);

impl DiscordClock {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Respond for DiscordClock {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut sent = self.0.lock().unwrap();
        sent.push(Instant::now());
        ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"id": format!("{}", 990_000 + sent.len()), "channel_id": "1"}),
        )
    }
}

/// A running service and its fakes.
pub struct BenchApp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub discord: DiscordClock,
    pub notion: Option<fakes::notion::NotionFake>,
    pub store: helix_sync::store::Store,
    _servers: Vec<MockServer>,
}

/// Starts the service with `commits` commits on the fake GitHub; with `notion`, the Notion
/// publisher is on, against the fake holding callers to 3 requests/s. `file` is the config
/// file's JSON (`{}` for the shipped defaults).
pub async fn start(commits: usize, notion: bool, file: serde_json::Value) -> BenchApp {
    let dir = tempfile::tempdir().unwrap();
    let github = MockServer::start().await;
    let fake = sync_fake::FakeGithub::default();
    fake.add_commits(REPO, commits, 0);
    fake.mount(&github).await;
    let discord_server = MockServer::start().await;
    let discord = DiscordClock::default();
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(discord.clone())
        .mount(&discord_server)
        .await;
    let root = env!("CARGO_MANIFEST_DIR");
    let config_path = dir.path().join("sync_config.json");
    std::fs::write(&config_path, file.to_string()).unwrap();
    let mut env: HashMap<String, String> = [
        ("HELIX_CONFIG", config_path.display().to_string()),
        ("HELIX_BIND", "127.0.0.1:0".into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
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
        ("DISCORD_API_URL", discord_server.uri()),
        (
            "UCF_STATE_SOURCE",
            format!("{root}/config/examples/ucf_state.json"),
        ),
        (
            "AGENT_METRICS_SOURCE",
            format!("{root}/config/examples/agents_state.json"),
        ),
        ("HEALTH_CHECK_ENABLED", "false".into()),
        ("HELIX_SYNC_ENABLED", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut servers = vec![github, discord_server];
    let notion_fake = if notion {
        let server = MockServer::start().await;
        let fake = fakes::notion::NotionFake::mount(&server).await;
        fake.0.lock().enforce_rate = Some((3.0, 3.0));
        env.insert("NOTION_API_KEY".into(), fakes::notion::API_KEY.into());
        env.insert(
            "NOTION_DATABASE_ID".into(),
            fakes::notion::DATABASE_ID.into(),
        );
        env.insert("NOTION_API_URL".into(), server.uri());
        servers.push(server);
        Some(fake)
    } else {
        None
    };
    let config = Config::load(&env).unwrap();
    let options = Options {
        workers: true,
        scheduler: false,
        runner: None,
    };
    let app = Application::build(config, options).await.unwrap();
    let port = app.port();
    let store = app.app().store.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    BenchApp {
        port,
        dir,
        discord,
        notion: notion_fake,
        store,
        _servers: servers,
    }
}

/// The body and `X-Hub-Signature-256` of the `i`-th push to [`REPO`].
pub fn signed_push(i: usize) -> (Vec<u8>, String) {
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
    (body, sig)
}

impl BenchApp {
    /// The signed `push` request number `i` (delivery id `{tag}-{i}`).
    pub fn push(&self, client: &reqwest::Client, tag: &str, i: usize) -> reqwest::RequestBuilder {
        let (body, sig) = signed_push(i);
        client
            .post(format!("http://127.0.0.1:{}/webhooks/github", self.port))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("{tag}-{i}"))
            .header("x-hub-signature-256", sig)
            .body(body)
    }
}
