//! One job's life in the pool: run it in a task of its own while heartbeating its lease,
//! then record its outcome (a success to the completer or the queue, a failure to a retry or
//! the dead letters, an abort to a released lease) and count it in the metrics.
//!
//! Nothing here claims or decides which job runs next (that is the producer's, in
//! `worker`), and nothing here may let a runner's panic reach the pool: the task boundary
//! turns it into a retryable failure.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Ack, WorkerPool};
use crate::queue::{ClaimedJob, FailOutcome, JobError};
use crate::store::StoreError;

/// How a job's task ended: the runner's result, or its panic.
type RunResult = Result<Result<(), JobError>, tokio::task::JoinError>;

/// The span every log line of one job attempt is in.
fn job_span(job: &ClaimedJob) -> tracing::Span {
    tracing::info_span!("job", job_id = %job.row.id, kind = %job.row.kind, attempt = job.row.attempts)
}

/// Logs a success in the job's span.
fn succeeded(span: &tracing::Span, started: Instant) -> &'static str {
    tracing::info!(parent: span, elapsed_ms = started.elapsed().as_millis() as u64, "job succeeded");
    "succeeded"
}

impl WorkerPool {
    /// Runs one job the producer claimed; its success goes to the completer.
    pub(super) async fn run_claimed(
        &self,
        worker: &str,
        job: ClaimedJob,
        abort: &CancellationToken,
        acks: &tokio::sync::mpsc::UnboundedSender<Ack>,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let span = job_span(&job);
        let result = self.run_leased(worker, &job, abort, &span).await?;
        let outcome = match result {
            Some(Ok(Ok(()))) => {
                let frees = job.row.lane.is_some() || job.row.coalesce_key.is_some();
                let _ = acks.send((job.row.id.clone(), frees));
                succeeded(&span, started)
            }
            other => self.settle(worker, &job, other, &span).await?,
        };
        self.record(&job, outcome, started);
        Ok(())
    }

    /// Runs one claimed job to its outcome; with `chain`, returns the next job claimed in
    /// the same transaction as this one's completion.
    pub(super) async fn execute(
        &self,
        worker: &str,
        job: ClaimedJob,
        chain: bool,
        abort: &CancellationToken,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let started = Instant::now();
        let span = job_span(&job);
        let result = self.run_leased(worker, &job, abort, &span).await?;
        let now = self.now();
        let mut next = None;
        let outcome = match result {
            Some(Ok(Ok(()))) if chain => {
                let (_, claimed) = self
                    .queue
                    .complete_and_claim(&job.row.id, worker, now)
                    .await?;
                next = claimed;
                succeeded(&span, started)
            }
            Some(Ok(Ok(()))) => {
                self.queue.complete(&job.row.id, worker, now).await?;
                succeeded(&span, started)
            }
            other => self.settle(worker, &job, other, &span).await?,
        };
        // A finished job may free its lane or its key for a job another worker could not take.
        if job.row.lane.is_some() || job.row.coalesce_key.is_some() {
            self.queue.notify();
        }
        self.record(&job, outcome, started);
        Ok(next)
    }

    /// Runs `job` in a task of its own, heartbeating its lease, until it ends or `abort`
    /// (then `None`).
    async fn run_leased(
        &self,
        worker: &str,
        job: &ClaimedJob,
        abort: &CancellationToken,
        span: &tracing::Span,
    ) -> Result<Option<RunResult>, StoreError> {
        tracing::info!(parent: span, "job started");
        let runner = self.runner.clone();
        let task_job = job.clone();
        let mut task = tokio::spawn(tracing::Instrument::instrument(
            async move { runner.run(&task_job).await },
            span.clone(),
        ));
        let beat = (self.queue.lease() / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                r = &mut task => return Ok(Some(r)),
                _ = abort.cancelled() => {
                    task.abort();
                    let _ = (&mut task).await;
                    return Ok(None);
                }
                _ = tokio::time::sleep(beat) => {
                    if !self.queue.heartbeat(&job.row.id, worker, self.now()).await? {
                        tracing::warn!(parent: span, "lease lost while running; the job was rescued elsewhere");
                    }
                }
            }
        }
    }

    /// Records every outcome but success: a failure, a panic, or an abort by shutdown.
    async fn settle(
        &self,
        worker: &str,
        job: &ClaimedJob,
        result: Option<RunResult>,
        span: &tracing::Span,
    ) -> Result<&'static str, StoreError> {
        let now = self.now();
        Ok(match result {
            None => {
                tracing::warn!(parent: span, "job aborted by shutdown; lease released");
                self.queue.store().release_jobs(worker, now).await?;
                "aborted"
            }
            Some(Ok(Ok(()))) => unreachable!("successes are recorded by the caller"),
            Some(Ok(Err(e))) => self.failed(worker, job, now, &e, span).await?,
            Some(Err(join)) => {
                let e = JobError::Retryable(format!("job panicked: {join}"));
                self.failed(worker, job, now, &e, span).await?
            }
        })
    }

    /// Counts a finished job in the metrics.
    fn record(&self, job: &ClaimedJob, outcome: &'static str, started: Instant) {
        metrics::counter!("helix_job_runs_total", "kind" => job.row.kind.clone(), "result" => outcome).increment(1);
        metrics::histogram!("helix_job_duration_seconds", "kind" => job.row.kind.clone())
            .record(started.elapsed().as_secs_f64());
    }

    async fn failed(
        &self,
        worker: &str,
        job: &ClaimedJob,
        now: i64,
        e: &JobError,
        span: &tracing::Span,
    ) -> Result<&'static str, StoreError> {
        let e = &self.runner.redacted(e);
        Ok(match self.queue.fail(&job.row, worker, now, e).await? {
            // Waiting for a rate limit or an open circuit is not a failure of the job: the
            // breaker logs its own transitions, once each.
            FailOutcome::Retrying { at } if matches!(e, JobError::RateLimited { .. }) => {
                tracing::debug!(parent: span, reason = %e, retry_in_ms = at - now, "job waits");
                "waiting"
            }
            FailOutcome::Retrying { at } => {
                tracing::warn!(parent: span, error = %e, retry_in_ms = at - now, "job failed; will retry");
                "retrying"
            }
            FailOutcome::Dead => {
                tracing::error!(parent: span, error = %e, "job dead-lettered");
                "dead"
            }
            FailOutcome::Lost => "lost",
        })
    }
}
