//! The HTTP edge: state, one router per area, middleware.
//!
//! Handlers extract, call a `service` / `ingest` function and map the result; they never
//! touch SQL. Every error leaves through `error::ApiError`, including unknown routes and
//! wrong methods, so a client always gets the same JSON error shape.

pub mod analytics;
pub mod api;
pub mod budget;
pub mod error;
pub mod export;
pub mod feed;
pub mod health;
pub mod live_ws;
pub mod metrics;
pub mod openapi;
pub mod runs;
pub mod serve;
pub mod status_page;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Uri};
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::queue::Queue;
use crate::store::Store;
use error::ApiError;

/// What every handler can reach. Cloned for every request (axum's `State`), so it is one
/// `Arc`: cloning the fields themselves cost about twenty reference-count updates per
/// request (2–3% of the server's time under ingest load, by `perf`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub queue: Queue,
    pub ingest: Ingestor,
    /// The scheduler's next firing.
    pub next_sync: watch::Receiver<Option<DateTime<Utc>>>,
    pub started_at: DateTime<Utc>,
    /// Run started/finished notifications (for SSE and the WebSocket).
    pub run_events: crate::sync::RunEvents,
    /// Delivery and ingest notifications (for the WebSocket).
    pub live: crate::live::LiveEvents,
    /// Bytes of webhook bodies held before verification, across all requests.
    pub unverified: Arc<budget::UnverifiedBudget>,
    /// The last refused webhook requests (a bounded ring; see `ingest::rejected`).
    pub rejected: Arc<crate::ingest::rejected::RejectedLog>,
    /// Failed console logins, per name and address (see `auth::limiter`).
    pub logins: Arc<crate::auth::LoginLimiter>,
    /// Cancelled when the server starts shutting down, so endless responses (SSE, MCP
    /// streams) end and graceful shutdown is not held open by them.
    pub shutdown: CancellationToken,
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(api::router())
        .merge(export::router())
        .merge(analytics::router())
        .merge(runs::router())
        .merge(health::router())
        .merge(feed::router())
        .merge(metrics::router())
        .merge(status_page::router())
        .merge(live_ws::router())
        .merge(crate::console::router())
        .merge(openapi::router())
        .merge(crate::mcp::http::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(
            crate::telemetry::MakeRequestUuidV7,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = axum::Json(serde_json::json!({
        "error": "method_not_allowed",
        "message": format!("{method} is not allowed on {}", uri.path()),
    }));
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, body).into_response()
}

/// The router of the separate health listener (`HEALTH_CHECK_PORT`): `/health` only.
pub fn health_router(state: AppState) -> Router {
    health::router()
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}
