//! The HTTP edge: state, one router per area, middleware.
//!
//! Handlers extract, call a `service` / `ingest` function and map the result; they never
//! touch SQL. Every error leaves through `error::ApiError`, including unknown routes and
//! wrong methods, so a client always gets the same JSON error shape.

pub mod api;
pub mod error;
pub mod export;
pub mod feed;
pub mod health;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Uri};
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::queue::Queue;
use crate::store::Store;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub queue: Queue,
    pub ingest: Ingestor,
    /// The scheduler's next firing.
    pub next_sync: watch::Receiver<Option<DateTime<Utc>>>,
    pub started_at: DateTime<Utc>,
    /// Run started/finished notifications (for SSE).
    pub run_events: crate::sync::RunEvents,
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(api::router())
        .merge(export::router())
        .merge(health::router())
        .merge(feed::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http())
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
