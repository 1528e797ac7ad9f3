//! The shape of `config/sync_config.json`.
//!
//! Every struct denies unknown keys (a typo is a start-up error, not a silently ignored
//! setting) and defaults every key (a missing file or key falls back to what the original
//! design shipped). Secrets never live here: they come from the environment only.

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Version string of the config format.
    pub version: String,
    pub sync_schedule: SyncSchedule,
    pub sources: Sources,
    pub exporters: Exporters,
    pub publishers: Publishers,
    pub queue: QueueConfig,
    pub exports: ExportsConfig,
    /// Limits of the HTTP server (timeouts, unverified body budget).
    pub http: super::server::ServerLimits,
    /// How long stored rows are kept (see `config::retention`).
    pub retention: super::RetentionConfig,
    /// When disk use turns `/health` degraded.
    pub disk: super::DiskConfig,
    /// Retry schedules, circuit breakers, lanes and debounce (`config/delivery.rs`).
    pub delivery: super::DeliveryConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            version: "1.0".into(),
            sync_schedule: SyncSchedule::default(),
            sources: Sources::default(),
            exporters: Exporters::default(),
            publishers: Publishers::default(),
            queue: QueueConfig::default(),
            exports: ExportsConfig::default(),
            http: Default::default(),
            retention: Default::default(),
            disk: Default::default(),
            delivery: Default::default(),
        }
    }
}

/// When scheduled and event-driven syncs happen.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSchedule {
    /// Run at the top of every hour (`0 * * * *`).
    pub hourly: bool,
    /// Run once a day at this UTC time (`HH:MM`); `null` disables.
    pub daily: Option<String>,
    /// Extra 5-field cron expressions (UTC).
    pub cron: Vec<String>,
    /// Fixed interval in seconds (also `HELIX_SYNC_INTERVAL`); `null` disables.
    pub interval_secs: Option<u64>,
    /// A completed ritual (or a UCF update) queues a sync.
    pub on_ritual: bool,
    /// A GitHub deployment / deployment_status event queues a sync.
    pub on_deploy: bool,
}

impl Default for SyncSchedule {
    fn default() -> Self {
        Self {
            hourly: true,
            daily: Some("00:00".into()),
            cron: Vec::new(),
            interval_secs: None,
            on_ritual: true,
            on_deploy: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sources {
    pub github: GithubSource,
    pub ucf_state: UcfSource,
    pub agent_metrics: AgentsSource,
    /// Seconds a UCF or agents state URL may take to answer in full before the source fails
    /// with "timed out" (a hung URL must not hold a run for minutes).
    pub timeout_secs: u64,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            github: GithubSource::default(),
            ucf_state: UcfSource::default(),
            agent_metrics: AgentsSource::default(),
            timeout_secs: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSource {
    pub enabled: bool,
    /// `owner/name` (or a bare name completed with `GITHUB_OWNER`), `owner/*`, `*`, and
    /// exclusions `!owner/name` / `!owner/*` (see `config::github`).
    pub repos: Vec<String>,
    /// Any of `commits`, `issues`, `prs`, `releases`, `deployments`, `stats`.
    pub include: Vec<String>,
    /// Read archived repositories a pattern finds (a named one is always read).
    pub include_archived: bool,
    /// Read forks a pattern finds (a named one is always read).
    pub include_forks: bool,
    /// Requests to GitHub in flight at once (GitHub's secondary limits punish floods).
    pub max_in_flight: usize,
    /// How a full cycle learns which repositories changed before reading them: `graphql`
    /// (one query per 100 repositories, from GraphQL's own budget) or `rest` (every
    /// repository's resources asked conditionally, which costs nothing but takes longer).
    pub change_markers: String,
    /// Requests each token's budget keeps unspent: a cycle that would go below stops early
    /// (a `partial` run) and resumes at the budget's reset.
    pub rate_reserve: u64,
}

impl Default for GithubSource {
    fn default() -> Self {
        Self {
            enabled: true,
            repos: Vec::new(),
            include: [
                "commits",
                "issues",
                "prs",
                "releases",
                "deployments",
                "stats",
            ]
            .map(String::from)
            .to_vec(),
            include_archived: false,
            include_forks: false,
            max_in_flight: 8,
            change_markers: "graphql".into(),
            rate_reserve: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UcfSource {
    pub enabled: bool,
    /// File path or http(s) URL; `UCF_STATE_SOURCE` overrides.
    pub path: Option<String>,
    /// Which of the six metrics to carry.
    pub metrics: Vec<String>,
}

/// The six UCF metrics, in the order reports show them.
pub const UCF_METRICS: [&str; 6] = [
    "harmony",
    "resilience",
    "prana",
    "drishti",
    "klesha",
    "zoom",
];

impl Default for UcfSource {
    fn default() -> Self {
        Self {
            enabled: true,
            path: Some("config/examples/ucf_state.json".into()),
            metrics: UCF_METRICS.map(String::from).to_vec(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsSource {
    pub enabled: bool,
    /// File path or http(s) URL of the agents state JSON; `AGENT_METRICS_SOURCE` overrides.
    pub path: Option<String>,
    /// Optional read-only SQLite profiles database; `AGENT_PROFILES_DB` overrides.
    pub profiles_db: Option<String>,
    /// `["all"]` or a list of agent names.
    pub agents: Vec<String>,
}

impl Default for AgentsSource {
    fn default() -> Self {
        Self {
            enabled: true,
            path: Some("config/examples/agents_state.json".into()),
            profiles_db: None,
            agents: vec!["all".into()],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exporters {
    pub notion: Toggle,
    pub markdown: Toggle,
    pub json: JsonExporter,
    pub html: HtmlExporter,
    pub pdf: PdfExporter,
}

/// A stage that only needs an on/off switch.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonExporter {
    pub enabled: bool,
    pub pretty: bool,
    /// Write `.json.gz` instead of `.json`.
    pub compressed: bool,
}

impl Default for JsonExporter {
    fn default() -> Self {
        Self {
            enabled: true,
            pretty: true,
            compressed: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HtmlExporter {
    pub enabled: bool,
    /// How many past runs the trend charts show.
    pub trend_runs: u32,
}

impl Default for HtmlExporter {
    fn default() -> Self {
        Self {
            enabled: true,
            trend_runs: 30,
        }
    }
}

/// The PDF report (the HTML report's content, typeset; its trend charts cover the HTML's
/// `trend_runs`). Off unless switched on: a report costs a typesetting pass per run, and a
/// binary built without the `pdf` feature refuses a config that switches it on.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdfExporter {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Publishers {
    pub discord: DiscordPublisher,
    pub notion: NotionPublisher,
    pub portal: PortalPublisher,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordPublisher {
    pub enabled: bool,
    /// Role ids to mention (`<@&ID>`); never `@everyone`.
    pub mention_roles: Vec<String>,
    /// Which Discord roles may use the bot's slash commands, as which role of ours.
    pub command_roles: super::CommandRoles,
}

impl Default for DiscordPublisher {
    fn default() -> Self {
        Self {
            enabled: true,
            mention_roles: Vec::new(),
            command_roles: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotionPublisher {
    pub enabled: bool,
    /// Also upsert the repos / UCF / agents databases when their ids are set.
    pub auto_create_pages: bool,
    pub repos_database_id: Option<String>,
    pub ucf_database_id: Option<String>,
    pub agents_database_id: Option<String>,
    /// Client-side request rate (average requests per second; Notion allows 3).
    pub requests_per_second: f64,
    /// What wins when a person edited a property we write (`ours`, `theirs`, `flag`).
    pub conflicts: super::ConflictPolicy,
}

impl Default for NotionPublisher {
    fn default() -> Self {
        Self {
            enabled: true,
            auto_create_pages: false,
            repos_database_id: None,
            ucf_database_id: None,
            agents_database_id: None,
            requests_per_second: 3.0,
            conflicts: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalPublisher {
    pub enabled: bool,
    /// How many runs `history.json` keeps.
    pub history: u32,
    /// URL POSTed after a new feed is written.
    pub rebuild_hook: Option<String>,
}

impl Default for PortalPublisher {
    fn default() -> Self {
        Self {
            enabled: true,
            history: 50,
            rebuild_hook: None,
        }
    }
}

/// Job lifecycle tuning.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Attempts before a job is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (full jitter).
    pub backoff_base_secs: u64,
    /// Upper bound of a retry delay.
    pub backoff_cap_secs: u64,
    /// How long a claim holds before another worker may rescue the job.
    pub lease_secs: u64,
    /// How long running jobs get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Jobs a worker pool claims ahead of its free slots, into a local buffer (graphile-worker's
    /// `localQueue`). 0, the default, claims only for free slots: right for syncs that run for
    /// seconds, where a buffered job would only wait here while another replica sits idle. A
    /// pool of many short jobs gets one claim per batch instead of one per slot. A buffered
    /// job holds its lease: one not started within a third of `lease_secs` is given back.
    pub prefetch: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff_base_secs: 5,
            backoff_cap_secs: 3600,
            lease_secs: 60,
            shutdown_grace_secs: 30,
            prefetch: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportsConfig {
    /// Files kept per format (plus `latest`).
    pub retention: u32,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        Self { retention: 100 }
    }
}
