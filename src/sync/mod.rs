//! One sync cycle: collect → snapshot → diff → store → export → publish.
//!
//! `sources` fetch, `snapshot` is the normalised model, `exporters` are pure functions of a
//! snapshot and `publishers` deliver the result. This module strings them together and is
//! the production [`JobRunner`]; it holds no database handle of its own beyond `Store` calls.

pub mod snapshot;

use async_trait::async_trait;

use crate::queue::{ClaimedJob, JobError};
use crate::worker::JobRunner;

/// Runs sync jobs.
pub struct SyncRunner {}

#[async_trait]
impl JobRunner for SyncRunner {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        Err(JobError::Permanent(format!(
            "sync cycle for job {} is not built yet",
            job.row.id
        )))
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
