//! MCP Streamable HTTP at `/mcp` on the main port.
//!
//! In front of rmcp's `StreamableHttpService` (stateful sessions, kept in memory) sit two
//! checks, in this order: the `Origin` header, when present, must be a loopback origin or
//! the origin of `HELIX_PUBLIC_URL` (the MCP spec's defence against DNS rebinding: a
//! browser page on another site must not reach a local server); then `Authorization: Bearer
//! $HELIX_API_TOKEN` (401 with `WWW-Authenticate: Bearer` otherwise, 503 when no token is
//! configured). Event streams are cut when the server shuts down so they cannot hold the
//! graceful shutdown open.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::HelixMcp;
use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::ingest::manual::check_bearer;

/// A session nobody used for this long is closed (clients that never send DELETE).
const SESSION_IDLE: Duration = Duration::from_secs(3600);

/// The `/mcp` route, guarded. Sessions hold the application state, so they are all closed
/// when the server shuts down (or the shutdown would wait on them forever).
pub fn router(state: &AppState) -> Router<AppState> {
    let for_sessions = state.clone();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(SESSION_IDLE);
    let service = StreamableHttpService::new(
        move || Ok(HelixMcp::new(for_sessions.clone())),
        Arc::new(sessions),
        StreamableHttpServerConfig::default()
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            .with_legacy_session_mode(true)
            // Our guard checks Origin and the bearer token; the Host header of a deployment
            // behind a proxy is whatever the proxy says, so rmcp's loopback-only default
            // would refuse every real client.
            .disable_allowed_hosts()
            .with_cancellation_token(state.shutdown.child_token()),
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
}

async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, &state.config) {
            tracing::warn!(origin, "MCP request refused: origin not allowed");
            return ApiError::Forbidden(format!("origin {origin:?} is not allowed"))
                .into_response();
        }
    }
    if let Err(e) = check_bearer(state.config.secrets.api_token.as_ref(), req.headers()) {
        return ApiError::from(e).into_response();
    }
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

/// Loopback origins (any port) and the public URL's origin.
pub fn origin_allowed(origin: &str, config: &Config) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    loopback
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
            m.insert("HELIX_CONFIG".into(), "/nonexistent.json".into());
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
