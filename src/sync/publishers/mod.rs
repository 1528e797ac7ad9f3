//! Publishers: deliver a stored run to Discord, Notion and the portal feed, each target as
//! its own `publish` job with its own `deliveries` row.
//!
//! [`deliver`] is the whole contract with the queue: it reads the delivery row, skips a
//! target that already succeeded (or is disabled), publishes, and writes the outcome back.
//! The row is what makes a retry harmless: a recorded success is never sent again, and a
//! multi-request target saves its `progress` as it goes so the next attempt resumes. Each
//! target is one [`Publisher`] in its own file, registered in [`PUBLISHERS`]. Publishers
//! never retry in a loop of their own: they classify the failure ([`PublishError`]) and the
//! queue schedules the next attempt. No publisher may log or store a secret or a whole
//! upstream body.

pub mod discord;
pub mod limits;
pub mod notion;
pub mod portal;
pub mod stats;

use async_trait::async_trait;
use serde_json::Value;

use super::exporters::{ExportFile, RunInfo};
use super::snapshot::{ChangeSummary, Snapshot};
use super::SyncDeps;
use crate::config::Config;
use crate::queue::{JobError, JobPayload, PublishJob};
use crate::store::{now_ms, Admission, DeliveryOutcome, RunMeta, RunRow, StoreError, Transition};

/// Every publish target, by name (the names of [`crate::sync::snapshot::TARGET_NAMES`]).
pub static PUBLISHERS: [&dyn Publisher; 3] = [&discord::Discord, &notion::Notion, &portal::Portal];

/// The publisher registered for a target name.
pub fn publisher(target: &str) -> Option<&'static dyn Publisher> {
    PUBLISHERS.iter().copied().find(|p| p.name() == target)
}

/// One publish target.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// The target name used in config, jobs and deliveries.
    fn name(&self) -> &'static str;

    /// Why this target cannot publish with `config` (switched off or a credential is
    /// missing); `None` when it can.
    fn unconfigured(&self, config: &Config) -> Option<String>;

    /// Like [`Publisher::unconfigured`], plus facts learnt at run time (a Discord webhook
    /// that answered 404 stays off until the configured URL changes).
    async fn unavailable(&self, deps: &SyncDeps) -> Option<String> {
        self.unconfigured(&deps.config)
    }

    /// Publishes one run. Called only when the delivery has not succeeded yet; must be
    /// safe to call again after any failure (resume from `cx.progress`).
    async fn publish(&self, cx: &PublishContext<'_>) -> Result<Receipt, PublishError>;
}

/// What a successful publish reports.
#[derive(Debug, Clone, Default)]
pub struct Receipt {
    /// Id on the other side (message id, page id, feed path).
    pub external_id: Option<String>,
}

/// Why a publish attempt failed; the queue decides retry or dead letter from it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// The target asked us to wait until `retry_at` (unix ms); not the job's fault.
    #[error("{message}")]
    RateLimited { message: String, retry_at: i64 },
    /// Network, 5xx, 409: worth another attempt after backoff.
    #[error("{0}")]
    Retryable(String),
    /// Will fail the same way again (bad request, unknown object).
    #[error("{0}")]
    Permanent(String),
    /// The target rejected our credentials; it stays off until the config changes.
    #[error("{0}")]
    Disabled(String),
}

impl PublishError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Retryable(_))
    }

    /// The same error with any secret the upstream quoted back scrubbed.
    pub fn redacted(self, r: &crate::config::Redactor) -> Self {
        match self {
            Self::RateLimited { message, retry_at } => Self::RateLimited {
                message: r.redact(&message),
                retry_at,
            },
            Self::Retryable(m) => Self::Retryable(r.redact(&m)),
            Self::Permanent(m) => Self::Permanent(r.redact(&m)),
            Self::Disabled(m) => Self::Disabled(r.redact(&m)),
        }
    }
}

impl From<PublishError> for JobError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::RateLimited { message, retry_at } => {
                JobError::RateLimited { message, retry_at }
            }
            PublishError::Retryable(m) => JobError::Retryable(m),
            PublishError::Permanent(m) | PublishError::Disabled(m) => JobError::Permanent(m),
        }
    }
}

impl From<StoreError> for PublishError {
    fn from(e: StoreError) -> Self {
        PublishError::Retryable(format!("store: {e}"))
    }
}

/// Everything a publisher reads about the run it publishes.
pub struct PublishContext<'a> {
    pub deps: &'a SyncDeps,
    /// The target being published to.
    pub target: String,
    pub run: RunInfo,
    pub row: RunRow,
    /// Rollback facts and flagged Notion conflicts of the run.
    pub meta: RunMeta,
    pub snapshot: Snapshot,
    pub changes: ChangeSummary,
    pub exports: Vec<ExportFile>,
    /// The resume point saved by an earlier attempt (`{}` on the first).
    pub progress: Value,
    /// 1 on the first attempt.
    pub attempt: i64,
}

impl PublishContext<'_> {
    pub fn config(&self) -> &Config {
        &self.deps.config
    }

    /// Durably records how far this delivery got (and the external id once known), so a
    /// retry after a crash resumes instead of repeating.
    pub async fn save_progress(
        &self,
        progress: &Value,
        external_id: Option<&str>,
    ) -> Result<(), PublishError> {
        self.deps
            .store
            .save_delivery_progress(
                &self.run.id,
                &self.target,
                &progress.to_string(),
                external_id,
                now_ms(),
            )
            .await
            .map_err(Into::into)
    }
}

/// Delivers run `job.run_id` to `job.target`, resuming from the delivery row's progress.
pub async fn deliver(deps: &SyncDeps, job: &PublishJob) -> Result<(), JobError> {
    let publisher = publisher(&job.target)
        .ok_or_else(|| JobError::Permanent(format!("unknown publish target {:?}", job.target)))?;
    deliver_with(deps, job, publisher).await
}

/// [`deliver`] with an explicit publisher (tests substitute one with a fixed input).
pub async fn deliver_with(
    deps: &SyncDeps,
    job: &PublishJob,
    publisher: &dyn Publisher,
) -> Result<(), JobError> {
    let store = &deps.store;
    let retry = |e: StoreError| JobError::Retryable(format!("store: {e}"));
    let delivery = store
        .get_delivery(&job.run_id, &job.target)
        .await
        .map_err(retry)?
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "no delivery of run {} to {}",
                job.run_id, job.target
            ))
        })?;
    if matches!(delivery.state.as_str(), "succeeded" | "disabled") {
        tracing::debug!(run_id = %job.run_id, target = %job.target, state = %delivery.state, "nothing to deliver");
        return Ok(());
    }
    let mut outcome = DeliveryOutcome {
        run_id: &job.run_id,
        target: &job.target,
        state: "disabled",
        count_attempt: false,
        next_attempt_at: None,
        last_error: None,
        external_id: None,
        now: now_ms(),
    };
    if let Some(reason) = publisher.unavailable(deps).await {
        tracing::info!(run_id = %job.run_id, target = %job.target, %reason, "target disabled");
        outcome.last_error = Some(&reason);
        store.record_delivery(&outcome).await.map_err(retry)?;
        announce(deps, &outcome, delivery.attempts);
        return Ok(());
    }
    let policy = deps.config.file.delivery.targets.get(&job.target);
    let probe_ms = policy.probe_interval_ms();
    let admission = store
        .breaker_admit(&job.target, probe_ms, now_ms())
        .await
        .map_err(retry)?;
    if let Admission::Wait(at) = admission {
        // The target is down: wait for the next probe without using an attempt.
        let message = format!(
            "the {} circuit is open; waiting for the next probe",
            job.target
        );
        outcome.state = if delivery.state == "pending" {
            "pending"
        } else {
            "failed"
        };
        outcome.next_attempt_at = Some(at);
        outcome.last_error = Some(&message);
        store.record_delivery(&outcome).await.map_err(retry)?;
        announce(deps, &outcome, delivery.attempts);
        return Err(JobError::RateLimited {
            message,
            retry_at: at,
        });
    }
    // A run that cannot be loaded is recorded on the delivery like any other failure.
    let result = match context(deps, job, &delivery).await {
        Ok(cx) => publisher.publish(&cx).await,
        Err(e) => Err(e),
    }
    .map_err(|e| e.redacted(&deps.redactor));
    let now = now_ms();
    let message = result.as_ref().err().map(ToString::to_string);
    outcome.now = now;
    outcome.last_error = message.as_deref();
    // A probe is the target's test, not the delivery's: it uses no attempt.
    outcome.count_attempt = admission == Admission::Go;
    let attempts = delivery.attempts + i64::from(outcome.count_attempt);
    let transition = match &result {
        Ok(_) => store.breaker_success(&job.target, now).await,
        Err(PublishError::Retryable(_)) => {
            let threshold = i64::from(policy.breaker_failures);
            store
                .breaker_failure(&job.target, threshold, probe_ms, now)
                .await
        }
        Err(_) => Ok(Transition::None),
    }
    .map_err(retry)?;
    log_transition(&job.target, transition);
    let mut next = None;
    match &result {
        Ok(receipt) => {
            outcome.state = "succeeded";
            outcome.external_id = receipt.external_id.as_deref();
        }
        // Like the queue, a rate-limit wait does not use up an attempt. The others of the
        // lane wait behind this one, so each resumption gets the whole refilled budget.
        Err(PublishError::RateLimited { retry_at, .. }) => {
            outcome.state = "failed";
            outcome.count_attempt = false;
            outcome.next_attempt_at = Some(*retry_at);
            let holder = JobPayload::Publish(job.clone()).coalesce_key();
            if let Some(holder) = holder {
                store
                    .hold_lane(&job.target, &holder, *retry_at, now)
                    .await
                    .map_err(retry)?;
            }
        }
        // A failed probe: wait for the next one, at the very time the others wait for, so
        // the oldest delivery stays first in line.
        Err(PublishError::Retryable(_)) if matches!(admission, Admission::Probe { .. }) => {
            outcome.state = "failed";
            if let Admission::Probe { next } = admission {
                outcome.next_attempt_at = Some(next);
            }
        }
        // This failure opened the breaker: wait for its first probe with every other delivery.
        Err(PublishError::Retryable(_)) if matches!(transition, Transition::Opened { .. }) => {
            outcome.state = "failed";
            outcome.next_attempt_at = Some(now + probe_ms);
        }
        Err(PublishError::Retryable(_)) => match policy.delay_after(attempts) {
            Some(delay) => {
                outcome.state = "failed";
                let at = now + delay.as_millis() as i64;
                outcome.next_attempt_at = Some(at);
                next = Some(at);
            }
            None => outcome.state = "dead",
        },
        Err(PublishError::Disabled(_)) => outcome.state = "disabled",
        Err(_) => outcome.state = "dead",
    }
    store.record_delivery(&outcome).await.map_err(retry)?;
    announce(deps, &outcome, attempts);
    if matches!(transition, Transition::Closed { .. }) {
        deps.queue.notify();
    }
    let (dead, waiting_until) = (outcome.state == "dead", outcome.next_attempt_at);
    match result {
        Ok(r) => {
            tracing::info!(run_id = %job.run_id, target = %job.target, external_id = ?r.external_id, "published");
            Ok(())
        }
        Err(e @ PublishError::Retryable(_)) => Err(match (dead, next) {
            (true, _) => JobError::Permanent(format!(
                "{e} (gave up after {attempts} attempts: the retry schedule is exhausted)"
            )),
            (_, Some(retry_at)) => JobError::Scheduled {
                message: e.to_string(),
                retry_at,
            },
            // Waiting on the breaker: the job waits as long as the delivery.
            _ => JobError::RateLimited {
                message: e.to_string(),
                retry_at: waiting_until.unwrap_or(now + probe_ms),
            },
        }),
        Err(e) => Err(e.into()),
    }
}

/// Tells live listeners the delivery's new state.
fn announce(deps: &SyncDeps, outcome: &DeliveryOutcome<'_>, attempts: i64) {
    crate::live::send(&deps.live, || crate::live::LiveEvent::Delivery {
        run_id: outcome.run_id.to_owned(),
        target: outcome.target.to_owned(),
        state: outcome.state.to_owned(),
        attempts,
        next_attempt_at: outcome.next_attempt_at.map(crate::timestamp::millis),
    });
}

/// One WARN line per breaker transition (exactly one caller sees each).
fn log_transition(target: &str, t: Transition) {
    match t {
        Transition::None => {}
        Transition::Opened { failures } => tracing::warn!(
            target_name = target,
            failures,
            "circuit opened: {target} failed {failures} times in a row; deliveries wait for probes"
        ),
        Transition::Closed { drained } => tracing::warn!(
            target_name = target,
            drained,
            "circuit closed: {target} answered again; draining its backlog in order"
        ),
    }
}

/// Loads the run, its snapshot and its change summary for a publisher.
async fn context<'a>(
    deps: &'a SyncDeps,
    job: &PublishJob,
    delivery: &crate::store::DeliveryRow,
) -> Result<PublishContext<'a>, PublishError> {
    let run_id = job.run_id.as_str();
    let row = deps
        .store
        .get_run(run_id)
        .await?
        .ok_or_else(|| PublishError::Permanent(format!("run {run_id} does not exist")))?;
    let bytes = deps
        .store
        .snapshot_json(run_id)
        .await?
        .ok_or_else(|| PublishError::Permanent(format!("run {run_id} has no snapshot")))?;
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
        PublishError::Permanent(format!("snapshot of run {run_id} is unreadable: {e}"))
    })?;
    let changes: ChangeSummary = serde_json::from_str(&row.change_summary).map_err(|e| {
        PublishError::Permanent(format!("change summary of run {run_id} is unreadable: {e}"))
    })?;
    let meta = deps.store.run_meta(run_id).await?.unwrap_or_default();
    // The export list is informational: a malformed one must not block publishing.
    let exports = serde_json::from_str(&row.exports).unwrap_or_default();
    let generated = deps.store.generated_summary(run_id).await?;
    Ok(PublishContext {
        deps,
        target: job.target.clone(),
        run: RunInfo::from(&row).with_summary(super::narrate::decode(generated.as_deref())),
        row,
        meta,
        snapshot,
        changes,
        exports,
        progress: serde_json::from_str(&delivery.progress)
            .unwrap_or_else(|_| Value::Object(Default::default())),
        attempt: delivery.attempts + 1,
    })
}

/// The longest wait for a target's rate limit an attempt sits out in place: shorter than
/// what rescheduling the job costs. Anything longer goes back to the queue.
pub const MAX_INLINE_WAIT_MS: i64 = 25;

/// Sits out a wait until `at` (unix ms) when it is at most [`MAX_INLINE_WAIT_MS`];
/// otherwise `Err(at)`, for the caller to hand back to the queue as a rate-limited retry.
pub async fn sit_out(at: i64) -> Result<(), i64> {
    let wait = at - now_ms();
    if wait <= 0 {
        return Ok(());
    }
    if wait > MAX_INLINE_WAIT_MS {
        return Err(at);
    }
    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    Ok(())
}

/// Each target and whether it can publish with `config` (for `Store::finish_run`'s
/// `targets`: `false` rows are recorded as `disabled`).
pub fn targets(config: &Config) -> Vec<(&'static str, bool)> {
    PUBLISHERS
        .iter()
        .map(|p| (p.name(), p.unconfigured(config).is_none()))
        .collect()
}

/// Why `target` is disabled right now (for health), `None` when it can publish.
pub async fn disabled_reason(deps: &SyncDeps, target: &str) -> Option<String> {
    match publisher(target) {
        Some(p) => p.unavailable(deps).await,
        None => Some(format!("unknown target {target:?}")),
    }
}
