//! MCP Streamable HTTP at `/mcp` on the main port, and its RFC 9728 metadata.
//!
//! In front of rmcp's `StreamableHttpService` (stateful sessions, kept in memory) sit these
//! checks, in this order:
//! 1. `Host` must be loopback, the host of `HELIX_PUBLIC_URL`, or one listed in
//!    `HELIX_MCP_ALLOWED_HOSTS`; `Origin`, when present, a loopback origin or the public
//!    URL's (the MCP spec's defence against DNS rebinding). 403 otherwise.
//! 2. `Authorization: Bearer` with `$HELIX_API_TOKEN` or a user's API token (`auth`; the
//!    principal rides along in the request's extensions for the tools' role checks): 401 otherwise, with `WWW-Authenticate:
//!    Bearer resource_metadata="…"` pointing at `/.well-known/oauth-protected-resource/mcp`,
//!    which says a bearer token in the header is the only way in (no OAuth server), so a
//!    client asks its user for the token instead of starting an OAuth flow. 503 when no
//!    token is configured.
//! 3. `DELETE` ends a session here (204, or 404 for an unknown one); rmcp's 202 made
//!    clients report a failed termination.
//! 4. A JSON `POST` body passes [`wire::check`]: not JSON → 400 with -32700, not JSON-RPC
//!    → 400 with -32600, a standard method with bad params → its -32602 error; the session
//!    stays open.
//!
//! An unknown or ended `Mcp-Session-Id` is 404 (rmcp), which tells a client to start a new
//! session. Event streams are cut when the server shuts down so they cannot hold the
//! graceful shutdown open.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use rmcp::transport::common::server_side_http::SessionId;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

use super::wire::{self, Inbound};
use super::HelixMcp;
use crate::config::Config;
use crate::http::error::ApiError;
use crate::service::App;

/// A session nobody used for this long is closed (clients that never send DELETE).
const SESSION_IDLE: Duration = Duration::from_secs(3600);
/// Largest JSON-RPC body taken; requests are small, and this bounds what a body check holds.
const MAX_BODY: usize = 4 * 1024 * 1024;
const SESSION_HEADER: &str = "mcp-session-id";
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// What the guard and the metadata answer read: the application and the sessions.
#[derive(Clone)]
struct Guard {
    app: App,
    sessions: Arc<LocalSessionManager>,
}

/// The `/mcp` route, guarded, and the protected-resource metadata, over `app` (whatever the
/// state of the router it is merged into).
pub fn router<S: Clone + Send + Sync + 'static>(app: &App) -> Router<S> {
    let for_sessions = app.clone();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(SESSION_IDLE);
    let sessions = Arc::new(sessions);
    let service = StreamableHttpService::new(
        move || Ok(HelixMcp::new(for_sessions.clone())),
        sessions.clone(),
        StreamableHttpServerConfig::default()
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            .with_legacy_session_mode(true)
            .with_max_request_body_bytes(MAX_BODY)
            // The guard checks Host and Origin itself, against the configured public URL.
            .disable_allowed_hosts()
            .with_cancellation_token(app.shutdown.child_token()),
    );
    let guard = Guard {
        app: app.clone(),
        sessions,
    };
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(guard.clone(), guard_mcp))
        .route(METADATA_PATH, get(metadata))
        .route(&format!("{METADATA_PATH}/mcp"), get(metadata))
        .with_state(guard)
}

async fn guard_mcp(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let state = &guard.app;
    if let Err(refused) = check_host_and_origin(req.headers(), &state.config) {
        tracing::warn!(reason = %refused, "MCP request refused");
        return ApiError::Forbidden(refused).into_response();
    }
    let bootstrap = state.config.secrets.api_token.as_ref();
    let who = crate::auth::authenticate(&state.store, bootstrap, req.headers()).await;
    let mut req = req;
    if let Ok(who) = &who {
        // The tools read it (through rmcp's copy of the request parts) to check the role.
        req.extensions_mut().insert(who.clone());
    }
    if let Err(e) = who {
        let unauthorized = matches!(e, crate::auth::AuthError::Unauthorized);
        let mut res = ApiError::from(e).into_response();
        if unauthorized {
            let challenge = format!(
                "Bearer resource_metadata=\"{}{METADATA_PATH}/mcp\"",
                base_url(req.headers(), &state.config)
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        return res;
    }
    let req = match *req.method() {
        Method::DELETE => return end_session(&guard.sessions, req.headers()).await,
        Method::POST if is_json(req.headers()) => match checked_body(&guard.sessions, req).await {
            Ok(req) => req,
            Err(res) => return res,
        },
        _ => req,
    };
    let res = next.run(req).await;
    let streaming = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if !streaming {
        return res;
    }
    let (parts, body) = res.into_parts();
    let stream = body
        .into_data_stream()
        .take_until(state.shutdown.clone().cancelled_owned());
    Response::from_parts(parts, Body::from_stream(stream))
}

/// `DELETE /mcp`: 204 when the session existed and is now closed, 404 when it did not.
async fn end_session(sessions: &LocalSessionManager, headers: &HeaderMap) -> Response {
    let Some(id) = session_id(headers) else {
        return ApiError::BadRequest(format!("DELETE needs the {SESSION_HEADER} header"))
            .into_response();
    };
    if !sessions.has_session(&id).await.unwrap_or(false) {
        return ApiError::NotFound("no such MCP session (it ended or never existed)".into())
            .into_response();
    }
    if let Err(e) = sessions.close_session(&id).await {
        tracing::warn!(error = %e, "closing an MCP session failed");
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Reads a JSON body (bounded) and answers a malformed message itself; a good one is put
/// back into the request for rmcp.
async fn checked_body(sessions: &LocalSessionManager, req: Request) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::PayloadTooLarge(format!("an MCP message is at most {MAX_BODY} bytes"))
            .into_response()
    })?;
    if let Inbound::Reject(r) = wire::check(&bytes) {
        // Bad params in an unknown session: the session's 404 is the more useful answer.
        let known = match session_id(&parts.headers) {
            Some(id) => sessions.has_session(&id).await.unwrap_or(false),
            None => true,
        };
        if r.code != wire::INVALID_PARAMS || known {
            let status = if r.code == wire::INVALID_PARAMS {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err((status, Json(r.response)).into_response());
        }
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn session_id(headers: &HeaderMap) -> Option<SessionId> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| SessionId::from(s.to_owned()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// RFC 9728 protected-resource metadata: the resource, and that a bearer token in the
/// `Authorization` header is how to reach it. No `authorization_servers`: there is no OAuth
/// server to discover, the token comes from the operator (`HELIX_API_TOKEN`).
async fn metadata(State(guard): State<Guard>, headers: HeaderMap) -> Response {
    let base = base_url(&headers, &guard.app.config);
    let body = json!({
        "resource": format!("{base}/mcp"),
        "resource_name": "helix-sync MCP server",
        "bearer_methods_supported": ["header"],
        "resource_documentation": format!("{base}/api/openapi.json"),
    });
    ([(header::CACHE_CONTROL, "max-age=3600")], Json(body)).into_response()
}

/// The URL clients reach us at: `HELIX_PUBLIC_URL` when set, else the request's own host.
fn base_url(headers: &HeaderMap, config: &Config) -> String {
    if let Some(public) = config.public_url.as_deref() {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The DNS-rebinding checks: a browser page on another site must not reach a local server.
fn check_host_and_origin(headers: &HeaderMap, config: &Config) -> Result<(), String> {
    if let Some(host) = headers.get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !host_allowed(host, config) {
            return Err(format!(
                "host {host:?} is not allowed (loopback, HELIX_PUBLIC_URL's host or HELIX_MCP_ALLOWED_HOSTS)"
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, config) {
            return Err(format!("origin {origin:?} is not allowed"));
        }
    }
    Ok(())
}

fn is_loopback(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A `Host` header (name and optional port): loopback, the public URL's host, or listed.
pub fn host_allowed(host: &str, config: &Config) -> bool {
    let Ok(url) = url::Url::parse(&format!("http://{host}")) else {
        return false;
    };
    if url.path() != "/" || url.username() != "" {
        return false;
    }
    let name = url
        .host_str()
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']');
    is_loopback(url.host())
        || config
            .public_url
            .as_deref()
            .and_then(|p| url::Url::parse(p).ok())
            .is_some_and(|p| p.host_str().is_some_and(|h| h.eq_ignore_ascii_case(name)))
        || config
            .mcp_allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name) || h.eq_ignore_ascii_case(host))
}

/// Loopback origins (any port) and the public URL's origin.
pub fn origin_allowed(origin: &str, config: &Config) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    is_loopback(url.host())
        || config
            .public_url
            .as_deref()
            .and_then(|p| url::Url::parse(p).ok())
            .is_some_and(|p| p.origin() == url.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_the_public_origin_pass() {
        let env = |extra: &[(&str, &str)]| {
            let mut m: std::collections::HashMap<String, String> = extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            m.insert(
                "HELIX_CONFIG".into(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json").into(),
            );
            Config::load(&m).unwrap()
        };
        let c = env(&[("HELIX_PUBLIC_URL", "https://sync.example.org/base")]);
        for ok in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "http://[::1]:3000",
            "https://sync.example.org",
        ] {
            assert!(origin_allowed(ok, &c), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "https://sync.example.org:8443",
            "http://sync.example.org",
            "null",
            "file://",
            "http://localhost.evil.example",
        ] {
            assert!(!origin_allowed(bad, &c), "{bad}");
        }
        assert!(!origin_allowed("https://sync.example.org", &env(&[])));
    }
}
