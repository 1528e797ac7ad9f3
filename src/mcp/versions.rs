//! The versions and rollback tools, over the same `service` functions as the HTTP API:
//!
//! - `helix-sync-snapshot {run_id}` → the run's stored snapshot (`GET /api/runs/{id}/snapshot`);
//! - `helix-sync-diff {from, to, scope?}` → the change summary between any two runs
//!   (`GET /api/runs/diff`);
//! - `helix-sync-rollback {to}` → publishes run `to`'s state again as a new run
//!   (`POST /api/runs/{id}/rollback`): the caller needs the operator role, and the rollback
//!   is recorded as theirs and in the audit log (on stdio, the local user, as the CLI).

use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    input_schema, output_schema, parse_args, principal, service_error, structured, tool_error,
    ExportScope, HelixMcp,
};
use crate::service::versions::RunRef;
use crate::service::{self, rollback, versions};
use crate::sync::exporters::Scope;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotArgs {
    /// The run whose stored snapshot to return.
    pub run_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    /// The earlier run (any stored run, not only the previous one).
    pub from: String,
    /// The later run.
    pub to: String,
    /// The part of the snapshots to compare (default full).
    pub scope: Option<ExportScope>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// The run whose state to publish again.
    pub to: String,
}

/// A JSON object whose keys vary.
fn object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object" })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DiffOutput {
    pub from: RunRef,
    pub to: RunRef,
    pub scope: String,
    /// The change summary from `from` to `to`.
    #[schemars(schema_with = "object_schema")]
    pub changes: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotOutput {
    pub run_id: String,
    /// The snapshot as stored.
    #[schemars(schema_with = "object_schema")]
    pub snapshot: Value,
}

fn scope(s: Option<ExportScope>) -> Scope {
    match s.unwrap_or_default() {
        ExportScope::Full => Scope::Full,
        ExportScope::Ucf => Scope::Ucf,
        ExportScope::Agents => Scope::Agents,
        ExportScope::Repos => Scope::Repos,
    }
}

#[tool_router(router = versions_router, vis = "pub(super)")]
impl HelixMcp {
    /// A stored run's snapshot.
    #[tool(
        name = "helix-sync-snapshot",
        description = "The full stored snapshot of any past sync run (repositories, UCF app, agents, source statuses), by run id.",
        input_schema = input_schema::<SnapshotArgs>(),
        output_schema = output_schema::<SnapshotOutput>()
    )]
    async fn snapshot(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let args: SnapshotArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        Ok(
            match service::runs::snapshot(&self.app, Some(&args.run_id)).await {
                Ok((run_id, json)) => match serde_json::from_slice(&json) {
                    Ok(snapshot) => structured(&SnapshotOutput { run_id, snapshot }),
                    Err(e) => service_error(service::ServiceError::Internal(e.to_string())),
                },
                Err(e) => service_error(e),
            },
        )
    }

    /// What changed between two runs.
    #[tool(
        name = "helix-sync-diff",
        description = "The change summary between any two stored runs (new commits, issues, PRs, releases, UCF deltas, agent changes), from `from` to `to`; `scope` (full, ucf, agents, repos) narrows it. Runs that cover different repositories are refused with the reason.",
        input_schema = input_schema::<DiffArgs>(),
        output_schema = output_schema::<DiffOutput>()
    )]
    async fn diff(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let args: DiffArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        let d = versions::diff(&self.app, &args.from, &args.to, scope(args.scope)).await;
        Ok(match d {
            Ok(d) => structured(&DiffOutput {
                from: d.from,
                to: d.to,
                scope: d.scope.to_owned(),
                changes: serde_json::to_value(&d.changes).unwrap_or_default(),
            }),
            Err(e) => service_error(e),
        })
    }

    /// Publish an earlier run's state again.
    #[tool(
        name = "helix-sync-rollback",
        description = "Roll back: publish an earlier run's state again (portal feed and latest exports, Notion pages, one Discord message) as a new run with trigger `rollback`. Nothing is deleted, and the rollback can itself be rolled back.",
        input_schema = input_schema::<RollbackArgs>(),
        output_schema = output_schema::<rollback::RollbackOutcome>()
    )]
    async fn rollback(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let args: RollbackArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        let Some(who) = principal(&ctx) else {
            return Ok(tool_error("not authenticated"));
        };
        Ok(match rollback::requested(&self.app, &who, &args.to).await {
            Ok(outcome) => structured(&outcome),
            Err(e) => service_error(e),
        })
    }
}
