//! The HTTP edge: its state, one router per area, the error mapping, the accept loop.
//!
//! Handlers extract, call a `service` / `ingest` function and map the result; they never
//! touch SQL and never own the application (that is `service::App`, which the state wraps).
//! Every error leaves through `error::ApiError`, including unknown routes and wrong methods,
//! so a client always gets the same JSON error shape. This module knows nothing of the
//! console or MCP: `startup` mounts them beside it.

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
use tower_http::timeout::TimeoutLayer;

use crate::service::App;
use error::ApiError;

/// What every handler can reach: the application context plus what only the network edge
/// needs. Cloned for every request (axum's `State`), so it is one `Arc`: cloning fields one
/// by one cost about twenty reference-count updates per request (2–3% of the server's time
/// under ingest load, by `perf`). It dereferences to the [`App`], which is what every
/// `service` operation takes.
#[derive(Clone)]
pub struct AppState(Arc<(App, Edge)>);

/// The parts of the state only an HTTP edge has.
pub struct Edge {
    /// Bytes of webhook bodies held before verification, across all requests.
    pub unverified: Arc<budget::UnverifiedBudget>,
    /// The last refused webhook requests (a bounded ring; see `ingest::rejected`).
    pub rejected: crate::ingest::rejected::RejectedLog,
    /// Failed console logins, per name and address (see `auth::limiter`).
    pub logins: crate::auth::LoginLimiter,
}

impl AppState {
    pub fn new(app: App) -> Self {
        let edge = Edge {
            unverified: budget::UnverifiedBudget::new(&app.config.file.http),
            rejected: Default::default(),
            logins: Default::default(),
        };
        Self(Arc::new((app, edge)))
    }

    pub fn app(&self) -> &App {
        &self.0 .0
    }

    pub fn edge(&self) -> &Edge {
        &self.0 .1
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        self.app()
    }
}

/// The HTTP edge's own routes: webhooks, the API, exports, the feed, health, metrics and
/// the status page (startup merges the console and MCP beside them).
pub fn router() -> Router<AppState> {
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
        .merge(openapi::router())
}

/// Every unknown path answers the one JSON error shape.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

/// Every wrong method answers the one JSON error shape.
pub async fn method_not_allowed(method: Method, uri: Uri) -> axum::response::Response {
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
