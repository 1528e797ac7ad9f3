//! The MCP server: eight tools over the same `service` functions the HTTP API calls.
//!
//! - `helix-sync-trigger {sources?, targets?}` → [`service::trigger`], returns the job id;
//! - `helix-sync-status {}` → [`service::status`], the `/health` report;
//! - `helix-sync-history {limit?}` (1–100, default 10) → [`service::history`];
//! - `helix-export {format, scope?}` → [`service::export::export`], the export text (base64
//!   for a binary one: a PDF, a gzip-compressed JSON);
//! - `helix-analytics {run?, scope?}` → [`service::analytics::analytics`];
//! - `helix-sync-snapshot`, `helix-sync-diff`, `helix-sync-rollback` ([`versions`]).
//!
//! Arguments are checked against the very schema the tool advertises ([`contract`]), then
//! decoded; a bad argument is a tool result with `isError: true` whose text
//! names the argument — never a protocol error, never a crash. Every success carries
//! `structuredContent` matching the tool's `outputSchema`, plus the same data as text.
//!
//! Resources ([`resources`]) hold the latest export of each format and any run's snapshot
//! and change summary; subscriptions and `logging/setLevel` are per session ([`notify`]).
//! Transports live in [`stdio`] and [`http`], with the JSON-RPC framing checks both share in
//! [`wire`]; this module knows neither. It must never grow logic of its own: anything a tool
//! does, the HTTP API can do through the same function.

// MCP logging (`LoggingLevel`, `logging/setLevel`) is deprecated by SEP-2577, and still
// what the 2025 protocol revisions' clients use; we serve both.
#![allow(deprecated)]

mod contract;
pub mod http;
mod notify;
mod resources;
pub mod stdio;
mod versions;
pub mod wire;

use std::sync::Arc;

use base64::Engine;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, LoggingLevel, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, SetLevelRequestParams,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ingest::manual::TriggerRequest;
use crate::service::App;
use crate::service::{self, Health, RunView, ServiceError};
use crate::sync::analytics::Analytics;
use crate::sync::exporters::Scope;
pub use contract::{input_schema, output_schema, parse_args};
use contract::{principal, service_error, structured, tool_error};

/// `helix-sync-status` takes no argument.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// How many runs to return, newest first (default 10).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

/// Export formats, as `EXPORT_FORMATS` names them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Notion,
    Markdown,
    Json,
    Html,
    // A plain `//` comment: a doc comment would make schemars describe the variants as a
    // `oneOf`, and clients (the PyPI SDK's checks, form builders) read a flat `enum`. The PDF
    // comes back base64-encoded and is absent from a build without the `pdf` feature.
    #[cfg(feature = "pdf")]
    Pdf,
}

impl ExportFormat {
    /// The format's `EXPORT_FORMATS` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Notion => "notion",
            ExportFormat::Markdown => "markdown",
            ExportFormat::Json => "json",
            ExportFormat::Html => "html",
            #[cfg(feature = "pdf")]
            ExportFormat::Pdf => "pdf",
        }
    }
}

/// Which part of the snapshot an export covers.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportScope {
    #[default]
    Full,
    Ucf,
    Agents,
    Repos,
}

impl From<ExportScope> for Scope {
    fn from(s: ExportScope) -> Self {
        match s {
            ExportScope::Full => Scope::Full,
            ExportScope::Ucf => Scope::Ucf,
            ExportScope::Agents => Scope::Agents,
            ExportScope::Repos => Scope::Repos,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsArgs {
    /// The run (default: the newest run with a snapshot).
    pub run_id: Option<String>,
    /// The part to analyse (default full).
    pub scope: Option<ExportScope>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// The export format.
    pub format: ExportFormat,
    /// The part of the snapshot to export (default full).
    pub scope: Option<ExportScope>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TriggerOutput {
    /// The queued sync job (an already queued one when the trigger coalesced).
    pub job_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryOutput {
    /// Newest first.
    pub runs: Vec<RunView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportOutput {
    pub format: ExportFormat,
    pub scope: ExportScope,
    pub content_type: String,
    /// `utf-8`, or `base64` for a binary artifact (a PDF, a gzip-compressed JSON export).
    pub encoding: String,
    /// The export itself.
    pub text: String,
}

/// The MCP server over the application context; one value per session.
#[derive(Clone)]
pub struct HelixMcp {
    app: App,
    tool_router: ToolRouter<Self>,
    /// What this session subscribed to and its log level.
    session: Arc<notify::Session>,
}

#[tool_router]
impl HelixMcp {
    pub fn new(app: App) -> Self {
        Self {
            app,
            tool_router: Self::tool_router() + Self::versions_router(),
            session: Arc::default(),
        }
    }

    /// Queue a sync job now; returns its id.
    #[tool(
        name = "helix-sync-trigger",
        description = "Queue a sync of the Helix ecosystem now. Optional `sources` (github, ucf_state, agent_metrics) and `targets` (discord, notion, portal) limit it; returns the job id.",
        input_schema = input_schema::<TriggerRequest>(),
        output_schema = output_schema::<TriggerOutput>()
    )]
    async fn trigger(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let req: TriggerRequest = match parse_args(args) {
            Ok(r) => r,
            Err(e) => return Ok(tool_error(e)),
        };
        let who = match principal(&ctx) {
            Some(who) => who,
            None => return Ok(tool_error("not authenticated")),
        };
        Ok(match service::trigger(&self.app, &who, req).await {
            Ok(job_id) => {
                let note = serde_json::json!({ "event": "sync_queued", "job_id": job_id });
                let _ = self.session.log(LoggingLevel::Info, note).await;
                structured(&TriggerOutput { job_id })
            }
            Err(e) => service_error(e),
        })
    }

    /// The health and status report.
    #[tool(
        name = "helix-sync-status",
        description = "Health of helix-sync: overall status, last and next sync, each source and target (ok, error, disabled), success rate, last error, queue depth and data freshness.",
        input_schema = input_schema::<StatusArgs>(),
        output_schema = output_schema::<Health>()
    )]
    async fn status(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = parse_args::<StatusArgs>(args) {
            return Ok(tool_error(e));
        }
        Ok(structured(&service::status(&self.app).await))
    }

    /// The last runs, newest first.
    #[tool(
        name = "helix-sync-history",
        description = "The most recent sync runs, newest first: trigger, status, timing, per-source results, change summary, exports and error. `limit` is 1-100 (default 10).",
        input_schema = input_schema::<HistoryArgs>(),
        output_schema = output_schema::<HistoryOutput>()
    )]
    async fn history(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let args: HistoryArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        Ok(
            match service::history(&self.app, args.limit.unwrap_or(10)).await {
                Ok(runs) => structured(&HistoryOutput { runs }),
                Err(e) => service_error(ServiceError::Store(e)),
            },
        )
    }

    /// An export of the latest snapshot.
    #[tool(
        name = "helix-export",
        description = "Export the latest snapshot in a format (notion, markdown, json, html, pdf) and scope (full, ucf, agents, repos; default full); returns the export text, or base64 (`encoding: base64`) for a binary one such as pdf.",
        input_schema = input_schema::<ExportArgs>(),
        output_schema = output_schema::<ExportOutput>()
    )]
    async fn export(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let args: ExportArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        let format = args.format;
        let scope = args.scope.unwrap_or_default();
        let artifact =
            match service::export::export(&self.app, format.as_str(), scope.into(), None).await {
                Ok(a) => a,
                Err(e) => return Ok(service_error(e)),
            };
        let (encoding, text) = match String::from_utf8(artifact.bytes) {
            Ok(t) => ("utf-8", t),
            Err(e) => (
                "base64",
                base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            ),
        };
        let out = ExportOutput {
            format,
            scope,
            content_type: artifact.content_type.to_owned(),
            encoding: encoding.to_owned(),
            text,
        };
        let mut result = structured(&out);
        // The export itself is the useful text for a model; the JSON form stays structured.
        result.content = vec![ContentBlock::text(out.text)];
        Ok(result)
    }

    /// Trends and predictions of a stored run.
    #[tool(
        name = "helix-analytics",
        description = "Trends and predictions of a sync run (default the newest): per UCF metric a moving average, least-squares slope, a forecast of the next run with a 95% prediction interval (labelled kind: prediction) and a robust z-score anomaly flag; per repository commits and pull requests per week; per agent the success-rate trend. `scope`: full, ucf, agents, repos.",
        input_schema = input_schema::<AnalyticsArgs>(),
        output_schema = output_schema::<Analytics>()
    )]
    async fn analytics(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let args: AnalyticsArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(tool_error(e)),
        };
        let scope = args.scope.unwrap_or_default().into();
        Ok(
            match service::analytics::analytics(&self.app, args.run_id.as_deref(), scope).await {
                Ok(a) => structured(&a),
                Err(e) => service_error(e),
            },
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HelixMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("helix-sync", env!("CARGO_PKG_VERSION")).with_title("helix-sync"),
            )
            .with_instructions(
                "Drive and watch helix-sync: trigger a sync, read its health and history, export the latest snapshot. \
                 Resources hold the latest exports and any run's snapshot and change summary.",
            )
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&self.app, &request.uri)
            .await
            .map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.subscribe(request.uri);
        self.session.watch(&self.app, context.peer);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.unsubscribe(&request.uri);
        Ok(())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.set_level(request.level);
        self.session.watch(&self.app, context.peer);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Only resource updates happen here: the tool and resource lists never change.
        let ours: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| resources::Target::parse(u).is_some())
            .cloned()
            .collect();
        let mut accepted = SubscriptionFilter::new();
        accepted.resource_subscriptions = Some(ours);
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        notify::listen(&self.app, context).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
