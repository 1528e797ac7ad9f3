//! The bearer-protected JSON API: manual trigger, events, jobs, runs.
//!
//! Any user's API token reads; triggering a sync needs the operator role (see `auth`).

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{read_body, ApiError};
use super::AppState;
use crate::auth::{self, Principal, Role};
use crate::ingest::manual::TriggerRequest;
use crate::service;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sync", post(trigger))
        .route("/api/events/{id}", get(event))
        .route("/api/sync/jobs/{id}", get(job))
        .route("/api/sync/history", get(history))
        .route("/api/sync/status", get(status))
}

/// Who the request's bearer token belongs to (`HELIX_API_TOKEN` or a user's API token);
/// every role may read.
pub struct Authorized(pub Principal);

impl FromRequestParts<AppState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bootstrap = state.config.secrets.api_token.as_ref();
        Ok(Authorized(
            auth::authenticate(&state.store, bootstrap, &parts.headers).await?,
        ))
    }
}

/// Largest trigger body we read.
const TRIGGER_BODY_LIMIT: usize = 64 * 1024;

async fn trigger(
    Authorized(who): Authorized,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    // Checked before the body is read: a viewer's request changes nothing and costs nothing.
    who.require(Role::Operator)?;
    let raw = read_body(&headers, body, TRIGGER_BODY_LIMIT).await?;
    let req = if raw.iter().all(u8::is_ascii_whitespace) {
        TriggerRequest::default()
    } else {
        if !super::error::is_json(&headers) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?
    };
    let job_id = service::trigger(&state, &who, req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"job_id": job_id}))))
}

async fn event(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .store
        .get_event(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event {id}")))?;
    Ok(Json(json!({
        "id": e.id,
        "source": e.source,
        "delivery_id": e.delivery_id,
        "event_type": e.event_type,
        "hook_id": e.hook_id,
        "repo": e.repo,
        "headers": serde_json::from_str::<Value>(&e.headers).unwrap_or(Value::Null),
        "payload": service::events::shown_payload(&e.source, &e.payload).unwrap_or(Value::Null),
        "received_at": crate::timestamp::millis(e.received_at),
        "job_id": e.job_id,
    })))
}

async fn job(
    _: Authorized,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<service::JobDetail>, ApiError> {
    let detail = service::job_detail(&state, &id).await?;
    detail
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<i64>,
}

async fn history(
    _: Authorized,
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    Ok(Json(
        json!({"runs": service::history(&state, limit).await?}),
    ))
}

/// The health report, always 200 (the caller asked for data, not for a probe).
async fn status(_: Authorized, State(state): State<AppState>) -> Json<service::Health> {
    Json(service::status(&state).await)
}
