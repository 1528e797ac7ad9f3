//! Exports over HTTP: `GET /api/export/{format}?scope=&run=` (bearer) answers with the same
//! bytes the CLI writes, and `GET /api/schema/export.json` (public) serves the JSON Schema of
//! the `json` export. Handlers only decode, call `service::export` and set headers.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::api::Authorized;
use super::error::ApiError;
use super::AppState;
use crate::service::export as service;
use crate::sync::exporters::EXPORT_SCHEMA;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/export/{format}", get(export))
        .route("/api/schema/export.json", get(schema))
}

#[derive(Deserialize)]
struct ExportQuery {
    scope: Option<String>,
    run: Option<String>,
}

async fn export(
    _: Authorized,
    State(state): State<AppState>,
    Path(format): Path<String>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let scope = service::parse_scope(q.scope.as_deref().unwrap_or("full"))?;
    let artifact = service::export(&state, &format, scope, q.run.as_deref()).await?;
    let disposition = format!(
        "inline; filename=\"helix_sync_{}.{}\"",
        scope.as_str(),
        artifact.extension
    );
    Ok((
        [
            (header::CONTENT_TYPE, artifact.content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        artifact.bytes,
    )
        .into_response())
}

async fn schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        EXPORT_SCHEMA,
    )
}
