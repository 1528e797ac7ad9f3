//! An app for the versions, rollback and conflict tests: the real sync cycle and publishers
//! against the fake Discord and Notion (with an agents database), UCF state read from a file
//! the test rewrites between runs, and the config file's `publishers` section given by the test.

#![allow(dead_code)]

use std::path::PathBuf;

use helix_sync::store::RunRow;
use serde_json::{json, Value};

use crate::fakes::discord::{DiscordFake, WEBHOOK_ID, WEBHOOK_TOKEN};
use crate::fakes::notion::{NotionFake, API_KEY, DATABASE_ID};
use crate::helpers::*;
use crate::sync_support;

pub const AGENTS_DB: &str = "db-agents";
pub const AGENTS_DS: &str = "ds-agents";

pub struct VersionsApp {
    pub app: TestApp,
    pub discord: DiscordFake,
    pub notion: NotionFake,
    ucf: PathBuf,
    agents: PathBuf,
    /// The environment the app was given, for the CLI.
    env: Vec<(String, String)>,
    _config: tempfile::TempDir,
}

/// `notion` is merged into the config file's `publishers.notion`.
pub async fn versions_app(notion: Value) -> VersionsApp {
    versions_app_with(notion, &[]).await
}

/// [`versions_app`] with further environment variables (for the app and the CLI).
pub async fn versions_app_with(notion: Value, extra: &[(&str, &str)]) -> VersionsApp {
    let config = tempfile::tempdir().unwrap();
    let mut settings = json!({
        "requests_per_second": 10000.0,
        "auto_create_pages": true,
        "agents_database_id": AGENTS_DB,
    });
    for (k, v) in notion.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let file = json!({
        "queue": {"max_attempts": 5, "backoff_base_secs": 3600, "backoff_cap_secs": 3600},
        "publishers": {"notion": settings},
    });
    let path = config.path().join("sync_config.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let ucf = config.path().join("ucf_state.json");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/examples/ucf_state.json"
        ),
        &ucf,
    )
    .unwrap();
    let agents = config.path().join("agents_state.json");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/examples/agents_state.json"
        ),
        &agents,
    )
    .unwrap();
    let webhook = format!("https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}");
    let env: Vec<(String, String)> = [
        ("HELIX_CONFIG", path.to_str().unwrap()),
        ("UCF_STATE_SOURCE", ucf.to_str().unwrap()),
        ("AGENT_METRICS_SOURCE", agents.to_str().unwrap()),
        ("DISCORD_SYNC_WEBHOOK", &webhook),
        ("NOTION_API_KEY", API_KEY),
        ("NOTION_DATABASE_ID", DATABASE_ID),
        ("HELIX_PUBLIC_URL", "https://sync.example.org"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut spawn = Spawn::default();
    for (k, v) in &env {
        spawn = spawn.env(k, v);
    }
    let app = spawn_with(spawn).await;
    let discord = DiscordFake::mount(&app.discord).await;
    let notion = NotionFake::mount(&app.notion).await;
    notion.add_database(
        AGENTS_DB,
        AGENTS_DS,
        [
            ("Name", "title"),
            ("Role", "rich_text"),
            ("Emoji", "rich_text"),
            ("Status", "select"),
            ("Tasks", "number"),
            ("Notes", "rich_text"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    );
    VersionsApp {
        app,
        discord,
        notion,
        ucf,
        agents,
        env,
        _config: config,
    }
}

impl VersionsApp {
    /// Rewrites the UCF state file with `harmony`.
    pub fn set_harmony(&self, harmony: f64) {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&self.ucf).unwrap()).unwrap();
        v["harmony"] = json!(harmony);
        std::fs::write(&self.ucf, v.to_string()).unwrap();
    }

    /// Rewrites the agents state file with agent `name` (in)active.
    pub fn set_agent_active(&self, name: &str, active: bool) {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&self.agents).unwrap()).unwrap();
        v["agents"][name]["active"] = json!(active);
        std::fs::write(&self.agents, v.to_string()).unwrap();
    }

    /// One sync cycle, then every publish job it queued; the run's row.
    pub async fn sync(&self) -> RunRow {
        let run = sync_support::sync_ok(&self.app).await;
        self.app.run_pending_jobs().await;
        sync_support::run(&self.app, &run.id).await
    }

    /// Runs the binary with `args` on the app's database, config and environment.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let config = &self.app.state.config;
        crate::process::helix()
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DATABASE_URL", &config.database_url)
            .env("EXPORT_PATH", &config.export_path)
            .env("DISCORD_API_URL", self.app.discord.uri())
            .env("NOTION_API_URL", self.app.notion.uri())
            .env("RUST_LOG", "warn")
            .output()
            .expect("the binary runs")
    }

    /// `GET /api/runs/{id}`: the run's record.
    pub async fn record(&self, id: &str) -> Value {
        let res = self.app.get_authed(&format!("/api/runs/{id}")).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// POST with the API token.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// The agent page named `name` in the fake's agents database.
    pub fn agent_page(&self, name: &str) -> crate::fakes::notion::FakePage {
        self.notion
            .pages()
            .into_iter()
            .find(|p| {
                p.data_source == AGENTS_DS
                    && p.properties["Name"]["title"][0]["text"]["content"] == name
            })
            .expect("the agent page exists")
    }

    pub fn portal_latest(&self) -> Value {
        let path = self
            .app
            .dir
            .path()
            .join("exports/portal/api/sync/latest.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }
}

/// Stores a failed run `id` (no snapshot) whose error is `error`.
pub async fn seed_failed_run(app: &TestApp, id: &str, error: &str) {
    app.seed_plain_run(PlainRun {
        id,
        trigger: "manual",
        started_at: 1,
        finished_at: 2,
        status: "failed",
        sources_json: "{}",
        error: Some(error),
        targets: &[],
    })
    .await;
}

/// Plain text of a rich-text or title property value.
pub fn text(v: &Value) -> String {
    ["rich_text", "title"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|t| t["text"]["content"].as_str())
        .collect()
}
