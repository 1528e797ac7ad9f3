//! The health and status report: one computation behind `GET /health`,
//! `GET /api/sync/status`, the status page and the MCP `helix-sync-status` tool.
//!
//! [`status`] gathers what the store knows (recent runs, the latest delivery per target, the
//! queue) and [`evaluate`] turns it into a verdict with no I/O, so the rules are unit-tested:
//!
//! - **unhealthy** (HTTP 503): the store does not answer, or no successful sync (`succeeded`
//!   or `partial`) finished within 3 sync intervals — the interval being the shortest period
//!   of the configured schedules (hourly by default); with no schedule there is no such rule.
//!   Before the first success the clock starts at process start.
//! - **degraded** (HTTP 200): an enabled source or target failed its last attempt, or the
//!   database is past `disk.degraded_above` or its disk below `disk.degraded_free_below`
//!   (see `disk`).
//! - **healthy** otherwise.
//!
//! `last_error` goes through [`super::redact`]: it never carries a secret or a whole upstream
//! body. This module never writes anything.

use crate::timestamp::millis;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::App;
use crate::config::Config;
use crate::store::{
    now_ms, DeliveryRow, DiskUsage, LaneRow, QueueStats, RunRow, Store, StoreError,
};
use crate::sync::sources::github::{Budget, BUDGET_KV_PREFIX};

pub mod disk;

/// How many finished runs `success_rate` and `avg_duration_seconds` look at.
pub const RATE_WINDOW: usize = 20;
/// Longest `last_error` shown, in bytes.
pub const LAST_ERROR_MAX: usize = 200;
/// Missed intervals after which the service is unhealthy.
pub const STALE_INTERVALS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

/// State of one source or target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartStatus {
    Ok,
    Error,
    Disabled,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SourceStates {
    pub github: PartStatus,
    pub ucf_state: PartStatus,
    pub agent_metrics: PartStatus,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetStates {
    pub discord: PartStatus,
    pub notion: PartStatus,
    pub portal: PartStatus,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunMetrics {
    /// Share of the last 20 finished runs that succeeded (`null` before the first run).
    pub success_rate: Option<f64>,
    /// Mean duration of the last 20 finished runs.
    pub avg_duration_seconds: Option<f64>,
    /// The most recent error of a run, source or target, redacted and truncated.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueueHealth {
    /// Jobs per state (every state present, zero included).
    pub depth: BTreeMap<String, i64>,
    /// Seconds the oldest runnable `queued` job has waited.
    pub oldest_queued_age_seconds: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub version: String,
    /// When the last run finished (whatever its outcome).
    pub last_sync: Option<String>,
    /// The scheduler's next firing.
    pub next_sync: Option<String>,
    pub sources: SourceStates,
    pub targets: TargetStates,
    pub metrics: RunMetrics,
    pub queue: QueueHealth,
    /// Seconds since the last successful run finished.
    pub data_freshness_seconds: Option<i64>,
    /// Disk taken and left (`null` when the store could not say).
    pub disk: Option<disk::DiskHealth>,
    /// Each GitHub token's (or App installation's) rate budget as GitHub last reported it:
    /// requests left and when it refills. Informational: a budget down to its reserve makes
    /// runs `partial`, which the source's state already shows.
    pub github_budgets: Vec<BudgetView>,
}

/// One GitHub rate budget.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BudgetView {
    /// `token`, `installation:<id>` or `anonymous`.
    pub token: String,
    /// `core` (REST), `graphql`, …
    pub resource: String,
    pub limit: u64,
    pub remaining: u64,
    pub reset_at: String,
    /// When GitHub said so.
    pub seen_at: String,
}

impl From<Budget> for BudgetView {
    fn from(b: Budget) -> Self {
        Self {
            reset_at: millis(b.reset_at),
            seen_at: millis(b.seen_at),
            token: b.token,
            resource: b.resource,
            limit: b.limit,
            remaining: b.remaining,
        }
    }
}

/// What the store said; `None` fields mean it could not be asked.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The store's error, when it did not answer.
    pub store_error: Option<String>,
    /// Recent runs, newest first.
    pub runs: Vec<RunRow>,
    /// The newest `succeeded` or `partial` run.
    pub last_success: Option<RunRow>,
    /// The newest delivery of each target.
    pub deliveries: Vec<DeliveryRow>,
    pub queue: QueueStats,
    /// Disk use, when it could be measured.
    pub disk: Option<DiskUsage>,
    /// Each lane's breaker (and the rest of its shared state).
    pub lanes: Vec<LaneRow>,
    /// Dead deliveries per target.
    pub dead_deliveries: BTreeMap<String, i64>,
    /// The GitHub rate budgets every replica published.
    pub github_budgets: Vec<Budget>,
}

/// Computes the report for the running service.
pub async fn status(app: &App) -> Health {
    let now = now_ms();
    let observed = match observe(&app.store, now).await {
        Ok(o) => o,
        Err(e) => Observed {
            store_error: Some(format!("store unreachable: {e}")),
            ..Default::default()
        },
    };
    let next_sync = (*app.next_sync.borrow()).or_else(|| next_firing(&app.config, now));
    evaluate(
        &app.config,
        &observed,
        app.started_at.timestamp_millis(),
        next_sync,
        now,
    )
}

async fn observe(store: &Store, now: i64) -> Result<Observed, StoreError> {
    if !store.ping().await {
        return Ok(Observed {
            store_error: Some("store unreachable: the database does not answer".into()),
            ..Default::default()
        });
    }
    Ok(Observed {
        store_error: None,
        runs: store.list_runs(100).await?,
        last_success: store
            .last_run_with_status(&["succeeded", "partial"])
            .await?,
        deliveries: store.latest_deliveries().await?,
        queue: store.queue_stats(now).await?,
        disk: store
            .disk_usage()
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "cannot measure disk use"))
            .ok(),
        lanes: store.lanes().await?,
        dead_deliveries: store
            .delivery_state_counts()
            .await?
            .into_iter()
            .filter(|(_, state, _)| state == "dead")
            .map(|(target, _, n)| (target, n))
            .collect(),
        github_budgets: github_budgets(store).await?,
    })
}

/// The GitHub rate budgets published in the store (`sync::sources::github::budget`).
pub async fn github_budgets(store: &Store) -> Result<Vec<Budget>, StoreError> {
    Ok(store
        .kv_with_prefix(BUDGET_KV_PREFIX)
        .await?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_str(&v).ok())
        .collect())
}

/// The shortest period of the configured schedules (`None` when scheduling is off).
pub fn sync_interval(config: &Config) -> Option<Duration> {
    if !config.sync_enabled {
        return None;
    }
    let schedules = crate::config::schedule::schedules(&config.file.sync_schedule).ok()?;
    let start = Utc::now();
    schedules
        .iter()
        .filter_map(|s| {
            // A schedule's period is the widest gap among its next firings, so a weekday-only
            // cron is not called stale over a weekend.
            let mut t = s.next_after(start)?;
            let mut widest = chrono::TimeDelta::zero();
            for _ in 0..8 {
                let n = s.next_after(t)?;
                widest = widest.max(n - t);
                t = n;
            }
            widest.to_std().ok()
        })
        .min()
}

/// The next firing of any schedule, computed from the config (for processes that do not
/// run the scheduler themselves, such as `helix-sync mcp`).
fn next_firing(config: &Config, now: i64) -> Option<DateTime<Utc>> {
    if !config.sync_enabled {
        return None;
    }
    let now = DateTime::from_timestamp_millis(now)?;
    crate::config::schedule::schedules(&config.file.sync_schedule)
        .ok()?
        .iter()
        .filter_map(|s| s.next_after(now))
        .min()
}

/// The verdict from what was observed (pure; see the module docs for the rules).
pub fn evaluate(
    config: &Config,
    o: &Observed,
    started_at: i64,
    next_sync: Option<DateTime<Utc>>,
    now: i64,
) -> Health {
    let finished: Vec<&RunRow> = o.runs.iter().filter(|r| r.status != "running").collect();
    let on = Enabled::of(config);
    let (sources, source_errors) = source_states(&on, &finished);
    let (targets, target_errors) = target_states(&on, o);

    let window: Vec<&&RunRow> = finished.iter().take(RATE_WINDOW).collect();
    let success_rate = (!window.is_empty()).then(|| {
        window.iter().filter(|r| r.status == "succeeded").count() as f64 / window.len() as f64
    });
    let durations: Vec<f64> = window
        .iter()
        .filter_map(|r| r.duration_ms)
        .map(|d| d as f64 / 1000.0)
        .collect();
    let avg_duration_seconds =
        (!durations.is_empty()).then(|| durations.iter().sum::<f64>() / durations.len() as f64);

    // The newest error wins, whichever part it came from.
    let mut errors: Vec<(i64, String)> = source_errors.into_iter().chain(target_errors).collect();
    if let Some(r) = finished.first() {
        if let Some(e) = &r.error {
            errors.push((r.finished_at.unwrap_or(r.started_at), e.clone()));
        }
    }
    if let Some(e) = &o.store_error {
        errors.push((i64::MAX, e.clone()));
    }
    let last_error = errors
        .into_iter()
        .max_by_key(|(at, _)| *at)
        .map(|(_, e)| super::redact::redact(&e, &config.secrets, LAST_ERROR_MAX));

    let last_success_at = o
        .last_success
        .as_ref()
        .map(|r| r.finished_at.unwrap_or(r.started_at));
    let stale = sync_interval(config).is_some_and(|interval| {
        let since = last_success_at.unwrap_or(started_at);
        now - since > (interval * STALE_INTERVALS).as_millis() as i64
    });
    let failing = [sources.github, sources.ucf_state, sources.agent_metrics]
        .into_iter()
        .chain([targets.discord, targets.notion, targets.portal])
        .any(|s| s == PartStatus::Error);
    let disk = disk::evaluate(&config.file.disk, o.disk.as_ref());
    let disk_problem = disk.as_ref().is_some_and(|d| d.problem.is_some());
    let status = if o.store_error.is_some() || stale {
        HealthStatus::Unhealthy
    } else if failing || disk_problem {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };

    Health {
        status,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        last_sync: finished
            .first()
            .map(|r| millis(r.finished_at.unwrap_or(r.started_at))),
        next_sync: next_sync.map(crate::timestamp::secs),
        sources,
        targets,
        metrics: RunMetrics {
            success_rate,
            avg_duration_seconds,
            last_error,
        },
        queue: QueueHealth {
            depth: o.queue.by_state.clone(),
            oldest_queued_age_seconds: o.queue.oldest_queued_age_ms.map(|ms| ms as f64 / 1000.0),
        },
        data_freshness_seconds: last_success_at.map(|t| ((now - t).max(0)) / 1000),
        disk,
        github_budgets: o.github_budgets.iter().cloned().map(Into::into).collect(),
    }
}

/// Which sources and targets are on: the cycle's own verdict (the constructors it builds its
/// sources with, and each publisher's `unconfigured`), never rules of our own, so a part the
/// cycle runs is a part whose failure degrades the report.
struct Enabled {
    sources: Vec<&'static str>,
    targets: Vec<&'static str>,
}

impl Enabled {
    fn of(config: &Config) -> Self {
        Self {
            sources: crate::sync::sources::build(config)
                .into_iter()
                .filter_map(|(name, source)| source.map(|_| name))
                .collect(),
            targets: crate::sync::publishers::targets(config)
                .into_iter()
                .filter_map(|(name, on)| on.then_some(name))
                .collect(),
        }
    }
}

/// Each source's state from the newest run that attempted it, plus its error with the
/// run's time.
fn source_states(on: &Enabled, finished: &[&RunRow]) -> (SourceStates, Vec<(i64, String)>) {
    let mut errors = Vec::new();
    let mut state = |name: &str| -> PartStatus {
        if !on.sources.contains(&name) {
            return PartStatus::Disabled;
        }
        for run in finished {
            let sources: Value = serde_json::from_str(&run.sources).unwrap_or(Value::Null);
            let entry = &sources[name];
            match entry["status"].as_str() {
                Some("ok") => return PartStatus::Ok,
                Some("error") => {
                    let msg = entry["error"].as_str().unwrap_or("failed");
                    errors.push((
                        run.finished_at.unwrap_or(run.started_at),
                        format!("{name}: {msg}"),
                    ));
                    return PartStatus::Error;
                }
                // Not attempted in this run (a partial trigger): look further back.
                _ => continue,
            }
        }
        PartStatus::Ok
    };
    let states = SourceStates {
        github: state("github"),
        ucf_state: state("ucf_state"),
        agent_metrics: state("agent_metrics"),
    };
    (states, errors)
}

/// Each target's state: `error` while its circuit is open, while it has dead deliveries
/// (until they are retried or cancelled), or when its newest delivery failed.
fn target_states(on: &Enabled, o: &Observed) -> (TargetStates, Vec<(i64, String)>) {
    let mut errors = Vec::new();
    let mut state = |name: &str| -> PartStatus {
        if !on.targets.contains(&name) {
            return PartStatus::Disabled;
        }
        if let Some(lane) = o
            .lanes
            .iter()
            .find(|l| l.name == name && l.breaker == "open")
        {
            let since = lane.opened_at.unwrap_or(lane.updated_at);
            errors.push((
                since,
                format!(
                    "{name}: circuit open since {} after {} failures in a row",
                    millis(since),
                    lane.failures
                ),
            ));
            return PartStatus::Error;
        }
        let latest = o.deliveries.iter().find(|d| d.target == name);
        if let Some(&dead) = o.dead_deliveries.get(name).filter(|n| **n > 0) {
            let at = latest.map_or(0, |d| d.updated_at);
            errors.push((
                at,
                format!("{name}: {dead} dead deliveries (helix-sync queue retry --all-dead)"),
            ));
            return PartStatus::Error;
        }
        let Some(d) = latest else {
            return PartStatus::Ok;
        };
        let failed = matches!(d.state.as_str(), "failed" | "dead")
            || (d.state == "pending" && d.last_error.is_some());
        if failed {
            let msg = d.last_error.as_deref().unwrap_or("delivery failed");
            errors.push((d.updated_at, format!("{name}: {msg}")));
            PartStatus::Error
        } else {
            PartStatus::Ok
        }
    };
    let states = TargetStates {
        discord: state("discord"),
        notion: state("notion"),
        portal: state("portal"),
    };
    (states, errors)
}

#[cfg(test)]
mod tests;

/// Rows per table, for the status page (exact on SQLite, estimates on PostgreSQL).
pub async fn table_rows(app: &App) -> Result<Vec<(&'static str, i64)>, StoreError> {
    app.store.table_rows().await
}

/// One line of the status page's run table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunLine {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: String,
    pub duration_seconds: Option<f64>,
    /// Delivery state per publish target (`pending`, `succeeded`, `failed`, `dead`,
    /// `disabled`); absent when the run has no delivery for it.
    pub targets: BTreeMap<String, String>,
    /// When each waiting delivery (`pending` or `failed`) is tried next, per target.
    pub next_attempts: BTreeMap<String, String>,
    /// Redacted and truncated like `last_error`.
    pub error: Option<String>,
}

/// The last `limit` runs with their per-target outcome, newest first.
pub async fn recent_runs(app: &App, limit: i64) -> Result<Vec<RunLine>, StoreError> {
    let secrets = &app.config.secrets;
    Ok(app
        .store
        .recent_runs_with_deliveries(limit)
        .await?
        .into_iter()
        .map(|(r, deliveries)| RunLine {
            next_attempts: deliveries
                .iter()
                .filter(|d| matches!(d.state.as_str(), "pending" | "failed"))
                .filter_map(|d| Some((d.target.clone(), millis(d.next_attempt_at?))))
                .collect(),
            targets: deliveries
                .into_iter()
                .map(|d| (d.target, d.state))
                .collect(),
            error: r
                .error
                .as_deref()
                .map(|e| super::redact::redact(e, secrets, LAST_ERROR_MAX)),
            started_at: millis(r.started_at),
            duration_seconds: r.duration_ms.map(|d| d as f64 / 1000.0),
            id: r.id,
            trigger: r.trigger,
            status: r.status,
        })
        .collect())
}
