//! Manual triggers and the bearer token that guards them (and the rest of the API).
//!
//! The token is compared in constant time through [`Secret::matches`]. The request body is
//! optional; when present it names sources and targets, each checked against the known
//! names so a typo is a 400 that lists the valid ones rather than a sync that silently does less.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::IngestError;
use crate::config::Secret;
use crate::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use crate::sync::snapshot::{SOURCE_NAMES, TARGET_NAMES};

/// Checks `Authorization: Bearer <token>`.
pub fn check_bearer(token: Option<&Secret>, headers: &HeaderMap) -> Result<(), IngestError> {
    let token = token.ok_or(IngestError::NotConfigured("HELIX_API_TOKEN"))?;
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(IngestError::Unauthorized)?;
    if token.matches(presented) {
        Ok(())
    } else {
        Err(IngestError::Unauthorized)
    }
}

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
        check_names("sources", &self.sources, &SOURCE_NAMES)?;
        check_names("targets", &self.targets, &TARGET_NAMES)?;
        Ok(JobPayload::Sync(SyncJob {
            scope: SyncScope::Full,
            sources: self.sources,
            targets: self.targets,
            trigger: Trigger::Manual,
        }))
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
    fn bearer_checks() {
        let t = Secret::new("tok");
        let mut h = HeaderMap::new();
        assert!(matches!(
            check_bearer(None, &h),
            Err(IngestError::NotConfigured(_))
        ));
        assert!(matches!(
            check_bearer(Some(&t), &h),
            Err(IngestError::Unauthorized)
        ));
        h.insert("authorization", "Bearer nope".parse().unwrap());
        assert!(matches!(
            check_bearer(Some(&t), &h),
            Err(IngestError::Unauthorized)
        ));
        h.insert("authorization", "Basic tok".parse().unwrap());
        assert!(matches!(
            check_bearer(Some(&t), &h),
            Err(IngestError::Unauthorized)
        ));
        h.insert("authorization", "Bearer tok".parse().unwrap());
        check_bearer(Some(&t), &h).unwrap();
    }

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
