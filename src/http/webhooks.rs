//! `POST /webhooks/github`, `POST /webhooks/ritual` and `POST /webhooks/discord`: one
//! handler, [`receive`], for every signature scheme (`ingest::Scheme`).
//!
//! Order matters and is the same for all: configured? → content type → size → signature →
//! parse → commit → answer. Nothing is parsed before it is verified and nothing is answered
//! 2xx before it is committed (`Ingestor::accept`; for a Discord slash command, the Discord
//! front end commits through the service operations and says what to answer). Until the
//! signature is checked, the body's bytes are held on the shared budget of unverified bytes
//! (`budget`); a verified sender is remembered there so that unsigned floods cannot crowd it
//! out.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::{Json, Router};
use serde_json::json;

use super::budget::client_of;
use super::error::ApiError;
use super::AppState;
use crate::ingest::discord::Discord;
use crate::ingest::github::GitHub;
use crate::ingest::ritual::Ritual;
use crate::ingest::{Scheme, Verdict};
use crate::store::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/github", post(receive::<GitHub>))
        .route("/webhooks/ritual", post(receive::<Ritual>))
        .route("/webhooks/discord", post(receive::<Discord>))
}

fn reject(source: &'static str, e: ApiError) -> ApiError {
    metrics::counter!("helix_webhooks_rejected_total", "source" => source, "reason" => e.code())
        .increment(1);
    e
}

/// The client's address as the server recorded it.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// One webhook request of scheme `S`, in the order of the module docs.
async fn receive<S: Scheme>(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client = client_of(peer.as_deref());
    let started = std::time::Instant::now();
    let config = &state.config;
    let budget = &state.edge().unverified;
    let result = async {
        let kind = S::admit(config, &headers)?;
        let (raw, held) = budget.read(client, &headers, body, S::BODY_LIMIT).await?;
        let now = now_ms();
        S::verify(config, &headers, &raw, now)?;
        drop(held);
        budget.trust(client);
        let answer = match S::decode(config, &headers, kind, &raw, now)? {
            Verdict::Reply(body) => (StatusCode::OK, Json(body)),
            Verdict::Store(inbound) => {
                let outcome = state.ingest.accept(inbound).await?;
                let body = json!({"id": outcome.id, "duplicate": outcome.duplicate});
                (StatusCode::ACCEPTED, Json(body))
            }
            Verdict::Interaction(interaction) => {
                let answer = crate::discord::answer(state.app(), interaction).await;
                (StatusCode::OK, Json(answer))
            }
        };
        Ok(answer.into_response())
    }
    .await;
    let claimed = Claimed::of(&headers, S::CLAIMED.0, S::CLAIMED.1);
    finish(&state, S::SOURCE, client, claimed, started, result)
}

/// What a request said about itself before it was verified (for the rejected-request log).
struct Claimed {
    delivery: Option<String>,
    event_type: Option<String>,
    body_bytes: Option<u64>,
}

impl Claimed {
    fn of(headers: &HeaderMap, delivery: Option<&str>, event_type: Option<&str>) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            delivery: delivery.and_then(text),
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
            state
                .edge()
                .rejected
                .push(crate::ingest::rejected::Rejected {
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
