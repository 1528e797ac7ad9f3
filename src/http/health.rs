//! `GET /health`: is the service able to do its job?
//!
//! The report and its rules live in `service::status`, shared with `GET /api/sync/status`
//! and the MCP status tool; this handler only maps the verdict to 200 or 503. It is also the
//! whole router of the second health listener (`HEALTH_CHECK_PORT`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::service;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> Response {
    let report = service::status(&state).await;
    (
        report.http_status(),
        [(header::CACHE_CONTROL, "no-store")],
        Json(report),
    )
        .into_response()
}
