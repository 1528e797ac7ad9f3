//! Ingest throughput: signed 7 KB `push` deliveries over HTTP/1.1 keep-alive, 64
//! connections, against the real release binary (its own process, SQLite in a temp dir,
//! synchronous=FULL), next to a bare axum handler answering 202 with no work, measured by the
//! same load generator in the same run. Target: ≥ 60% of the bare handler's rate, p99 < 10 ms.
//!
//! Run: `cargo bench --bench ingest` (HELIX_BENCH_QUICK=1 for a smoke run). With
//! `HELIX_BENCH_DATABASE_URL=postgres://…` the service stores into PostgreSQL instead.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 64;

/// A ~7 KB push payload.
fn payload() -> Vec<u8> {
    let commits: Vec<_> = (0..12)
        .map(|i| {
            serde_json::json!({
                "id": format!("{i:040x}"), "message": format!("Commit {i}: {}", "refactor the ritual engine ".repeat(8)),
                "timestamp": "2026-11-20T10:00:00Z", "url": format!("https://github.com/helix/core/commit/{i:040x}"),
                "author": {"name": "Octo Cat", "email": "octo@example.com", "username": "octocat"},
                "added": ["src/a.rs"], "removed": [], "modified": ["src/b.rs", "src/c.rs"]
            })
        })
        .collect();
    let body = serde_json::json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": "1".repeat(40),
        "repository": {"full_name": "helix/core", "default_branch": "main", "html_url": "https://github.com/helix/core"},
        "pusher": {"name": "octocat"}, "commits": commits,
    });
    serde_json::to_vec(&body).unwrap()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() {
    let secs = if common::quick() { 1 } else { 10 };
    let duration = Duration::from_secs(secs);
    let body = payload();
    let sig = sign(&body);
    println!(
        "ingest benchmark: {} byte push payload, {CONNECTIONS} connections, {secs} s per case",
        body.len()
    );

    // HELIX_BENCH_PORT=<port>: load an already running service (for profiling it) and stop.
    if let Some(port) = std::env::var("HELIX_BENCH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        run(port, &body, &sig, duration)
            .await
            .report("helix-sync (external)");
        return;
    }

    // Bare handler: same load generator, no work.
    let bare_port = serve_in_thread(axum::Router::new().route(
        "/webhooks/github",
        post(|_b: axum::body::Bytes| async {
            (
                axum::http::StatusCode::ACCEPTED,
                "{\"id\":\"x\",\"duplicate\":false}",
            )
        }),
    ));
    let bare_load = run(bare_port, &body, &sig, duration).await;

    // The durable floor: the least any service that verifies and commits before answering
    // must do (read the body, check the HMAC, append it to a file with one fdatasync per
    // group of concurrent requests). No parsing, no database, no response body.
    let floor_dir = tempfile::tempdir().unwrap();
    let floor_port = serve_in_thread(durable_floor(floor_dir.path().join("log")));
    let floor_load = run(floor_port, &body, &sig, duration).await;

    // The real service.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helix-sync"))
        .arg("serve")
        .env("HELIX_BIND", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
        )
        .env("HELIX_CONFIG", "/nonexistent.json")
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("HELIX_SYNC_ENABLED", "false")
        .env("HEALTH_CHECK_ENABLED", "false")
        .env("HELIX_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run `cargo bench`, which builds the release binary");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let helix_load = run(port, &body, &sig, duration).await;
    let _ = child.kill();
    let _ = child.wait();

    bare_load.report("bare axum 202 handler");
    floor_load.report("durable floor (hmac+fsync)");
    helix_load.report("helix-sync /webhooks/github");
    println!(
        "durable floor: {:.0}% of bare; helix-sync: {:.0}% of the floor",
        floor_load.rate() / bare_load.rate() * 100.0,
        helix_load.rate() / floor_load.rate() * 100.0
    );
    let ratio = helix_load.rate() / bare_load.rate();
    let p99 = common::percentile(&helix_load.latencies, 99.0);
    println!(
        "ratio {:.0}% of bare (target >= 60%), p99 {} (target < 10 ms): {}",
        ratio * 100.0,
        common::ms(p99),
        if ratio >= 0.6 && p99 < Duration::from_millis(10) {
            "MET"
        } else {
            "NOT MET"
        }
    );
}

/// Serves `app` on a runtime and port of its own (apart from the load generator's).
fn serve_in_thread(app: axum::Router) -> u16 {
    let port = free_port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    std::thread::sleep(Duration::from_millis(200));
    port
}

type Append = (bytes::Bytes, tokio::sync::oneshot::Sender<()>);

/// A handler that verifies the signature and answers once the body is on disk, with group
/// commit by a writer thread (see the floor case in `main`).
fn durable_floor(path: std::path::PathBuf) -> axum::Router {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Append>(4096);
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(path).unwrap();
        let mut replies = Vec::new();
        while let Some((body, reply)) = rx.blocking_recv() {
            file.write_all(&body).unwrap();
            replies.push(reply);
            while let Ok((body, reply)) = rx.try_recv() {
                file.write_all(&body).unwrap();
                replies.push(reply);
            }
            file.sync_data().unwrap();
            for r in replies.drain(..) {
                let _ = r.send(());
            }
        }
    });
    axum::Router::new().route(
        "/webhooks/github",
        post(
            |axum::extract::State(tx): axum::extract::State<tokio::sync::mpsc::Sender<Append>>,
             headers: axum::http::HeaderMap,
             body: bytes::Bytes| async move {
                let sig = headers
                    .get("x-hub-signature-256")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("sha256="))
                    .and_then(|v| hex::decode(v).ok())
                    .unwrap_or_default();
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                mac.update(&body);
                if mac.verify_slice(&sig).is_err() {
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                let (reply, done) = tokio::sync::oneshot::channel();
                tx.send((body, reply)).await.unwrap();
                done.await.unwrap();
                axum::http::StatusCode::ACCEPTED
            },
        )
        .with_state(tx),
    )
}

async fn run(port: u16, body: &[u8], sig: &str, duration: Duration) -> common::Load {
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let (body, sig) = (bytes::Bytes::from(body.to_vec()), sig.to_owned());
    common::closed_loop(CONNECTIONS, duration, move |client, conn, i| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("{port}-{conn}-{i}"))
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
    })
    .await
}
