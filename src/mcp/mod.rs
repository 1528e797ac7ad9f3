//! The MCP server: seven tools over the same `service` functions the HTTP API calls.
//!
//! - `helix-sync-trigger {sources?, targets?}` → [`service::trigger`], returns the job id;
//! - `helix-sync-status {}` → [`service::status`], the `/health` report;
//! - `helix-sync-history {limit?}` (1–100, default 10) → [`service::history`];
//! - `helix-export {format, scope?}` → [`service::export::export`], the export text;
//! - `helix-sync-snapshot`, `helix-sync-diff`, `helix-sync-rollback` ([`versions`]).
//!
//! Arguments are checked against the very schema the tool advertises (the `jsonschema`
//! crate), then decoded; a bad argument is a tool result with `isError: true` whose text
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
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::AppState;
use crate::ingest::manual::TriggerRequest;
use crate::ingest::IngestError;
use crate::service::{self, Health, RunView, ServiceError};
use crate::sync::analytics::Analytics;
use crate::sync::exporters::Scope;

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
    /// `utf-8`, or `base64` for a binary artifact (a gzip-compressed JSON export).
    pub encoding: String,
    /// The export itself.
    pub text: String,
}

/// The MCP server over one application state; one value per session.
#[derive(Clone)]
pub struct HelixMcp {
    state: AppState,
    tool_router: ToolRouter<Self>,
    /// What this session subscribed to and its log level.
    session: Arc<notify::Session>,
}

/// A schema as the tools advertise it: JSON Schema 2020-12, subschemas inlined (some
/// clients do not follow `$ref`), nullable fields as `anyOf` branches of one type each
/// ([`single_types`]).
fn schema<T: JsonSchema>(serialize: bool) -> Arc<JsonObject> {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
    });
    let settings = if serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    let schema = settings.into_generator().into_root_schema_for::<T>();
    match serde_json::to_value(schema) {
        Ok(Value::Object(mut o)) => {
            o.values_mut().for_each(single_types);
            Arc::new(o)
        }
        _ => Arc::new(JsonObject::new()),
    }
}

/// Rewrites `{"type": [T, "null"], …}` as `{"anyOf": [{"type": T, …}, {"type": "null"}]}`
/// throughout. Both mean the same; clients that map tool schemas onto a one-type dialect
/// (Gemini's OpenAPI subset, and the inspector's `--strict` check for it) take only the
/// second. Annotations (`description`, `title`, `default`) stay on the outer object.
fn single_types(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(single_types),
        Value::Object(map) => {
            map.values_mut().for_each(single_types);
            let Some(Value::Array(types)) = map.get("type") else {
                return;
            };
            let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            if non_null.len() != 1 || types.len() != 2 {
                return;
            }
            map.remove("type");
            let mut branch = JsonObject::new();
            branch.insert("type".into(), non_null[0].clone());
            let keep = ["description", "title", "default", "$schema"];
            let moved: Vec<String> = map
                .keys()
                .filter(|k| !keep.contains(&k.as_str()))
                .cloned()
                .collect();
            for k in moved {
                if let Some(v) = map.remove(&k) {
                    branch.insert(k, v);
                }
            }
            map.insert(
                "anyOf".into(),
                serde_json::json!([Value::Object(branch), {"type": "null"}]),
            );
        }
        _ => {}
    }
}

pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    schema::<T>(false)
}

pub fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    schema::<T>(true)
}

/// A tool failure the caller can read (`isError: true`).
fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// Checks `args` against `T`'s advertised schema, then decodes them; the error is the
/// message of the tool error, naming the argument.
pub fn parse_args<T: DeserializeOwned + JsonSchema>(args: JsonObject) -> Result<T, String> {
    let schema = Value::Object((*input_schema::<T>()).clone());
    let instance = Value::Object(args);
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| format!("internal error: invalid input schema: {e}"))?;
    // The validator's message for an unexpected key does not name it; say which it is.
    let known = schema["properties"].as_object();
    if let Some(unknown) = instance
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .find(|k| !known.is_some_and(|p| p.contains_key(*k)))
    {
        let valid: Vec<&str> = known
            .into_iter()
            .flat_map(|p| p.keys())
            .map(String::as_str)
            .collect();
        return Err(format!(
            "unknown argument `{unknown}`; valid: {}",
            if valid.is_empty() {
                "none".to_owned()
            } else {
                valid.join(", ")
            }
        ));
    }
    if let Some(e) = validator.iter_errors(&instance).next() {
        let path = e.instance_path().to_string();
        let name = path.trim_start_matches('/');
        return Err(if name.is_empty() {
            format!("invalid arguments: {e}")
        } else {
            format!("invalid argument `{name}`: {e}")
        });
    }
    serde_json::from_value(instance).map_err(|e| format!("invalid arguments: {e}"))
}

/// A success: the value as `structuredContent` and as JSON text.
fn structured<T: Serialize>(value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => tool_error(format!("internal error: {e}")),
    }
}

/// Who called a tool: over HTTP, the principal the `/mcp` guard authenticated; on stdio
/// (no HTTP request at all), the local user who started the process, as the CLI is.
fn principal(ctx: &RequestContext<RoleServer>) -> Option<crate::auth::Principal> {
    match ctx.extensions.get::<axum::http::request::Parts>() {
        Some(parts) => parts.extensions.get::<crate::auth::Principal>().cloned(),
        None => Some(crate::auth::Principal::cli()),
    }
}

/// A service failure as a tool error; our own faults are logged, not shown.
fn service_error(e: ServiceError) -> CallToolResult {
    match e {
        ServiceError::BadRequest(m)
        | ServiceError::NotFound(m)
        | ServiceError::Forbidden(m)
        | ServiceError::Conflict(m) => tool_error(m),
        ServiceError::Ingest(e) => ingest_error(e),
        ServiceError::Store(e) => {
            tracing::error!(error = %e, "mcp tool failed");
            tool_error("internal error (logged)")
        }
        ServiceError::Internal(m) => {
            tracing::error!(error = %m, "mcp tool failed");
            tool_error("internal error (logged)")
        }
    }
}

fn ingest_error(e: IngestError) -> CallToolResult {
    match e {
        IngestError::Store(e) => service_error(ServiceError::Store(e)),
        other => tool_error(other.to_string()),
    }
}

#[tool_router]
impl HelixMcp {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
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
        if let Err(e) = who.require(crate::auth::Role::Operator) {
            return Ok(tool_error(e.to_string()));
        }
        Ok(match service::trigger(&self.state, req).await {
            Ok(job_id) => {
                service::users::audit(&self.state.store, &who, "sync.trigger", &job_id, None).await;
                let note = serde_json::json!({ "event": "sync_queued", "job_id": job_id });
                let _ = self.session.log(LoggingLevel::Info, note).await;
                structured(&TriggerOutput { job_id })
            }
            Err(e) => ingest_error(e),
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
        Ok(structured(&service::status(&self.state).await))
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
            match service::history(&self.state, args.limit.unwrap_or(10)).await {
                Ok(runs) => structured(&HistoryOutput { runs }),
                Err(e) => service_error(ServiceError::Store(e)),
            },
        )
    }

    /// An export of the latest snapshot.
    #[tool(
        name = "helix-export",
        description = "Export the latest snapshot in a format (notion, markdown, json, html) and scope (full, ucf, agents, repos; default full); returns the export text.",
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
        let format_name = match format {
            ExportFormat::Notion => "notion",
            ExportFormat::Markdown => "markdown",
            ExportFormat::Json => "json",
            ExportFormat::Html => "html",
        };
        let artifact =
            match service::export::export(&self.state, format_name, scope.into(), None).await {
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
            match service::analytics::analytics(&self.state, args.run_id.as_deref(), scope).await {
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
        resources::read(&self.state, &request.uri)
            .await
            .map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.subscribe(request.uri);
        self.session.watch(&self.state, context.peer);
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
        self.session.watch(&self.state, context.peer);
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
        notify::listen(&self.state, context).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
