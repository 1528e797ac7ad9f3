//! Versions and rollback over HTTP (bearer): `GET /api/runs/{id}` (the run record, with its
//! rollback facts and flagged Notion conflicts), `GET /api/runs/{id}/snapshot` (the stored
//! snapshot, exactly as stored), `GET /api/runs/diff?from=&to=&scope=` (the change summary
//! between any two runs) and `POST /api/runs/{id}/rollback` (operator: publish that run's
//! state again). Handlers only decode, call `service` and encode.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::api::Authorized;
use super::error::ApiError;
use super::AppState;
use crate::service::{self, export::parse_scope, rollback, versions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/runs/diff", get(diff))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/snapshot", get(snapshot))
        .route("/api/runs/{id}/rollback", post(roll_back))
}

async fn run(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<versions::RunRecord>, ApiError> {
    Ok(Json(versions::record(&state, &id).await?))
}

async fn snapshot(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, json) = service::runs::snapshot(&state, Some(&id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json,
    )
        .into_response())
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
    scope: Option<String>,
}

async fn diff(
    _: Authorized,
    State(state): State<AppState>,
    query: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<versions::Diff>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (Some(from), Some(to)) = (q.from, q.to) else {
        return Err(ApiError::BadRequest(
            "both `from` and `to` run ids are required".into(),
        ));
    };
    let scope = parse_scope(q.scope.as_deref().unwrap_or("full"))?;
    Ok(Json(versions::diff(&state, &from, &to, scope).await?))
}

async fn roll_back(
    Authorized(who): Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let outcome = rollback::requested(&state, &who, &id).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}
