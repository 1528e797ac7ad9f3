//! `POST /webhooks/github` and `POST /webhooks/ritual`.
//!
//! Order matters and is the same for both: configured? → content type → size → signature →
//! parse → commit → answer. Nothing is parsed before it is verified and nothing is answered
//! 2xx before it is committed. Until the signature is checked, the body's bytes are held on
//! the shared budget of unverified bytes (`budget`); a verified sender is remembered there so
//! that unsigned floods cannot crowd it out.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::budget::client_of;
use super::error::ApiError;
use super::AppState;
use crate::ingest::{github, ritual, IngestError};
use crate::store::{now_ms, Compressed, NewEvent};

/// GitHub caps webhook payloads at 25 MB.
pub const GITHUB_BODY_LIMIT: usize = 25 * 1024 * 1024;
/// Ritual events are small documents.
pub const RITUAL_BODY_LIMIT: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/github", post(github_webhook))
        .route("/webhooks/ritual", post(ritual_webhook))
}

fn accepted(outcome: &crate::store::IngestOutcome) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({"id": outcome.id, "duplicate": outcome.duplicate})),
    )
        .into_response()
}

fn reject(source: &'static str, e: ApiError) -> ApiError {
    metrics::counter!("helix_webhooks_rejected_total", "source" => source, "reason" => e.code())
        .increment(1);
    e
}

/// The client's address as the server recorded it.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

async fn github_webhook(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client = client_of(peer.as_deref());
    let started = std::time::Instant::now();
    let secrets = &state.config.secrets.github_webhook;
    let result = async {
        if secrets.is_empty() {
            return Err(IngestError::NotConfigured("GITHUB_WEBHOOK_SECRET").into());
        }
        let kind = github::body_kind(&headers)?;
        let (raw, held) = (state.unverified)
            .read(client, &headers, body, GITHUB_BODY_LIMIT)
            .await?;
        let sig = headers
            .get(github::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        github::verify_signature(secrets, &raw, sig)?;
        drop(held);
        state.unverified.trust(client);
        let delivery = github::decode(&headers, kind, &raw)?;
        if delivery.event == "ping" {
            let zen = delivery.payload.zen.clone();
            return Ok((
                StatusCode::OK,
                Json(json!({"zen": zen, "hook_id": delivery.hook_id})),
            )
                .into_response());
        }
        let route = github::route(&delivery, &state.config.file.sync_schedule);
        let mut kept = delivery.headers;
        if let Some(flag) = route.default_branch {
            kept.insert("default_branch".into(), Value::Bool(flag));
        }
        let event = NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            source: "github",
            delivery_id: delivery.delivery_id,
            event_type: delivery.event,
            hook_id: delivery.hook_id,
            repo: route.repo,
            headers: Value::Object(kept).to_string(),
            payload: delivery.document,
            received_at: now_ms(),
            job: None,
        };
        let outcome = state.ingest.submit(event, route.job).await?;
        Ok(accepted(&outcome))
    }
    .await;
    let claimed = Claimed::of(&headers, "x-github-delivery", Some("x-github-event"));
    finish(&state, "github", client, claimed, started, result)
}

async fn ritual_webhook(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client = client_of(peer.as_deref());
    let started = std::time::Instant::now();
    let keys = &state.config.secrets.ritual_webhook;
    let result = async {
        if keys.is_empty() {
            return Err(IngestError::NotConfigured("RITUAL_WEBHOOK_SECRET").into());
        }
        if !super::error::is_json(&headers) {
            let ct = super::error::content_type(&headers).to_owned();
            return Err(IngestError::UnsupportedMediaType(ct).into());
        }
        let (raw, held) = (state.unverified)
            .read(client, &headers, body, RITUAL_BODY_LIMIT)
            .await?;
        let now = now_ms();
        let id = ritual::verify(keys, &headers, &raw, now / 1000)?;
        drop(held);
        state.unverified.trust(client);
        let envelope = ritual::decode(&raw)?;
        let job = ritual::route(&envelope, &state.config.file.sync_schedule);
        let event = NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            source: "ritual",
            delivery_id: id,
            event_type: envelope.event_type,
            hook_id: None,
            repo: None,
            headers: Value::Object(crate::ingest::keep_headers(
                &headers,
                &["webhook-id", "webhook-timestamp", "user-agent"],
            ))
            .to_string(),
            payload: std::str::from_utf8(&raw)
                .map(Compressed::new)
                .map_err(|_| IngestError::BadRequest("body is not UTF-8".into()))?,
            received_at: now,
            job: None,
        };
        let outcome = state.ingest.submit(event, job).await?;
        Ok(accepted(&outcome))
    }
    .await;
    let claimed = Claimed::of(&headers, "webhook-id", None);
    finish(&state, "ritual", client, claimed, started, result)
}

/// What a request said about itself before it was verified (for the rejected-request log).
struct Claimed {
    delivery: Option<String>,
    event_type: Option<String>,
    body_bytes: Option<u64>,
}

impl Claimed {
    fn of(headers: &HeaderMap, delivery: &str, event_type: Option<&str>) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            delivery: text(delivery),
            event_type: event_type.and_then(text),
            body_bytes: super::error::declared_length(headers),
        }
    }
}

/// Counts and times one webhook request, whatever its outcome; a refused one goes to the
/// rejected-request log too.
fn finish(
    state: &AppState,
    source: &'static str,
    client: std::net::IpAddr,
    claimed: Claimed,
    started: std::time::Instant,
    result: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    metrics::histogram!("helix_ingest_latency_seconds", "source" => source)
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(r) => {
            metrics::counter!("helix_webhooks_received_total", "source" => source).increment(1);
            Ok(r)
        }
        Err(e) => {
            state.rejected.push(crate::ingest::rejected::Rejected {
                at: now_ms(),
                source: source.to_owned(),
                client: (!client.is_unspecified()).then_some(client),
                claimed_delivery: claimed.delivery,
                event_type: claimed.event_type,
                code: e.code().to_owned(),
                reason: e.to_string(),
                body_bytes: claimed.body_bytes,
            });
            Err(reject(source, e))
        }
    }
}
