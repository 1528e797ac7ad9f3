//! JSON-RPC framing checks that rmcp leaves to its transports, shared by stdio and HTTP.
//!
//! rmcp drops a line it cannot parse without a word, and routes a standard method whose
//! params do not fit its type to the "custom request" arm, which then answers -32601 as if
//! the method did not exist. A client deserves the JSON-RPC answer instead: -32700 for text
//! that is not JSON, -32600 for JSON that is not a JSON-RPC message, -32602 (naming the
//! field) for a known method with bad params. [`check`] classifies one message; each
//! transport sends the reply its own way and keeps the session open. It never runs a
//! request and never holds state.

// `SetLevelRequestParams`: MCP logging is deprecated (SEP-2577) but still spoken by 2025
// clients, so its params are still checked.
#![allow(deprecated)]

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, CompleteRequestParams,
    GetPromptRequestParams, InitializeRequestParams, JsonRpcMessage, PaginatedRequestParams,
    ReadResourceRequestParams, SetLevelRequestParams, SubscribeRequestParams,
};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// What one inbound message is.
#[derive(Debug)]
pub enum Inbound {
    /// A well-formed message for rmcp.
    Message(Box<ClientJsonRpcMessage>),
    /// A malformed one, and the JSON-RPC error response it gets.
    Reject(Rejection),
}

/// A JSON-RPC error response for a message that never reaches rmcp.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub code: i64,
    /// The full error response, `id` copied from the request where it had a usable one.
    pub response: Value,
}

impl Rejection {
    fn new(id: Value, code: i64, message: String) -> Self {
        Self {
            code,
            response: json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        }
    }
}

/// The answer to a message longer than a transport takes (`max` bytes).
pub fn too_large(max: usize) -> Rejection {
    Rejection::new(
        Value::Null,
        INVALID_REQUEST,
        format!("Invalid Request: message longer than {max} bytes"),
    )
}

/// Classifies one message (a stdio line or an HTTP body).
pub fn check(bytes: &[u8]) -> Inbound {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Inbound::Reject(Rejection::new(
                Value::Null,
                PARSE_ERROR,
                format!("Parse error: {e}"),
            ))
        }
    };
    let id = match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    if value.is_array() {
        return Inbound::Reject(Rejection::new(
            id,
            INVALID_REQUEST,
            "Invalid Request: JSON-RPC batches are not part of MCP since 2025-06-18".into(),
        ));
    }
    let method = value
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let message: ClientJsonRpcMessage = match serde_json::from_value(value.clone()) {
        Ok(m) => m,
        Err(e) => {
            return Inbound::Reject(Rejection::new(
                id,
                INVALID_REQUEST,
                format!("Invalid Request: {e}"),
            ))
        }
    };
    if let JsonRpcMessage::Request(req) = &message {
        if let (ClientRequest::CustomRequest(_), Some(method)) = (&req.request, &method) {
            let params = value.get("params").cloned().unwrap_or(Value::Null);
            if let Some(why) = params_error(method, params) {
                return Inbound::Reject(Rejection::new(
                    id,
                    INVALID_PARAMS,
                    format!("Invalid params for {method}: {why}"),
                ));
            }
        }
    }
    Inbound::Message(Box::new(message))
}

/// Why `params` do not fit standard method `method`; `None` for a method we do not know
/// (rmcp answers those with -32601 itself) or params that do fit.
fn params_error(method: &str, params: Value) -> Option<String> {
    match method {
        "tools/call" => why::<CallToolRequestParams>(params),
        "resources/read" => why::<ReadResourceRequestParams>(params),
        "resources/subscribe" | "resources/unsubscribe" => why::<SubscribeRequestParams>(params),
        "logging/setLevel" => why::<SetLevelRequestParams>(params),
        "initialize" => why::<InitializeRequestParams>(params),
        "prompts/get" => why::<GetPromptRequestParams>(params),
        "completion/complete" => why::<CompleteRequestParams>(params),
        "tools/list" | "resources/list" | "resources/templates/list" | "prompts/list" => {
            why::<PaginatedRequestParams>(params)
        }
        "ping" => Some("params must be absent or an object".into()),
        _ => None,
    }
    // A standard method that reached the custom arm has params rmcp refused even when
    // our own decode accepts them (e.g. `params` missing where required).
    .or_else(|| is_standard(method).then(|| "params do not match the method".to_owned()))
}

/// The error of decoding `params` as `T`, with the path to the offending field.
fn why<T: DeserializeOwned>(params: Value) -> Option<String> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_path_to_error::deserialize::<_, T>(params)
        .err()
        .map(|e| match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("`{path}`: {}", e.inner()),
        })
}

fn is_standard(method: &str) -> bool {
    matches!(
        method,
        "tools/call"
            | "tools/list"
            | "resources/read"
            | "resources/list"
            | "resources/templates/list"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "prompts/get"
            | "prompts/list"
            | "logging/setLevel"
            | "completion/complete"
            | "initialize"
            | "ping"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str) -> Rejection {
        match check(text.as_bytes()) {
            Inbound::Reject(r) => r,
            Inbound::Message(m) => panic!("accepted {text}: {m:?}"),
        }
    }

    #[test]
    fn each_kind_of_bad_message_gets_its_json_rpc_code() {
        let r = rejected("this is not json");
        assert_eq!(r.code, PARSE_ERROR);
        assert_eq!(r.response["id"], Value::Null);
        assert_eq!(rejected(r#"{"id":6}"#).code, INVALID_REQUEST);
        assert_eq!(
            rejected(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).code,
            INVALID_REQUEST
        );

        let r = rejected(
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":"x"}}"#,
        );
        assert_eq!(r.code, INVALID_PARAMS);
        assert_eq!(r.response["id"], 3);
        let message = r.response["error"]["message"].as_str().unwrap();
        assert!(message.contains("arguments"), "{message}");

        let r = rejected(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{}}"#);
        assert_eq!(r.code, INVALID_PARAMS);
        assert_eq!(r.response["id"], "a");
        assert!(r.response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name"));

        let r = rejected(
            r#"{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"loud"}}"#,
        );
        assert_eq!(r.code, INVALID_PARAMS);
        assert!(r.response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("level"));
    }

    #[test]
    fn good_messages_and_unknown_methods_go_to_rmcp() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"helix-sync-status","arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"no/such","params":{}}"#,
        ] {
            assert!(
                matches!(check(text.as_bytes()), Inbound::Message(_)),
                "{text}"
            );
        }
    }
}
