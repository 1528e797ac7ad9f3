//! `GET /api/sync/ws`: the live events over a WebSocket, beside the SSE stream at
//! `GET /api/sync/events`.
//!
//! The caller is checked *before* the upgrade, so a refused client gets the usual JSON 401
//! and never a socket: a bearer token (the same [`Authorized`] extractor as every `/api/*`
//! route), or, for a browser, which cannot set headers on a WebSocket, a console session
//! cookie — taken only from a page of our own origin (the `Origin` a browser sends must name
//! our `Host`), so another site cannot open a socket with a visitor's session. A client starts subscribed to `runs` (the SSE stream's events, with the same names
//! and data) and changes its topics (`runs`, `deliveries`, `events`) with JSON messages:
//! `{"action": "subscribe" | "unsubscribe", "topics": [...]}`; every change is answered with
//! the full set. The server pings every `HELIX_WS_PING_SECS`; a client that has sent nothing
//! (no pong, no message) since the previous ping is closed, and so is one that does not take
//! a message within that time (every send is bounded), so a dead peer never holds a task or
//! the broadcast buffers. Shutdown closes every socket with 1001.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::api::Authorized;
use super::error::ApiError;
use super::status_page::event_name;
use super::AppState;
use crate::auth;
use crate::store::now_ms;

/// The topics a client can subscribe to, in the order the server lists them.
pub const TOPICS: [&str; 3] = ["runs", "deliveries", "events"];

/// Largest message a client may send (a subscription is a few dozen bytes).
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/sync/ws", get(upgrade))
}

/// Someone who may watch: any role, by bearer token or console session (see the module docs).
struct Watcher;

impl FromRequestParts<AppState> for Watcher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session =
            auth::cookie::cookie(&parts.headers, auth::cookie::cookie_name(&state.config));
        if let (None, Some(cookie)) = (auth::bearer::presented(&parts.headers), session) {
            if same_origin(&parts.headers)
                && auth::session::find(&state.store, cookie, now_ms())
                    .await?
                    .is_some()
            {
                return Ok(Watcher);
            }
        }
        Authorized::from_request_parts(parts, state).await?;
        Ok(Watcher)
    }
}

/// Whether the request's `Origin` (when it has one) is our own `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

async fn upgrade(
    _: Watcher,
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected a WebSocket upgrade request: {}",
            e.body_text()
        ))
    })?;
    let ping = Duration::from_secs(state.config.ws_ping_secs);
    Ok(ws
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, state, ping)))
}

/// A client's message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Command {
    action: String,
    topics: Vec<String>,
}

/// Why a connection ends from our side.
enum End {
    /// The peer went away or broke the protocol: nothing more to say.
    Gone,
    Close(u16, &'static str),
}

struct Connection {
    socket: WebSocket,
    topics: BTreeSet<&'static str>,
    /// The longest a send may take.
    patience: Duration,
}

impl Connection {
    async fn send(&mut self, value: Value) -> Result<(), End> {
        self.send_message(Message::Text(value.to_string().into()))
            .await
    }

    async fn send_message(&mut self, m: Message) -> Result<(), End> {
        match tokio::time::timeout(self.patience, self.socket.send(m)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    fn subscribed(&self) -> Value {
        json!({"type": "subscribed", "topics": self.topics})
    }

    /// Applies a client message; returns the answer.
    fn command(&mut self, text: &str) -> Value {
        let error =
            |message: String| json!({"type": "error", "error": "bad_request", "message": message});
        let cmd: Command = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                return error(format!(
                    "expected {{\"action\": \"subscribe\"|\"unsubscribe\", \"topics\": [...]}}: {e}"
                ))
            }
        };
        let mut topics = Vec::new();
        for t in &cmd.topics {
            match TOPICS.iter().find(|k| **k == t.as_str()) {
                Some(k) => topics.push(*k),
                None => return error(format!("unknown topic {t:?}; valid: {}", TOPICS.join(", "))),
            }
        }
        match cmd.action.as_str() {
            "subscribe" => self.topics.extend(topics),
            "unsubscribe" => topics.iter().for_each(|t| {
                self.topics.remove(t);
            }),
            other => {
                return error(format!(
                    "unknown action {other:?}; valid: subscribe, unsubscribe"
                ))
            }
        }
        self.subscribed()
    }

    /// Forwards one bus item when its topic is subscribed.
    async fn forward(
        &mut self,
        topic: &'static str,
        item: Result<(&'static str, Value), RecvError>,
    ) -> Result<(), End> {
        match item {
            Ok((name, data)) if self.topics.contains(topic) => {
                self.send(json!({"type": "event", "topic": topic, "event": name, "data": data}))
                    .await
            }
            Ok(_) => Ok(()),
            // A slow reader missed events: say how many, like the SSE stream's `lagged`.
            Err(RecvError::Lagged(n)) if self.topics.contains(topic) => {
                self.send(json!({"type": "lagged", "topic": topic, "missed": n}))
                    .await
            }
            Err(RecvError::Lagged(_)) => Ok(()),
            Err(RecvError::Closed) => Err(End::Close(1001, "server shutting down")),
        }
    }
}

/// Whether a receive failed because the client's message or frame exceeded our limit.
fn too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

async fn serve(socket: WebSocket, state: AppState, ping: Duration) {
    let mut conn = Connection {
        socket,
        topics: BTreeSet::from(["runs"]),
        patience: ping,
    };
    let end = run(&mut conn, &state, ping).await;
    if let Err(End::Close(code, reason)) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = conn.send_message(Message::Close(Some(frame))).await;
    }
}

async fn run(conn: &mut Connection, state: &AppState, ping: Duration) -> Result<(), End> {
    let mut runs = state.run_events.subscribe();
    let mut live = state.live.subscribe();
    let shutdown = state.shutdown.clone();
    let hello = json!({"type": "hello", "topics": TOPICS, "subscribed": conn.topics, "ping_interval_secs": ping.as_secs()});
    conn.send(hello).await?;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    // Set when a ping goes out, cleared by anything the client sends.
    let mut waiting = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Err(End::Close(1001, "server shutting down")),
            _ = ticker.tick() => {
                if waiting {
                    return Err(End::Close(1008, "no pong since the last ping"));
                }
                waiting = true;
                conn.send_message(Message::Ping(Default::default())).await?;
            }
            msg = conn.socket.recv() => {
                waiting = false;
                match msg {
                    None | Some(Ok(Message::Close(_))) => return Err(End::Gone),
                    // A message over the limit: say so with the protocol's own code (1009)
                    // instead of dropping the connection (which a client sees as 1006).
                    Some(Err(e)) if too_big(&e) => {
                        return Err(End::Close(1009, "message too big: at most 16 KiB"));
                    }
                    Some(Err(_)) => return Err(End::Gone),
                    Some(Ok(Message::Text(text))) => {
                        let answer = conn.command(&text);
                        conn.send(answer).await?;
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let e = json!({"type": "error", "error": "unsupported_media_type", "message": "send JSON text messages"});
                        conn.send(e).await?;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                }
            }
            e = runs.recv() => {
                let item = e.map(|e| (event_name(&e), serde_json::to_value(&e).unwrap_or(Value::Null)));
                conn.forward("runs", item).await?;
            }
            e = live.recv() => {
                let topic = match &e {
                    Ok(e) => e.topic(),
                    // Which topic lagged is unknown: report it on the first subscribed one.
                    Err(_) => conn.topics.iter().copied().find(|t| *t != "runs").unwrap_or("events"),
                };
                let item = e.map(|e| (e.name(), serde_json::to_value(&e).unwrap_or(Value::Null)));
                conn.forward(topic, item).await?;
            }
        }
    }
}
