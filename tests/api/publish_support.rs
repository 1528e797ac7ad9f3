//! Shared set-up of the publish tests: an app whose config has fast retries and a fast
//! Notion limiter, the Discord and Notion fakes mounted, runs committed straight through
//! the store (as the sync cycle does), and a job runner that publishes Notion from a
//! document the test built (until the Notion exporter is wired, the runner stands in for
//! `exporters::export(.., "notion", ..)`; every other step is the production `deliver`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use helix_sync::queue::{ClaimedJob, JobError, JobPayload, PublishJob};
use helix_sync::store::{DeliveryRow, RunFinish, RunStart};
use helix_sync::sync::publishers::notion::{self, NotionDocument};
use helix_sync::sync::publishers::{
    self, deliver, deliver_with, PublishContext, PublishError, Publisher, Receipt,
};
use helix_sync::sync::snapshot::*;
use helix_sync::sync::SyncDeps;
use helix_sync::worker::JobRunner;
use serde_json::{json, Value};

use crate::fakes::discord::{DiscordFake, WEBHOOK_ID, WEBHOOK_TOKEN};
use crate::fakes::notion::{NotionFake, API_KEY, DATABASE_ID};
use crate::helpers::*;

/// Runs publish jobs through `deliver`, with Notion fed a fixed document per run.
#[derive(Default)]
pub struct PublishRunner {
    deps: OnceLock<SyncDeps>,
    docs: Mutex<HashMap<String, NotionDocument>>,
}

/// The Notion publisher with the exporter step replaced by a given document.
struct FixedDocument(NotionDocument);

#[async_trait]
impl Publisher for FixedDocument {
    fn name(&self) -> &'static str {
        "notion"
    }
    fn unconfigured(&self, config: &helix_sync::config::Config) -> Option<String> {
        notion::Notion.unconfigured(config)
    }
    async fn publish(&self, cx: &PublishContext<'_>) -> Result<Receipt, PublishError> {
        notion::publish_document(cx, self.0.clone()).await
    }
}

#[async_trait]
impl JobRunner for PublishRunner {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let deps = self.deps.get().expect("deps are set after spawn");
        let JobPayload::Publish(p) = &job.payload else {
            return Err(JobError::Permanent("only publish jobs run here".into()));
        };
        let doc = self.docs.lock().unwrap().get(&p.run_id).cloned();
        match (p.target.as_str(), doc) {
            ("notion", Some(doc)) => deliver_with(deps, p, &FixedDocument(doc)).await,
            _ => deliver(deps, p).await,
        }
    }
}

/// The app, its fakes and the runner.
pub struct Harness {
    pub app: TestApp,
    pub runner: Arc<PublishRunner>,
    pub discord: DiscordFake,
    pub notion: NotionFake,
    _config_dir: tempfile::TempDir,
    /// How far the test has moved the workers' clock ahead (ms): retries come due by time
    /// passing, never by editing rows.
    clock_shift: Arc<std::sync::atomic::AtomicI64>,
}

/// What a harness starts with.
pub struct Setup {
    pub discord: bool,
    pub notion: bool,
    /// Merged into the config file's `publishers` section.
    pub publishers: Value,
    pub webhook_token: &'static str,
    /// The config file's `delivery` section.
    pub delivery: Value,
    /// Extra environment.
    pub env: Vec<(&'static str, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            discord: true,
            notion: true,
            publishers: json!({}),
            webhook_token: WEBHOOK_TOKEN,
            delivery: json!({}),
            env: Vec::new(),
        }
    }
}

pub async fn harness(setup: Setup) -> Harness {
    let config_dir = tempfile::tempdir().unwrap();
    let mut publishers = json!({"notion": {"requests_per_second": 10000.0}});
    for (k, v) in setup.publishers.as_object().unwrap() {
        for (k2, v2) in v.as_object().unwrap() {
            publishers[k][k2] = v2.clone();
        }
    }
    let file = json!({
        // Retries wait (a jittered) hour, so a failed job never runs again inside the same
        // `run_pending_jobs`; tests make them due by hand.
        "queue": {"max_attempts": 5, "backoff_base_secs": 3600, "backoff_cap_secs": 3600, "lease_secs": 60},
        "publishers": publishers,
        "delivery": setup.delivery,
    });
    let path = config_dir.path().join("sync_config.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let runner = Arc::new(PublishRunner::default());
    let mut spawn = Spawn::default()
        .runner(runner.clone())
        .env("HELIX_CONFIG", path.to_str().unwrap())
        .env("HELIX_PUBLIC_URL", "https://sync.example.org");
    if setup.discord {
        let url = format!(
            "https://discord.com/api/webhooks/{WEBHOOK_ID}/{}",
            setup.webhook_token
        );
        spawn = spawn.env("DISCORD_SYNC_WEBHOOK", &url);
    }
    for (k, v) in &setup.env {
        spawn = spawn.env(k, v);
    }
    if setup.notion {
        spawn = spawn
            .env("NOTION_API_KEY", API_KEY)
            .env("NOTION_DATABASE_ID", DATABASE_ID);
    }
    let app = spawn_with(spawn).await;
    let deps = SyncDeps::new(
        app.state.config.clone(),
        app.store.clone(),
        app.state.queue.clone(),
        app.state.run_events.clone(),
    );
    runner.deps.set(deps).ok().expect("set once");
    let discord = DiscordFake::mount(&app.discord).await;
    let notion = NotionFake::mount(&app.notion).await;
    Harness {
        app,
        clock_shift: Default::default(),
        runner,
        discord,
        notion,
        _config_dir: config_dir,
    }
}

/// A snapshot with two repositories, UCF and agents.
pub fn snapshot() -> Snapshot {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let mut s = Snapshot::empty(at);
    for (name, stars) in [("helix/core", 40), ("helix/portal", 2)] {
        s.repos.insert(
            name.into(),
            RepoData {
                full_name: name.into(),
                stats: Some(RepoStats {
                    html_url: format!("https://github.com/{name}"),
                    default_branch: "main".into(),
                    stars,
                    forks: 1,
                    open_issues: 3,
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
    }
    s.ucf = Some(UcfState {
        metrics: [("harmony".to_owned(), 0.82), ("prana".to_owned(), 0.5)]
            .into_iter()
            .collect(),
        status: "HARMONIC".into(),
        timestamp: None,
        phase: Some("dawn".into()),
        origin: "file".into(),
        extra: Default::default(),
    });
    s.agent_totals = AgentTotals {
        agents: 3,
        active: 2,
        tasks_total: 10,
        tasks_succeeded: 9,
        collaborations: 1,
    };
    s.sources.insert(
        "github".into(),
        SourceStatus {
            status: "ok".into(),
            error: None,
            items: 3,
            requests: 4,
            not_modified: 1,
        },
    );
    s
}

/// A small change summary: commits on one repository and a UCF movement.
pub fn changes() -> ChangeSummary {
    let mut c = ChangeSummary::default();
    c.repos.insert(
        "helix/core".into(),
        RepoChanges {
            new_commits: 2,
            authors: vec!["ann".into()],
            commit_lines: vec![
                ("abc1234".into(), "Fix the sync".into()),
                ("def5678".into(), "Add a test".into()),
            ],
            prs_merged: vec![12],
            ..Default::default()
        },
    );
    c.ucf.push(UcfDelta {
        metric: "harmony".into(),
        before: 0.7,
        after: 0.82,
        delta: 0.12,
        direction: "up".into(),
    });
    c
}

impl Harness {
    pub fn deps(&self) -> &SyncDeps {
        self.runner.deps.get().unwrap()
    }

    /// Commits a finished run as the sync cycle does (run, snapshot, deliveries, publish
    /// jobs in one transaction) for `targets` (each enabled unless its config is missing).
    pub async fn seed_run(
        &self,
        id: &str,
        started_at: i64,
        changes: &ChangeSummary,
        targets: &[&str],
    ) {
        let store = &self.app.store;
        store
            .start_run(&RunStart {
                id: id.into(),
                job_id: None,
                trigger: "manual".into(),
                started_at,
            })
            .await
            .unwrap();
        let plan: Vec<(&str, bool)> = publishers::targets(&self.app.state.config)
            .into_iter()
            .filter(|(t, _)| targets.contains(t))
            .collect();
        let queue = &self.app.state.queue;
        let jobs: Vec<_> = plan
            .iter()
            .filter(|(_, on)| *on)
            .map(|(t, _)| {
                queue.new_job(
                    &JobPayload::Publish(PublishJob {
                        run_id: id.into(),
                        target: (*t).into(),
                    }),
                    started_at,
                )
            })
            .collect();
        let snapshot = serde_json::to_vec(&snapshot()).unwrap();
        let exports =
            json!([{"format": "markdown", "path": format!("markdown/{id}.md"), "bytes": 1234}])
                .to_string();
        store
            .finish_run(&RunFinish {
                id,
                finished_at: started_at + 1500,
                status: "succeeded",
                sources_json: r#"{"github":{"status":"ok"}}"#,
                change_summary_json: &serde_json::to_string(changes).unwrap(),
                exports_json: &exports,
                error: None,
                schema_version: 1,
                snapshot_json: Some(&snapshot),
                cursors: &[],
                forget: &[],
                targets: &plan,
                jobs: &jobs,
            })
            .await
            .unwrap();
    }

    /// Registers the Notion document the runner publishes for `run_id`.
    pub fn set_notion_doc(&self, run_id: &str, doc: NotionDocument) {
        self.runner.docs.lock().unwrap().insert(run_id.into(), doc);
    }

    pub async fn delivery(&self, run_id: &str, target: &str) -> DeliveryRow {
        self.app
            .store
            .get_delivery(run_id, target)
            .await
            .unwrap()
            .unwrap()
    }

    /// Retries until `target`'s delivery of `run_id` is no longer `failed` (at most 10 times).
    pub async fn retry_until_settled(&self, run_id: &str, target: &str) -> DeliveryRow {
        for _ in 0..10 {
            let d = self.delivery(run_id, target).await;
            if d.state != "failed" {
                return d;
            }
            self.make_retries_due().await;
            self.run_pending().await;
        }
        panic!("{target} delivery of {run_id} never settled");
    }

    /// Moves the workers' clock past the longest backoff, so every waiting retry is due.
    pub async fn make_retries_due(&self) {
        self.clock_shift
            .fetch_add(2 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs every job that is due at the (possibly moved) clock.
    pub async fn run_pending(&self) -> usize {
        self.shifted_pool().run_pending().await.unwrap()
    }

    /// Runs only the next due job (a retry it schedules is not run in the same call).
    pub async fn run_one(&self) -> bool {
        self.shifted_pool().run_one().await.unwrap()
    }

    fn shifted_pool(&self) -> helix_sync::worker::WorkerPool {
        let shift = self.clock_shift.clone();
        let clock = Arc::new(move || {
            helix_sync::store::now_ms() + shift.load(std::sync::atomic::Ordering::SeqCst)
        });
        self.app.pool.clone().with_clock(clock)
    }

    /// States of all jobs, newest first.
    pub async fn job_states(&self) -> Vec<String> {
        self.app
            .store
            .list_jobs(None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.state)
            .collect()
    }
}

/// A Notion exporter document for `run_id` with `blocks` report blocks (every fifth a
/// bulleted item with two levels of nested children).
pub fn notion_doc(run_id: &str, blocks: usize) -> NotionDocument {
    let text = |s: &str| json!([{"type": "text", "text": {"content": s}}]);
    let item = |s: &str, children: Vec<Value>| {
        json!({"object": "block", "type": "bulleted_list_item",
               "bulleted_list_item": {"rich_text": text(s), "children": children}})
    };
    let children: Vec<Value> = (0..blocks)
        .map(|i| {
            if i % 5 == 0 {
                item(&format!("block {i}"), vec![item("child", vec![item("grandchild", vec![])])])
            } else {
                json!({"object": "block", "type": "paragraph", "paragraph": {"rich_text": text(&format!("block {i}"))}})
            }
        })
        .collect();
    serde_json::from_value(json!({
        "notion_version": "2025-09-03",
        "databases": {"sync_runs": {"title": "Sync runs", "properties": {}}},
        "run_page": {
            "properties": {
                "Name": {"title": text(&format!("Sync {run_id}"))},
                "Sync ID": {"rich_text": text(run_id)},
                "Status": {"select": {"name": "succeeded"}},
                "Commits": {"number": 2},
            },
            "children": children,
        },
        "repo_pages": [], "ucf_page": null, "agent_pages": [],
    }))
    .unwrap()
}

/// The text of each top-level block of a fake page, in order.
pub fn block_texts(children: &[Value]) -> Vec<String> {
    children
        .iter()
        .map(|b| {
            let ty = b["type"].as_str().unwrap();
            b[ty]["rich_text"][0]["text"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
