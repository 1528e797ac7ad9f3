//! Producing an export on demand (issue 5 builds it): the API's `GET /api/export/{format}`,
//! the CLI's `export` and the MCP `helix-export` tool all call [`export`].

use super::ServiceError;
use crate::http::AppState;
use crate::sync::exporters::{Artifact, Scope};

/// Exports run `run_id`'s snapshot (the latest run's when `None`) in `format` and `scope`.
pub async fn export(
    _state: &AppState,
    format: &str,
    _scope: Scope,
    _run_id: Option<&str>,
) -> Result<Artifact, ServiceError> {
    Err(ServiceError::BadRequest(format!(
        "format {format:?}: exporters are not built yet"
    )))
}
