//! Real time over WebSocket (issue 18 part 6): `GET /api/sync/ws` refuses a missing token
//! with the API's JSON 401 before upgrading, sends the SSE stream's run events to a new
//! client, adds `deliveries` and `events` on subscription, answers bad messages without
//! dropping the client, drops a client that stops answering pings, and works with a client
//! nobody here wrote (Python's `websockets`, `scripts/ws_client_check.py`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::operate::{repo, tool_available};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp) -> String {
    format!("ws://127.0.0.1:{}/api/sync/ws", app.port)
}

async fn connect(app: &TestApp) -> Socket {
    let mut req = ws_url(app).into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {API_TOKEN}").parse().unwrap(),
    );
    let (socket, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrades");
    assert_eq!(res.status(), 101);
    socket
}

/// The next JSON text message (pings are answered by the library while reading).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON messages"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads events until one named `name` arrives; returns it.
async fn until_event(socket: &mut Socket, name: &str) -> Value {
    loop {
        let m = next(socket).await;
        if m["type"] == "event" && m["event"] == name {
            return m;
        }
    }
}

async fn send(socket: &mut Socket, v: Value) {
    socket
        .send(Message::Text(v.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_socket_needs_the_bearer_token_and_an_upgrade() {
    let app = spawn_app().await;
    let upgrade = |token: Option<&str>| {
        let mut req = app
            .client
            .get(app.url("/api/sync/ws"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(
        error_code(upgrade(None).await.unwrap(), 401).await,
        "unauthorized"
    );
    assert_eq!(
        error_code(upgrade(Some("wrong")).await.unwrap(), 401).await,
        "unauthorized"
    );
    let plain = app.get_authed("/api/sync/ws").await;
    assert_eq!(error_code(plain, 400).await, "bad_request");
    let mut req = ws_url(&app).into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

/// A browser cannot set headers on a WebSocket: the console's session cookie lets it in,
/// from a page of our own origin only.
#[tokio::test]
async fn a_console_session_opens_the_socket_from_our_own_origin_only() {
    let app = spawn_app().await;
    let viewer = crate::console::Console::as_role(&app, "vera", "viewer").await;
    let with = |origin: &str| {
        let mut req = ws_url(&app).into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert("cookie", viewer.cookie.parse().unwrap());
        h.insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let (mut ws, res) = with(&app.address).await.expect("our own page upgrades");
    assert_eq!(res.status(), 101);
    assert_eq!(next(&mut ws).await["type"], "hello");
    send(
        &mut ws,
        json!({"action": "subscribe", "topics": ["events"]}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "subscribed", "topics": ["events", "runs"]})
    );
    let refused = with("http://evil.example").await.unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let mut req = ws_url(&app).into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", "helix_session=forged".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

#[tokio::test]
async fn runs_deliveries_and_events_arrive_by_topic() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["topics"], json!(["runs", "deliveries", "events"]));
    assert_eq!(hello["subscribed"], json!(["runs"]));

    // Bad messages are answered, and the connection stays.
    send(
        &mut ws,
        json!({"action": "subscribe", "topics": ["gossip"]}),
    )
    .await;
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("runs, deliveries, events"));
    ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(next(&mut ws).await["error"], "bad_request");
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["error"], "unsupported_media_type");
    send(&mut ws, json!({"action": "shout", "topics": []})).await;
    assert_eq!(next(&mut ws).await["type"], "error");

    // Only runs: an ingested event is not sent. The manual trigger is itself an event.
    app.trigger(json!({"sources": ["ucf_state"], "targets": ["portal"]}))
        .await;
    app.run_pending_jobs().await;
    let started = next(&mut ws).await;
    assert_eq!(started["event"], "run_started", "{started}");
    assert_eq!(started["topic"], "runs");
    assert_eq!(started["data"]["event"], "started");
    let run_id = started["data"]["run_id"].as_str().unwrap().to_owned();
    let finished = next(&mut ws).await;
    assert_eq!(finished["event"], "run_finished");
    assert_eq!(finished["data"]["run_id"], run_id.as_str());

    // All three topics.
    send(
        &mut ws,
        json!({"action": "subscribe", "topics": ["deliveries", "events"]}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "subscribed", "topics": ["deliveries", "events", "runs"]})
    );
    let body = serde_json::to_vec(&push_payload("helix/core", "main", "live")).unwrap();
    assert_eq!(app.post_github("push", "ws-1", &body).await.status(), 202);
    let received = until_event(&mut ws, "event_received").await;
    assert_eq!(received["topic"], "events");
    assert_eq!(received["data"]["source"], "github");
    assert_eq!(received["data"]["event_type"], "push");
    assert!(received["data"]["job_id"].is_string());
    assert!(
        received["data"].get("payload").is_none(),
        "ids and names only"
    );
    // A duplicate delivery is not announced again. Runs and deliveries travel on separate
    // buses, so their relative order is not fixed: collect until all three were seen.
    assert_eq!(app.post_github("push", "ws-1", &body).await.status(), 202);
    app.run_pending_jobs().await;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 {
        let m = next(&mut ws).await;
        assert_ne!(
            m["event"], "event_received",
            "a duplicate was announced: {m}"
        );
        if m["event"] == "delivery_updated" {
            assert_eq!(m["topic"], "deliveries");
            assert!(m["data"]["state"].is_string() && m["data"]["target"].is_string());
            assert!(m["data"]["run_id"].is_string());
        }
        seen.insert(m["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["delivery_updated", "run_finished", "run_started"]
    );

    // Unsubscribing from runs stops them.
    send(
        &mut ws,
        json!({"action": "unsubscribe", "topics": ["runs", "events"]}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "subscribed", "topics": ["deliveries"]})
    );
}

/// A WebSocket client that completes the handshake and then never answers anything.
#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let app = spawn_with(Spawn::default().env("HELIX_WS_PING_SECS", "1")).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let handshake = format!(
        "GET /api/sync/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {API_TOKEN}\r\n\r\n"
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut bytes = Vec::new();
    // Read (never write) until the server closes the connection.
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the silent client was never dropped");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let frames = &bytes[text.find("\r\n\r\n").unwrap() + 4..];
    assert!(frames.contains(&0x89), "the server pinged");
    assert!(frames.contains(&0x88), "the server sent a close frame");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "dropped after {took:?} with a 1 s ping interval"
    );
}

#[tokio::test]
async fn python_websockets_client_sees_every_topic() {
    if !tool_available(
        "the Python websockets package (pip install websockets==15.0.1)",
        std::process::Command::new("python3").args(["-c", "import websockets.asyncio.client"]),
    ) {
        return;
    }
    let app = spawn_with(Spawn::default().env("HELIX_WS_PING_SECS", "1")).await;
    let mut child = tokio::process::Command::new("python3")
        .arg(format!("{}/scripts/ws_client_check.py", repo()))
        .arg(ws_url(&app))
        .args(["--token", API_TOKEN])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the client gets ready")
            .unwrap()
            .expect("the client is still running");
        out.push(line.clone());
        if line == "READY" {
            break;
        }
    }
    let body = serde_json::to_vec(&push_payload("helix/core", "main", "py")).unwrap();
    assert_eq!(app.post_github("push", "py-1", &body).await.status(), 202);
    app.run_pending_jobs().await;
    while let Ok(Some(line)) = lines.next_line().await {
        out.push(line);
    }
    let status = child.wait().await.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let out = out.join("\n");
    assert!(
        status.success() && out.ends_with("PASS"),
        "{out}\n--- stderr ---\n{stderr}"
    );
    assert!(out.contains("unauthorized: 401"));
}

/// The server's slow-client watchdog (header and idle timeouts) covers HTTP requests only:
/// an upgraded socket that keeps answering pings outlives both.
#[tokio::test]
async fn a_live_socket_outlives_the_http_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync_config.json");
    std::fs::write(
        &config,
        r#"{"http": {"header_read_timeout_secs": 1, "idle_timeout_secs": 1}}"#,
    )
    .unwrap();
    let app = spawn_with(
        Spawn::default()
            .env("HELIX_CONFIG", config.to_str().unwrap())
            .env("HELIX_WS_PING_SECS", "1"),
    )
    .await;
    let mut ws = connect(&app).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    // Three pings, each answered by the library while reading: over three seconds.
    let mut pings = 0;
    while pings < 3 {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a ping within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if matches!(frame, Message::Ping(_)) {
            pings += 1;
        }
    }
    send(
        &mut ws,
        json!({"action": "subscribe", "topics": ["events"]}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "subscribed");
}

#[tokio::test]
async fn shutting_down_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    app.state.shutdown.cancel();
    assert_eq!(closed_with(&mut ws).await.0, 1001);
}

/// The close frame the server sends next: its code and reason (a dropped connection, which
/// a client sees as 1006, fails).
async fn closed_with(ws: &mut Socket) -> (u16, String) {
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("closed within 10 s")
        .expect("a frame, not a dropped connection")
        .expect("a close frame");
    let Message::Close(Some(close)) = frame else {
        panic!("expected a close frame, got {frame:?}");
    };
    (u16::from(close.code), close.reason.to_string())
}

#[tokio::test]
async fn a_message_over_the_limit_is_closed_with_1009_and_the_reason() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let huge = json!({"action": "subscribe", "topics": ["x".repeat(20 * 1024)]});
    send(&mut ws, huge).await;
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, 1009);
    assert!(reason.contains("too big"), "{reason}");
}
