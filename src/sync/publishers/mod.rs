//! Publishers (issue 6 builds them): deliver a stored run to Discord, Notion and the portal
//! feed, each target as its own `publish` job with its own `deliveries` row.

use super::SyncDeps;
use crate::queue::{JobError, PublishJob};

/// Delivers run `job.run_id` to `job.target`, resuming from the delivery row's progress.
pub async fn deliver(_deps: &SyncDeps, job: &PublishJob) -> Result<(), JobError> {
    Err(JobError::Permanent(format!(
        "publisher {} is not built yet",
        job.target
    )))
}
