//! What an MCP tool accepts and answers, shared by every tool: the schemas it advertises,
//! the check of its arguments against the very schema it advertises (the `jsonschema` crate),
//! its structured results, and its errors. A bad argument or a refused request is a tool
//! result with `isError: true`, never a protocol error; our own faults are logged and shown
//! only as "internal error (logged)".

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::service::{RequestContext, RoleServer};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::ingest::IngestError;
use crate::service::ServiceError;

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
pub(super) fn tool_error(message: impl Into<String>) -> CallToolResult {
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
pub(super) fn structured<T: Serialize>(value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => tool_error(format!("internal error: {e}")),
    }
}

/// Who called a tool: over HTTP, the principal the `/mcp` guard authenticated; on stdio
/// (no HTTP request at all), the local user who started the process, as the CLI is.
pub(super) fn principal(ctx: &RequestContext<RoleServer>) -> Option<crate::auth::Principal> {
    match ctx.extensions.get::<axum::http::request::Parts>() {
        Some(parts) => parts.extensions.get::<crate::auth::Principal>().cloned(),
        None => Some(crate::auth::Principal::cli()),
    }
}

/// A service failure as a tool error; our own faults are logged, not shown.
pub(super) fn service_error(e: ServiceError) -> CallToolResult {
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

pub(super) fn ingest_error(e: IngestError) -> CallToolResult {
    match e {
        IngestError::Store(e) => service_error(ServiceError::Store(e)),
        other => tool_error(other.to_string()),
    }
}
