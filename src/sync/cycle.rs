//! The collecting half of a sync cycle (issue 4 builds it): sources → merged snapshot →
//! validation → change summary → exports → `Store::finish_run` (snapshot, cursors,
//! deliveries and publish jobs in one transaction).

use super::SyncDeps;
use crate::queue::{JobError, SyncJob};

/// What a finished cycle reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub run_id: String,
    /// `succeeded`, `partial` or `failed`.
    pub status: String,
}

/// Runs one cycle for `job` (with the queue job's id when run by a worker).
pub async fn run(
    _deps: &SyncDeps,
    _job_id: Option<&str>,
    _job: &SyncJob,
) -> Result<RunOutcome, JobError> {
    Err(JobError::Permanent(
        "the sync cycle is not built yet".into(),
    ))
}
