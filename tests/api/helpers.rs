//! `spawn_app()`: the application on 127.0.0.1:0 with a fresh SQLite file in a temp dir and
//! wiremock fakes for GitHub, Discord and Notion. Workers and scheduler are *not* started:
//! tests drive them (`run_pending_jobs`, `scheduler.tick(now)`) so nothing depends on timing.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use helix_sync::config::Config;
use helix_sync::http::AppState;
use helix_sync::scheduler::Scheduler;
use helix_sync::startup::{Application, Options};
use helix_sync::store::Store;
use helix_sync::worker::{JobRunner, WorkerPool};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wiremock::MockServer;

pub const GITHUB_SECRET: &str = "test-github-secret";
/// A Standard Webhooks key (`whsec_` + base64 of 24 random bytes).
pub const RITUAL_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const API_TOKEN: &str = "test-api-token";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The separate health listener's port.
    pub health_port: Option<u16>,
    pub state: AppState,
    pub store: Store,
    pub pool: WorkerPool,
    pub scheduler: Option<Scheduler>,
    pub client: reqwest::Client,
    pub github: MockServer,
    pub discord: MockServer,
    pub notion: MockServer,
    /// Holds the database, exports and example data; removed on drop.
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

/// Knobs for a test app: extra environment and an optional fake job runner.
#[derive(Default)]
pub struct Spawn {
    pub env: Vec<(String, String)>,
    pub runner: Option<Arc<dyn JobRunner>>,
    /// Start the worker pool (for end-to-end latency tests); off by default.
    pub workers: bool,
}

impl Spawn {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn runner(mut self, r: Arc<dyn JobRunner>) -> Self {
        self.runner = Some(r);
        self
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Spawn::default()).await
}

/// The environment a test app starts with (before `Spawn::env` overrides).
pub fn base_env(
    dir: &std::path::Path,
    github: &str,
    discord: &str,
    notion: &str,
) -> HashMap<String, String> {
    let repo = env!("CARGO_MANIFEST_DIR");
    [
        ("HELIX_CONFIG", format!("{repo}/config/sync_config.json")),
        ("HELIX_BIND", "127.0.0.1:0".into()),
        // An ephemeral second health listener: tests run in parallel, 8001 would collide.
        ("HEALTH_CHECK_PORT", "0".into()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/helix.db", dir.display()),
        ),
        ("EXPORT_PATH", dir.join("exports").display().to_string()),
        ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET.into()),
        ("RITUAL_WEBHOOK_SECRET", RITUAL_SECRET.into()),
        ("HELIX_API_TOKEN", API_TOKEN.into()),
        ("GITHUB_API_URL", github.into()),
        ("DISCORD_API_URL", discord.into()),
        ("NOTION_API_URL", notion.into()),
        (
            "UCF_STATE_SOURCE",
            format!("{repo}/config/examples/ucf_state.json"),
        ),
        (
            "AGENT_METRICS_SOURCE",
            format!("{repo}/config/examples/agents_state.json"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The database a test app uses: a fresh SQLite file, or with `HELIX_TEST_BACKEND=postgres`
/// a fresh schema in the server at `HELIX_TEST_DATABASE_URL` (scripts/test sets both).
pub async fn test_database_url(dir: &std::path::Path) -> String {
    if std::env::var("HELIX_TEST_BACKEND").as_deref() != Ok("postgres") {
        return format!("sqlite://{}/helix.db", dir.display());
    }
    let base = std::env::var("HELIX_TEST_DATABASE_URL")
        .expect("HELIX_TEST_BACKEND=postgres needs HELIX_TEST_DATABASE_URL");
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base)
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

pub async fn spawn_with(spawn: Spawn) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let (github, discord, notion) = (
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
    );
    let mut env = base_env(dir.path(), &github.uri(), &discord.uri(), &notion.uri());
    env.insert("DATABASE_URL".into(), test_database_url(dir.path()).await);
    env.extend(spawn.env);
    let config = Config::load(&env).expect("test config is valid");
    let options = Options {
        workers: spawn.workers,
        scheduler: false,
        runner: spawn.runner,
    };
    let mut app = Application::build(config, options)
        .await
        .expect("app builds");
    let port = app.port();
    let health_port = app.health_port();
    let state = app.state().expect("the test app listens").clone();
    let pool = app.pool().clone();
    let scheduler = app.take_scheduler();
    let server = tokio::spawn(async move {
        app.run_until(std::future::pending())
            .await
            .expect("server runs");
    });
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        health_port,
        store: state.store.clone(),
        state,
        pool,
        scheduler,
        client: reqwest::Client::new(),
        github,
        discord,
        notion,
        dir,
        server,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `v1,<base64>` Standard Webhooks signature.
pub fn ritual_signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// A realistic push payload for `owner/name`.
pub fn push_payload(repo: &str, branch: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "repository": {"full_name": repo, "name": repo.split('/').nth(1), "default_branch": "main",
                        "html_url": format!("https://github.com/{repo}")},
        "pusher": {"name": "octocat"},
        "commits": [{"id": "1111111111111111111111111111111111111111", "message": message,
                     "timestamp": "2026-11-20T10:00:00Z", "url": format!("https://github.com/{repo}/commit/1111111"),
                     "author": {"name": "Octo Cat", "username": "octocat"}}],
    })
}

/// A finished run with no snapshot, exports or publish jobs: enough for tests of what reads
/// runs back (health, metrics, the status page).
pub struct PlainRun<'a> {
    pub id: &'a str,
    pub trigger: &'a str,
    pub started_at: i64,
    pub finished_at: i64,
    pub status: &'a str,
    pub sources_json: &'a str,
    pub error: Option<&'a str>,
    /// Publish targets and whether each is enabled (a delivery row each).
    pub targets: &'a [(&'a str, bool)],
}

impl TestApp {
    /// Stores `run` as started and finished.
    pub async fn seed_plain_run(&self, run: PlainRun<'_>) {
        self.store
            .start_run(&helix_sync::store::RunStart {
                id: run.id.into(),
                job_id: None,
                trigger: run.trigger.into(),
                started_at: run.started_at,
            })
            .await
            .unwrap();
        self.store
            .finish_run(&helix_sync::store::RunFinish {
                id: run.id,
                finished_at: run.finished_at,
                status: run.status,
                sources_json: run.sources_json,
                change_summary_json: "{}",
                exports_json: "[]",
                error: run.error,
                schema_version: 1,
                snapshot_json: None,
                cursors: &[],
                forget: &[],
                targets: run.targets,
                jobs: &[],
            })
            .await
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs a correctly signed GitHub delivery.
    pub async fn post_github(&self, event: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        self.client
            .post(self.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-github-hook-id", "42")
            .header("x-hub-signature-256", github_signature(GITHUB_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a correctly signed ritual event with the current time.
    pub async fn post_ritual(&self, id: &str, body: &[u8]) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp();
        self.client
            .post(self.url("/webhooks/ritual"))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                ritual_signature(RITUAL_SECRET, id, ts, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent")
    }

    /// GET with the API token.
    pub async fn get_authed(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// GET `path` without credentials; the body as text.
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await;
        res.expect("request sent").text().await.expect("a body")
    }

    /// GET `path` without credentials; the body as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(path).await).expect("a JSON body")
    }

    /// POSTs a signed push to `repo` as delivery `delivery`; returns the id of the job its
    /// event asked for.
    pub async fn push_job(&self, repo: &str, delivery: &str) -> String {
        let body = serde_json::to_vec(&push_payload(repo, "main", "change")).unwrap();
        let v: serde_json::Value = self
            .post_github("push", delivery, &body)
            .await
            .json()
            .await
            .unwrap();
        let id = v["id"].as_str().expect("an event id");
        let ev = self
            .store
            .get_event(id)
            .await
            .unwrap()
            .expect("the event is stored");
        ev.job_id.expect("a push asks for a job")
    }

    /// Queues a manual sync (`POST /api/sync` with `body`); returns the answer (`job_id`).
    pub async fn trigger(&self, body: serde_json::Value) -> serde_json::Value {
        let res = self
            .client
            .post(self.url("/api/sync"))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), 202);
        res.json().await.expect("a JSON answer")
    }

    /// Runs queued jobs in the test's task until none is runnable.
    pub async fn run_pending_jobs(&self) -> usize {
        self.pool.run_pending().await.expect("queue works")
    }

    pub async fn count(&self, sql_table: &str) -> i64 {
        match sql_table {
            "events" => self.store.count_events().await.unwrap(),
            "jobs" => self.store.list_jobs(None, 1_000_000).await.unwrap().len() as i64,
            other => self.count_rows(other).await,
        }
    }

    /// `SELECT COUNT(*)` of a table, over a connection of the test's own (exact on both
    /// backends, unlike the store's per-table estimates on PostgreSQL).
    async fn count_rows(&self, table: &str) -> i64 {
        use sqlx::Connection;
        let url = &self.state.config.database_url;
        let sql = format!("SELECT COUNT(*) FROM {table}");
        if url.starts_with("postgres") {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut db)
                .await
                .unwrap()
        } else {
            let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut db)
                .await
                .unwrap()
        }
    }
}

/// Asserts the error body shape and returns the `error` code.
pub async fn error_code(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let body: serde_json::Value = res.json().await.expect("error body is JSON");
    assert!(
        body["message"].is_string(),
        "error body has a message: {body}"
    );
    body["error"]
        .as_str()
        .expect("error body has a code")
        .to_owned()
}
