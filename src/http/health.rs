//! `GET /health`: is the service able to do its job?

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let store_ok = state.store.ping().await;
    let status = if store_ok { "healthy" } else { "unhealthy" };
    let code = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let next_sync = *state.next_sync.borrow();
    (
        code,
        Json(
            json!({"status": status, "version": env!("CARGO_PKG_VERSION"), "next_sync": next_sync}),
        ),
    )
}
