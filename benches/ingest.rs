//! Ingest throughput: signed 7 KB `push` deliveries over HTTP/1.1 keep-alive, 64
//! connections, against the real release binary (its own process, SQLite in a temp dir,
//! synchronous=FULL), next to a bare axum handler answering 202 with no work, measured by the
//! same load generator in the same run. Target: ≥ 60% of the bare handler's rate, p99 < 10 ms.
//! It also prints the service's CPU time and the bytes it wrote per delivery, from /proc: the
//! two figures that tell a cheaper write path from a quieter VM; and the CPU per request of
//! the load generator and of the durable floor, with the rate the service's CPU allows at
//! most on this machine's cores beside the load generator (a CPU ceiling, not a forecast).
//!
//! Run: `cargo bench --bench ingest` (HELIX_BENCH_QUICK=1 for a smoke run). With
//! `HELIX_BENCH_DATABASE_URL=postgres://…` the service stores into PostgreSQL instead.

mod common;

use std::time::Duration;

use axum::routing::post;
use helix_sync::config::Secret;
use helix_sync::ingest::github;

use common::process;
use common::push::{free_port, payload, run, sign, start_service, CONNECTIONS, SECRET};

#[tokio::main]
async fn main() {
    let secs = if common::quick() { 1 } else { 10 };
    let duration = Duration::from_secs(secs);
    let body = payload();
    let sig = sign(&body);
    println!(
        "ingest benchmark: {} byte push payload ({} bytes as stored), {CONNECTIONS} connections, \
         {secs} s per case",
        body.len(),
        helix_sync::store::Compressed::new(std::str::from_utf8(&body).unwrap())
            .as_bytes()
            .len()
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
    // This process's CPU around each case: the load generator's in every case, plus the
    // in-process server's in the first two (the service runs in a process of its own).
    let own_cpu = || process::cpu("self").map_or(0.0, |(_, s)| s);
    let bare_load = run(bare_port, &body, &sig, duration).await;

    // The durable floor: the least any service that verifies and commits before answering
    // must do (read the body, check the HMAC, append it to a file with one fdatasync per
    // group of concurrent requests). No parsing, no database, no response body.
    let floor_dir = tempfile::tempdir().unwrap();
    let floor_port = serve_in_thread(durable_floor(floor_dir.path().join("log")));
    let floor_cpu = own_cpu();
    let floor_load = run(floor_port, &body, &sig, duration).await;
    let floor_cpu = own_cpu() - floor_cpu;

    // The real service.
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/bench.db", dir.path().display());
    let (mut child, port) = start_service(&database_url, &[]).await;
    let usage = || {
        let pid = child.id();
        let cpu = process::cpu(&pid.to_string()).map_or(0.0, |(_, s)| s);
        (cpu, process::written(pid))
    };
    let before = usage();
    let loader_cpu = own_cpu();
    let helix_load = run(port, &body, &sig, duration).await;
    let loader_cpu = own_cpu() - loader_cpu;
    let after = usage();
    let _ = child.kill();
    let _ = child.wait();

    bare_load.report("bare axum 202 handler");
    floor_load.report("durable floor (hmac+fsync)");
    helix_load.report("helix-sync /webhooks/github");
    // CPU seconds as µs per request of `load`.
    let per = |cpu: f64, load: &common::Load| cpu * 1e6 / load.latencies.len().max(1) as f64;
    let helix = per(after.0 - before.0, &helix_load);
    let written_kb = (after.1 - before.1) as f64 / 1024.0;
    println!(
        "helix-sync used {helix:.0} µs of CPU and wrote {:.1} KB (WAL, checkpoints, sockets) per delivery",
        written_kb / helix_load.latencies.len().max(1) as f64
    );
    // The CPU budget: with the load generator on the same cores, the rate the service's CPU
    // per delivery allows at most, whatever its latency.
    let loader = per(loader_cpu, &helix_load);
    let floor = per(floor_cpu, &floor_load) - loader;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let ceiling = cores * 1e6 / (helix + loader);
    println!(
        "CPU per request: load generator {loader:.0} µs, durable floor {floor:.0} µs, helix-sync \
         {helix:.0} µs; on {cores} cores helix-sync and the load generator fit at most \
         {ceiling:.0} deliveries/s ({:.0}% of the floor's rate)",
        ceiling / floor_load.rate() * 100.0
    );
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
static FLOOR_SECRETS: std::sync::LazyLock<[Secret; 1]> =
    std::sync::LazyLock::new(|| [Secret::new(SECRET)]);

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
                // The service's own check, so the floor verifies exactly as it does.
                let sig = headers
                    .get(github::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok());
                if github::verify_signature(&*FLOOR_SECRETS, &body, sig).is_err() {
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
