//! Manual triggers (who may trigger is `auth`'s business). The request body is
//! optional; when present it names sources and targets, each checked against the known
//! names so a typo is a 400 that lists the valid ones rather than a sync that silently does less.

use serde::Deserialize;

use super::IngestError;
use crate::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use crate::sync::snapshot::{SOURCE_NAMES, TARGET_NAMES};

/// Body of `POST /api/sync` and of the MCP trigger tool.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// Sources to collect (default: all enabled): github, ucf_state, agent_metrics.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Targets to publish to (default: all enabled): discord, notion, portal.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
}

impl TriggerRequest {
    /// Validates the names and builds the job.
    pub fn into_job(self) -> Result<JobPayload, IngestError> {
        self.into_sync(Trigger::Manual).map(JobPayload::Sync)
    }

    /// Validates the names and builds the full sync they ask for, asked for by `trigger`.
    pub fn into_sync(self, trigger: Trigger) -> Result<SyncJob, IngestError> {
        check_names("sources", &self.sources, &SOURCE_NAMES)?;
        check_names("targets", &self.targets, &TARGET_NAMES)?;
        Ok(SyncJob {
            scope: SyncScope::Full,
            sources: self.sources,
            targets: self.targets,
            trigger,
        })
    }
}

fn check_names(
    field: &str,
    names: &Option<Vec<String>>,
    valid: &[&str],
) -> Result<(), IngestError> {
    for n in names.iter().flatten() {
        if !valid.contains(&n.as_str()) {
            return Err(IngestError::BadRequest(format!(
                "unknown {field} entry {n:?}; valid: {}",
                valid.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let r = TriggerRequest {
            sources: Some(vec!["gitlab".into()]),
            targets: None,
        };
        let err = r.into_job().unwrap_err().to_string();
        assert!(
            err.contains("gitlab") && err.contains("github, ucf_state, agent_metrics"),
            "{err}"
        );
    }
}
