//! The job lifecycle on top of `store`: enqueue, claim with a lease, heartbeat, complete,
//! fail (retry with backoff or dead-letter), rescue, release, cancel, retry.
//!
//! This module decides *what* happens to a job after an outcome (retry when, or give up);
//! it never runs a job (that is `worker`) and never writes SQL (that is `store`). Enqueue
//! wakes idle workers through a `Notify`; workers also poll, so a wake-up lost to a race or
//! sent by another process only costs one poll interval.

pub mod job;
pub mod nodes;
pub mod retention;

pub use job::{FollowupJob, JobPayload, PublishJob, Report, SyncJob, SyncScope, Trigger};
pub use nodes::Node;

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::sync::Notify;

use crate::config::{DeliveryConfig, QueueConfig};
use crate::store::{Debounce, JobRow, NewJob, Store, StoreError};

/// How a job attempt ended badly; the queue turns this into retry or dead letter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after backoff (network, 5xx, 408, 429 without a reset time).
    #[error("{0}")]
    Retryable(String),
    /// Will fail the same way again (bad credentials, other 4xx, invalid data): dead at once.
    #[error("{0}")]
    Permanent(String),
    /// An upstream asked us to wait until `retry_at` (unix ms), or its target's circuit is
    /// open. Does not use up an attempt.
    #[error("{message}")]
    RateLimited { message: String, retry_at: i64 },
    /// Failed; the job's own schedule (a publish target's retry schedule) says to try again
    /// at `retry_at`. Uses up an attempt; the queue's backoff and attempt cap do not apply.
    #[error("{message}")]
    Scheduled { message: String, retry_at: i64 },
}

/// A claimed job with its decoded payload.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub row: JobRow,
    pub payload: JobPayload,
}

/// What `fail` did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    Retrying {
        at: i64,
    },
    Dead,
    /// The lease was lost meanwhile (rescued); nothing was written.
    Lost,
}

#[derive(Clone)]
pub struct Queue {
    store: Store,
    config: QueueConfig,
    delivery: Arc<DeliveryConfig>,
    node: Arc<Node>,
    wake: Arc<Notify>,
}

impl Queue {
    pub fn new(store: Store, config: QueueConfig) -> Self {
        Self {
            store,
            config,
            delivery: Default::default(),
            node: Arc::new(Node::new(None)),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The same queue applying `delivery` (retry schedules, lanes, debounce).
    pub fn with_delivery(mut self, delivery: DeliveryConfig) -> Self {
        self.delivery = Arc::new(delivery);
        self
    }

    /// The same queue as node `name` (see [`Node`]).
    pub fn with_node_name(mut self, name: Option<String>) -> Self {
        self.node = Arc::new(Node::new(name));
        self
    }

    pub fn delivery(&self) -> &DeliveryConfig {
        &self.delivery
    }

    /// This process in the node registry; worker ids start with its id.
    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Signalled whenever a job became runnable in this process.
    pub fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.config.lease_secs.max(1))
    }

    /// Builds the row for a payload, runnable at `run_at`.
    /// A publish job gets its target's lane and as many attempts as the target's retry
    /// schedule allows; a sync asked for by a webhook is debounced per coalescing key.
    pub fn new_job(&self, payload: &JobPayload, run_at: i64) -> NewJob {
        let lane = payload.lane();
        let max_attempts = match &lane {
            Some(target) => self.delivery.targets.get(target).max_attempts(),
            None => i64::from(self.config.max_attempts),
        };
        let d = &self.delivery.debounce;
        let debounce = (payload.debounced() && d.quiet_ms > 0).then_some(Debounce {
            quiet_ms: d.quiet_ms as i64,
            max_delay_ms: d.max_delay_ms as i64,
        });
        NewJob {
            id: uuid::Uuid::now_v7().to_string(),
            kind: payload.kind().to_owned(),
            payload: serde_json::to_string(payload).expect("job payloads always serialize"),
            coalesce_key: payload.coalesce_key(),
            priority: 0,
            run_at,
            max_attempts,
            lane,
            debounce,
        }
    }

    /// Writes each kind's and each target's concurrency bound to the store, where every
    /// worker's claim reads it.
    pub async fn apply_lane_limits(&self, targets: &[&str], now: i64) -> Result<(), StoreError> {
        let d = &self.delivery;
        let bound = |n: Option<u32>| n.map(i64::from);
        let mut limits = vec![
            (job::SyncJob::NAME, bound(d.concurrency.sync)),
            (job::PublishJob::NAME, bound(d.concurrency.publish)),
        ];
        for t in targets {
            limits.push((*t, bound(d.targets.get(t).max_concurrent)));
        }
        self.store.set_lane_limits(&limits, now).await
    }

    /// Enqueues (or coalesces) a job and wakes a worker. Returns the job id.
    pub async fn enqueue(&self, payload: &JobPayload, now: i64) -> Result<String, StoreError> {
        let (id, created) = self.store.enqueue(&self.new_job(payload, now), now).await?;
        if created {
            self.notify();
        }
        Ok(id)
    }

    /// Enqueues (or coalesces) many jobs in one transaction (bulk replay, backfills) and
    /// wakes the workers. Returns each job's id, in order.
    pub async fn enqueue_many(
        &self,
        payloads: &[JobPayload],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let jobs: Vec<NewJob> = payloads.iter().map(|p| self.new_job(p, now)).collect();
        let done = self.store.enqueue_many(&jobs, now).await?;
        if done.iter().any(|(_, created)| *created) {
            self.notify();
        }
        Ok(done.into_iter().map(|(id, _)| id).collect())
    }

    pub fn notify(&self) {
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    /// Claims the next runnable job. A row whose payload no longer decodes is dead-lettered
    /// here (it can never run) and the claim moves on.
    pub async fn claim(&self, worker: &str, now: i64) -> Result<Option<ClaimedJob>, StoreError> {
        let lease_until = now + self.lease().as_millis() as i64;
        let row = self.store.claim(worker, now, lease_until).await?;
        self.decoded(row, worker, now).await
    }

    /// Claims up to `limit` runnable jobs in one statement (a pool with that many free
    /// slots). Rows whose payload no longer decodes are dead-lettered and left out.
    pub async fn claim_batch(
        &self,
        worker: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let lease_until = now + self.lease().as_millis() as i64;
        let rows = self
            .store
            .claim_batch(worker, now, lease_until, limit)
            .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(job) = self.decode_or_bury(row, worker, now).await? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Acknowledges the successes of `worker`'s jobs `ids` together; returns the ids that
    /// were still ours (a job rescued meanwhile is not overwritten).
    pub async fn complete_batch(
        &self,
        ids: &[String],
        worker: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.store.complete_jobs(ids, worker, now).await
    }

    /// Completes a job and claims the next in one transaction (see
    /// `Store::complete_and_claim`). Returns whether the job was still ours, and the next job.
    pub async fn complete_and_claim(
        &self,
        job_id: &str,
        worker: &str,
        now: i64,
    ) -> Result<(bool, Option<ClaimedJob>), StoreError> {
        let lease_until = now + self.lease().as_millis() as i64;
        let (done, next) = self
            .store
            .complete_and_claim(job_id, worker, now, lease_until)
            .await?;
        Ok((done, self.decoded(next, worker, now).await?))
    }

    /// Decodes a claimed row. A payload that no longer decodes can never run: it is
    /// dead-lettered here and the claim moves on.
    async fn decoded(
        &self,
        mut row: Option<JobRow>,
        worker: &str,
        now: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let lease_until = now + self.lease().as_millis() as i64;
        while let Some(r) = row {
            if let Some(job) = self.decode_or_bury(r, worker, now).await? {
                return Ok(Some(job));
            }
            row = self.store.claim(worker, now, lease_until).await?;
        }
        Ok(None)
    }

    /// The claimed row with its payload, or `None` after dead-lettering a row whose payload
    /// no longer decodes.
    async fn decode_or_bury(
        &self,
        row: JobRow,
        worker: &str,
        now: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        match serde_json::from_str::<JobPayload>(&row.payload) {
            Ok(payload) => Ok(Some(ClaimedJob { row, payload })),
            Err(e) => {
                let msg = format!("undecodable payload of kind {}: {e}", row.kind);
                tracing::error!(job_id = %row.id, "{msg}");
                self.store
                    .fail_job(&row.id, worker, now, &msg, None, false)
                    .await?;
                Ok(None)
            }
        }
    }

    pub async fn heartbeat(
        &self,
        job_id: &str,
        worker: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let until = now + self.lease().as_millis() as i64;
        self.store.heartbeat(job_id, worker, until).await
    }

    pub async fn complete(&self, job_id: &str, worker: &str, now: i64) -> Result<bool, StoreError> {
        self.store.complete_job(job_id, worker, now).await
    }

    /// Records a failed attempt and decides its future.
    pub async fn fail(
        &self,
        job: &JobRow,
        worker: &str,
        now: i64,
        error: &JobError,
    ) -> Result<FailOutcome, StoreError> {
        let message = truncate(&error.to_string(), 2000);
        let (retry_at, refund) = match error {
            JobError::Permanent(_) => (None, false),
            JobError::RateLimited { retry_at, .. } => (Some((*retry_at).max(now)), true),
            JobError::Scheduled { retry_at, .. } => (Some((*retry_at).max(now)), false),
            JobError::Retryable(_) if job.attempts >= job.max_attempts => (None, false),
            JobError::Retryable(_) => (
                Some(now + self.backoff(job.attempts as u32).as_millis() as i64),
                false,
            ),
        };
        let written = self
            .store
            .fail_job(&job.id, worker, now, &message, retry_at, refund)
            .await?;
        if written && !refund {
            // The attempt history the console shows; the job row keeps only the last error.
            let attempt = crate::store::AttemptRow {
                job_id: job.id.clone(),
                attempt: job.attempts,
                started_at: job.started_at,
                finished_at: now,
                outcome: if retry_at.is_some() {
                    "retrying"
                } else {
                    "dead"
                }
                .into(),
                error: Some(message.clone()),
            };
            if let Err(e) = self.store.insert_attempt(&attempt).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not record the attempt");
            }
        }
        Ok(match (written, retry_at) {
            (false, _) => FailOutcome::Lost,
            (true, Some(at)) => FailOutcome::Retrying { at },
            (true, None) => FailOutcome::Dead,
        })
    }

    pub fn backoff(&self, attempt: u32) -> Duration {
        backoff(&self.config, attempt)
    }

    /// Returns to the queue the jobs of dead nodes (see [`Node`]) and jobs whose lease
    /// expired; logs and counts each.
    pub async fn rescue(&self, now: i64) -> Result<usize, StoreError> {
        let mut ids = self.node.rescue_dead(&self.store, now).await?;
        let expired = self.store.rescue_expired(now).await?;
        for id in &expired {
            tracing::warn!(job_id = %id, "rescued a job whose lease expired (its worker died or hung)");
        }
        ids.extend(expired);
        if !ids.is_empty() {
            metrics::counter!("helix_queue_rescued_total").increment(ids.len() as u64);
            self.notify();
        }
        Ok(ids.len())
    }
}

/// Exponential backoff with full jitter: uniform in `[0, min(cap, base·2^(attempt-1))]`.
pub fn backoff(config: &QueueConfig, attempt: u32) -> Duration {
    let base = config.backoff_base_secs.max(1) as f64;
    let cap = config.backoff_cap_secs.max(1) as f64;
    let ceiling = (base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32)).min(cap);
    Duration::from_secs_f64(rand::rng().random_range(0.0..=ceiling))
}

/// Cuts a string to at most `max` bytes on a char boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_exponential_ceiling_and_cap() {
        let c = QueueConfig {
            backoff_base_secs: 2,
            backoff_cap_secs: 10,
            ..Default::default()
        };
        let ceilings = [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (20, 10.0)];
        for (attempt, ceiling) in ceilings {
            let draws: Vec<f64> = (0..200)
                .map(|_| backoff(&c, attempt).as_secs_f64())
                .collect();
            assert!(
                draws.iter().all(|d| (0.0..=ceiling).contains(d)),
                "attempt {attempt}"
            );
            // Full jitter spreads over the whole range, not just near the ceiling.
            assert!(
                draws.iter().any(|d| *d < ceiling / 2.0),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 100), "héllo");
        let t = truncate(&"é".repeat(100), 10);
        assert!(t.len() <= 10 && t.ends_with("..."));
    }
}
