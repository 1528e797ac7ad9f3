//! `GET /`: a read-only status page, and `GET /api/sync/events`, the Server-Sent Events
//! stream that tells it to refresh.
//!
//! The page is rendered on the server from the same report as `/health` (minijinja, with
//! HTML auto-escaping: every value from the store or an upstream is text, never markup). It
//! loads nothing from anywhere: styles and the few lines of script are inline, allowed by a
//! per-response CSP nonce, and the script only opens the event stream and reloads the page
//! when a run starts or finishes. The stream ends when the server shuts down.

use std::convert::Infallible;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{Stream, StreamExt};
use minijinja::value::Serde;
use minijinja::{context, Environment};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::error::ApiError;
use super::AppState;
use crate::service;
use crate::sync::snapshot::TARGET_NAMES;
use crate::sync::RunEvent;

/// Runs the page lists.
pub const PAGE_RUNS: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/sync/events", get(events))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // The `.html` name turns on HTML auto-escaping.
        env.add_template("status.html", include_str!("templates/status.html"))
            .expect("the status template parses");
        env
    })
}

async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let health = service::status(&state).await;
    // A page that cannot list runs still shows the health verdict (the store may be down).
    let runs = service::status::recent_runs(&state, PAGE_RUNS)
        .await
        .unwrap_or_default();
    let tables = service::status::table_rows(&state)
        .await
        .unwrap_or_default();
    let nonce = uuid::Uuid::now_v7().simple().to_string();
    let html = templates()
        .get_template("status.html")
        .and_then(|t| {
            t.render(context! {
                health => Serde(&health),
                runs => Serde(&runs),
                tables => Serde(&tables),
                targets => TARGET_NAMES,
                nonce => &nonce,
            })
        })
        .map_err(|e| ApiError::Internal(format!("rendering the status page: {e:#}")))?;
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    Ok((
        super::health::status_code(&health),
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Html(html),
    )
        .into_response())
}

/// The SSE name of a run event (the WebSocket uses the same names).
pub fn event_name(e: &RunEvent) -> &'static str {
    match e {
        RunEvent::Started { .. } => "run_started",
        RunEvent::Finished { .. } => "run_finished",
    }
}

async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.run_events.subscribe())
        .map(|item| {
            Ok(match item {
                Ok(e) => Event::default()
                    .event(event_name(&e))
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().event(event_name(&e))),
                // A slow reader missed events: tell it to refresh anyway.
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    Event::default().event("lagged").data(n.to_string())
                }
            })
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::default())
}
