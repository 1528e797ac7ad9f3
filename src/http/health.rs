//! `GET /health`: is the service able to do its job?
//!
//! The report and its rules live in `service::status`, shared with `GET /api/sync/status`
//! and the MCP status tool; this handler only maps the verdict to 200 or 503. It is also the
//! whole router of the second health listener (`HEALTH_CHECK_PORT`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::service::{self, status::HealthStatus};

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> Response {
    let report = service::status(&state).await;
    (
        status_code(&report),
        [(header::CACHE_CONTROL, "no-store")],
        Json(report),
    )
        .into_response()
}

/// 503 when unhealthy, 200 otherwise: a probe asks "can it do its job?", and a degraded
/// service still can.
pub fn status_code(report: &service::Health) -> StatusCode {
    match report.status {
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        HealthStatus::Healthy | HealthStatus::Degraded => StatusCode::OK,
    }
}
