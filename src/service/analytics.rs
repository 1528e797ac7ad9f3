//! Analytics of a stored run, for the HTTP API (`GET /api/analytics`), the MCP
//! `helix-analytics` tool and the operator console: the same numbers the run's JSON and HTML
//! exports embed, because all of them call `sync::analytics` on the same loaded input.

use super::export::load;
use super::App;
use super::ServiceError;
use crate::sync::analytics::{self, Analytics};
use crate::sync::exporters::{scope, Scope};

/// The analytics of run `run_id` (the newest run with a snapshot when `None`) for `scope`.
pub async fn analytics(
    app: &App,
    run_id: Option<&str>,
    scope: Scope,
) -> Result<Analytics, ServiceError> {
    let loaded = load(app, run_id).await?;
    let input = loaded.input();
    let scoped = scope::apply(&input, scope);
    Ok(analytics::compute(&scoped.input(input.run), scope))
}
