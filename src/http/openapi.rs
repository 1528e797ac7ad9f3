//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every route.
//!
//! The document is hand-kept in `openapi.json` at the repository root and compiled in; the
//! `openapi` integration test fails when a route exists that the file does not describe, or
//! the file describes one the router does not answer.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;

/// The document, as shipped.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
