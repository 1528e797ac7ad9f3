//! Analytics over HTTP: `GET /api/analytics?scope=&run=` (bearer) answers with the numbers
//! `service::analytics` computes, and `GET /api/schema/analytics.json` (public) serves their
//! JSON Schema. Handlers only decode and encode.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::api::Authorized;
use super::error::ApiError;
use super::AppState;
use crate::service;
use crate::sync::analytics::{Analytics, ANALYTICS_SCHEMA};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/analytics", get(analytics))
        .route("/api/schema/analytics.json", get(schema))
}

#[derive(Deserialize)]
struct AnalyticsQuery {
    scope: Option<String>,
    run: Option<String>,
}

async fn analytics(
    _: Authorized,
    State(state): State<AppState>,
    query: Result<Query<AnalyticsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Analytics>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let scope = service::export::parse_scope(q.scope.as_deref().unwrap_or("full"))?;
    let a = service::analytics::analytics(&state, q.run.as_deref(), scope).await?;
    Ok(Json(a))
}

async fn schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        ANALYTICS_SCHEMA,
    )
}
