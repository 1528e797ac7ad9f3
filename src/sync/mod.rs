//! One sync cycle: collect → snapshot → diff → store → export → publish.
//!
//! `sources` fetch, `snapshot` is the normalised model, `exporters` are pure functions of a
//! snapshot and `publishers` deliver a stored run. `cycle` strings the first half together;
//! each publish target then runs as its own `publish` job. [`SyncRunner`] is the production
//! [`JobRunner`]: it only dispatches on the job's kind. Nothing here holds a database handle
//! beyond `Store` calls.

pub mod analytics;
pub mod changes;
pub mod cycle;
pub mod exporters;
pub mod history;
pub mod input;
pub mod merge;
pub mod narrate;
pub mod plan;
pub mod publishers;
pub mod schema;
pub mod snapshot;
pub mod sources;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, Redactor};
use crate::queue::{ClaimedJob, JobError, JobPayload, Queue};
use crate::store::Store;
use crate::worker::JobRunner;

/// Everything a sync or publish job needs; cheap to clone.
#[derive(Clone)]
pub struct SyncDeps {
    pub config: Arc<Config>,
    pub store: Store,
    pub queue: Queue,
    /// Shared outbound HTTP client (connection pooling across jobs).
    pub http: reqwest::Client,
    pub run_events: RunEvents,
    /// Delivery state changes, for live listeners.
    pub live: crate::live::LiveEvents,
    /// The last snapshot this process committed, decoded, keyed by its run id: the next
    /// cycle reuses it instead of decompressing and parsing megabytes, when the store's
    /// newest snapshot is still that one (another replica may have written a newer one).
    pub previous: Arc<tokio::sync::Mutex<Option<CommittedSnapshot>>>,
    /// Scrubs secrets from upstream error text before anything logs or stores it.
    pub redactor: Arc<Redactor>,
    /// The GitHub source's credentials (the App's installation tokens) and rate budgets,
    /// kept across cycles.
    pub github: Arc<sources::github::GithubState>,
}

/// A committed snapshot and the run id it was stored under.
pub type CommittedSnapshot = (String, Arc<snapshot::Snapshot>);

impl SyncDeps {
    pub fn new(config: Arc<Config>, store: Store, queue: Queue, run_events: RunEvents) -> Self {
        let http = Self::http_client();
        Self {
            redactor: Arc::new(Redactor::new(&config.secrets)),
            github: Arc::new(sources::github::GithubState::from_config(
                &config,
                http.clone(),
            )),
            config,
            store,
            queue,
            http,
            run_events,
            live: crate::live::channel(1),
            previous: Default::default(),
        }
    }

    /// Announces delivery state changes on `live` (the application's bus).
    pub fn with_live(mut self, live: crate::live::LiveEvents) -> Self {
        self.live = live;
        self
    }

    /// The outbound client every source and publisher uses.
    pub fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent(concat!("helix-sync/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("a client with static settings builds")
    }
}

/// Runs `sync`, `publish` and `discord_followup` jobs.
pub struct SyncRunner {
    pub deps: SyncDeps,
}

#[async_trait]
impl JobRunner for SyncRunner {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        match &job.payload {
            JobPayload::Sync(sync) => cycle::run(&self.deps, Some(&job.row.id), sync)
                .await
                .map(|_| ()),
            JobPayload::Publish(publish) => publishers::deliver(&self.deps, publish).await,
            JobPayload::DiscordFollowup(followup) => {
                let now = job.row.started_at.unwrap_or_else(crate::store::now_ms);
                publishers::discord::followup::run(&self.deps, followup, now).await
            }
        }
    }

    /// Sources and publishers are redacted where their results come in; this covers the
    /// rest (a panic message, a store error) before the worker logs and stores it.
    fn redacted(&self, e: &JobError) -> JobError {
        let r = &self.deps.redactor;
        match e {
            JobError::Retryable(m) => JobError::Retryable(r.redact(m)),
            JobError::Permanent(m) => JobError::Permanent(r.redact(m)),
            JobError::RateLimited { message, retry_at } => JobError::RateLimited {
                message: r.redact(message),
                retry_at: *retry_at,
            },
            JobError::Scheduled { message, retry_at } => JobError::Scheduled {
                message: r.redact(message),
                retry_at: *retry_at,
            },
        }
    }
}

/// Progress of runs, broadcast to live listeners (the status page's SSE stream).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    Started { run_id: String, trigger: String },
    Finished { run_id: String, status: String },
}

/// Sender side of the run-event bus; sending with no listener is fine.
pub type RunEvents = tokio::sync::broadcast::Sender<RunEvent>;
