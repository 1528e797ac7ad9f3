//! The buffer of jobs a pool claimed ahead of its free slots (`queue.prefetch`), and giving
//! them back. A buffered job's lease already runs, so it must start within a third of the
//! lease or go back to the queue; it must never sit here while its lease expires.

use std::time::Duration;

use super::WorkerPool;
use crate::queue::ClaimedJob;

/// Most jobs a pool claims ahead of its free slots (`queue.prefetch`); graphile-worker's
/// batched setting is 500.
pub(super) const MAX_PREFETCH: usize = 1000;

/// Jobs claimed ahead of a free slot, oldest first, each with the time it must start by.
#[derive(Default)]
pub(super) struct Ahead {
    jobs: std::collections::VecDeque<(tokio::time::Instant, ClaimedJob)>,
}

impl Ahead {
    /// Buffers `jobs`, which must start within `ttl` (a buffered job's lease runs).
    pub(super) fn push(&mut self, jobs: Vec<ClaimedJob>, ttl: Duration) {
        let by = tokio::time::Instant::now() + ttl;
        self.jobs.extend(jobs.into_iter().map(|j| (by, j)));
    }

    pub(super) fn pop(&mut self) -> Option<ClaimedJob> {
        self.jobs.pop_front().map(|(_, j)| j)
    }

    pub(super) fn len(&self) -> usize {
        self.jobs.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Resolves when the oldest buffered job has waited too long; never while none waits.
    pub(super) async fn expired(&self) {
        match self.jobs.front() {
            Some((by, _)) => tokio::time::sleep_until(*by).await,
            None => std::future::pending().await,
        }
    }
}

impl WorkerPool {
    /// Gives the buffered jobs back to the queue: none was started within a third of its
    /// lease, so every slot is busy with something long and another process should have them.
    pub(super) async fn give_back(&self, worker: &str, ahead: &mut Ahead) {
        let now = self.now();
        for (_, job) in ahead.jobs.drain(..) {
            if let Err(e) = self
                .queue
                .store()
                .release_job(&job.row.id, worker, now)
                .await
            {
                tracing::error!(job_id = %job.row.id, error = %e, "could not give back a claimed job; it runs when its lease expires");
            }
        }
        tracing::debug!(worker = %worker, "buffered jobs given back: every slot stayed busy");
    }
}
