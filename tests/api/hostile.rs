//! Hostile clients and hostile upstreams, from outside the service: an upstream that quotes
//! the webhook token back, a timestamp built to overflow, unsigned uploads that try to hold
//! the memory for bodies not yet verified, and connections that send nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;
use crate::process::start_serve_logging;

const DISCORD_TOKEN: &str = "hostileTOKENvalue-0123456789abcdefghij";

#[tokio::test]
async fn an_upstream_that_quotes_the_discord_token_never_gets_it_into_logs_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let discord = wiremock::MockServer::start().await;
    let path = format!("/api/v10/webhooks/112233445566/{DISCORD_TOKEN}");
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 50006, "message": format!("Cannot POST {path}?wait=true")})),
        )
        .mount(&discord)
        .await;
    let db = dir.path().join("helix.db");
    let log = dir.path().join("server.log");
    let webhook = format!("https://discord.com/api/webhooks/112233445566/{DISCORD_TOKEN}");
    let (mut child, address) = start_serve_logging(
        &format!("sqlite://{}", db.display()),
        dir.path(),
        &[
            ("RUST_LOG", "info"),
            ("HELIX_API_TOKEN", API_TOKEN),
            ("DISCORD_SYNC_WEBHOOK", &webhook),
            ("DISCORD_API_URL", &discord.uri()),
        ],
        Some(&log),
    )
    .await;
    let res = reqwest::Client::new()
        .post(format!("{address}/api/sync"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({"targets": ["discord"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut settled = false;
    for _ in 0..300 {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM deliveries WHERE target = 'discord'")
                .fetch_optional(&mut conn)
                .await
                .unwrap();
        let dead: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if state.as_deref() == Some("dead") && dead > 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "the Discord delivery was dead-lettered");
    let mut stored: Vec<String> = Vec::new();
    for sql in [
        "SELECT COALESCE(last_error, '') FROM jobs",
        "SELECT COALESCE(last_error, '') FROM deliveries",
        "SELECT COALESCE(error, '') FROM sync_runs",
    ] {
        stored.extend(
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap(),
        );
    }
    conn.close().await.unwrap();
    assert!(
        stored.iter().any(|e| e.contains("Discord answered 400")),
        "the error is stored: {stored:?}"
    );
    assert!(
        stored.iter().any(|e| e.contains("[redacted]")),
        "the quoted token was replaced: {stored:?}"
    );
    // The worker logs the dead letter after its commit: wait for the line before the kill.
    for _ in 0..100 {
        if std::fs::read_to_string(&log)
            .unwrap()
            .contains("dead-lettered")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("dead-lettered"), "{logs}");
    for text in stored.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(DISCORD_TOKEN), "the token leaked: {text}");
    }
}

#[tokio::test]
async fn a_ritual_timestamp_built_to_overflow_the_window_is_refused() {
    let app = spawn_app().await;
    let body = br#"{"type":"ritual.started","timestamp":"2026-11-25T09:30:00Z","data":{}}"#;
    let now = chrono::Utc::now().timestamp();
    for ts in [
        now.wrapping_sub(i64::MIN),
        i64::MIN,
        i64::MAX,
        now - (1i64 << 62) - (1i64 << 62) + 1,
    ] {
        let res = app
            .client
            .post(app.url("/webhooks/ritual"))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_overflow")
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                ritual_signature(RITUAL_SECRET, "msg_overflow", ts, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .expect("the server answers (no panic, no reset)");
        assert_eq!(
            error_code(res, 401).await,
            "unauthorized",
            "timestamp {ts} is refused like any stale one"
        );
    }
    assert_eq!(app.count("events").await, 0);
}

/// A config file with the given `http` section.
fn http_config(dir: &std::path::Path, http: serde_json::Value) -> String {
    let path = dir.join("sync_config.json");
    std::fs::write(&path, serde_json::json!({ "http": http }).to_string()).unwrap();
    path.display().to_string()
}

/// A TCP connection to `port` from the loopback address `from` (127.0.0.x: each is another
/// client address to the server).
async fn connect_from(from: [u8; 4], port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// Starts an unsigned chunked upload to `/webhooks/github` and sends `bytes` of it, then
/// stalls with the connection open.
async fn stalled_upload(from: [u8; 4], port: u16, bytes: usize) -> TcpStream {
    let mut s = connect_from(from, port).await;
    let head = "POST /webhooks/github HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                x-github-event: push\r\nx-github-delivery: d\r\nx-hub-signature-256: sha256=00\r\n\
                transfer-encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < bytes {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        s.write_all(&frame).await.unwrap();
        sent += chunk.len();
    }
    s
}

/// Reads a response head from `s` within `secs`; `None` when none came.
async fn response_head_within(s: &mut TcpStream, secs: f64) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs_f64(secs), async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (done.is_ok() && !got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned())
}

async fn response_head(s: &mut TcpStream) -> String {
    response_head_within(s, 10.0)
        .await
        .expect("an answer within 10 s")
}

/// An unsigned upload from `from` that declares `length` bytes: the head of the answer it
/// gets before sending any of them. Asked again until an answer comes (the server counts
/// the stalled uploads' bytes as it reads them).
async fn declared_upload_answer(from: [u8; 4], port: u16, length: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = connect_from(from, port).await;
        let head = format!(
            "POST /webhooks/github HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             x-github-event: push\r\nx-github-delivery: d\r\nx-hub-signature-256: sha256=00\r\n\
             content-length: {length}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        if let Some(answer) = response_head_within(&mut s, 0.3).await {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer to an upload beyond the budget"
        );
    }
}

#[tokio::test]
async fn unverified_bodies_share_a_bounded_budget_and_signed_senders_still_get_through() {
    let dir = tempfile::tempdir().unwrap();
    let mib = 1024 * 1024;
    let config = http_config(
        dir.path(),
        serde_json::json!({"unverified_body_budget_bytes": 12 * mib,
                           "unverified_per_client_bytes": 3 * mib,
                           "unverified_reserved_bytes": 3 * mib}),
    );
    let app = spawn_with(Spawn::default().env("HELIX_CONFIG", &config)).await;
    // GitHub has been delivering correctly signed events from its address.
    let body = serde_json::to_vec(&push_payload("o/r", "main", "x")).unwrap();
    assert_eq!(app.post_github("push", "good-1", &body).await.status(), 202);

    // Three attacker addresses each hold their whole share with stalled uploads: together
    // all of the budget that is not reserved for senders with a good signature record.
    let mut held = Vec::new();
    for last in [2, 3, 5] {
        held.push(stalled_upload([127, 0, 0, last], app.port, 2 * mib).await);
        held.push(stalled_upload([127, 0, 0, last], app.port, mib - 64 * 1024).await);
    }
    let expected = 3 * (3 * mib - 64 * 1024);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.edge().unverified.held() < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "the server holds {} of {expected} bytes",
            app.state.edge().unverified.held()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One address cannot take more than its share...
    let head = declared_upload_answer([127, 0, 0, 2], app.port, 512 * 1024).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: "),
        "{head}"
    );
    // ...and the pool is bounded across all requests.
    let head = declared_upload_answer([127, 0, 0, 4], app.port, 512 * 1024).await;
    assert!(
        head.starts_with("HTTP/1.1 503"),
        "the bound is global: {head}"
    );

    // GitHub's next (large) delivery still gets through, from the reserved share.
    let big =
        serde_json::to_vec(&serde_json::json!({"zen": "x".repeat(mib), "hook_id": 1})).unwrap();
    let res = app.post_github("ping", "good-2", &big).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    drop(held);
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_configured_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let config = http_config(
        dir.path(),
        serde_json::json!({"header_read_timeout_secs": 1, "idle_timeout_secs": 2}),
    );
    let app = spawn_with(Spawn::default().env("HELIX_CONFIG", &config)).await;
    let closed_within = |mut s: TcpStream, secs: u64| async move {
        let mut buf = [0u8; 1024];
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(secs), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        r.map(|_| started.elapsed())
    };
    // Half-sent headers: closed after the header-read timeout.
    let mut half = connect_from([127, 0, 0, 1], app.port).await;
    half.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let took = closed_within(half, 6)
        .await
        .expect("half-sent headers are cut");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // A connection that never sends anything: closed after the idle timeout, not before.
    let silent = connect_from([127, 0, 0, 1], app.port).await;
    let took = closed_within(silent, 8)
        .await
        .expect("an idle connection is closed");
    assert!(
        took >= Duration::from_millis(1900),
        "not before the idle timeout: {took:?}"
    );
    // A kept-alive connection after a complete request: the same idle timeout.
    let mut kept = connect_from([127, 0, 0, 1], app.port).await;
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let head = response_head(&mut kept).await;
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    closed_within(kept, 8)
        .await
        .expect("an idle keep-alive connection is closed");
}
