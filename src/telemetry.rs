//! Logging (tracing, pretty or JSON lines) and the Prometheus recorder.
//!
//! Logs go to stderr always: stdout belongs to CLI output and to the MCP stdio transport.
//! With `HELIX_LOG_FORMAT=json` every line is one JSON object carrying its spans: `request`
//! (with the `request_id` that tower-http's request-id layer sets and echoes back in
//! `x-request-id`) for HTTP work, `job` (with `job_id`) for worker work. Request spans record
//! the path only, never the query string or headers, so a token cannot reach a log line.

use axum::http::{HeaderValue, Request};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; later calls are no-ops (tests build many apps).
pub fn init_logging(format: &str) {
    // A blank RUST_LOG (an `.env` line `RUST_LOG=`) means "unset", as for every variable
    // of ours: the default filter, not one that shows nothing.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    use std::io::IsTerminal;
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// How often histogram samples are folded into their buckets when nobody scrapes.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder once and returns its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ];
            // Batch sizes are counts, not seconds: powers of two up to the writer's cap.
            let batch = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("helix_ingest_batch_size".into()),
                        &batch,
                    )
                })
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // A histogram keeps every sample until upkeep folds them into its buckets. A
            // scrape runs upkeep, but nothing guarantees a scraper: unscraped, the service
            // kept ~8 bytes per sample forever (soak bench: RSS +7-10 MB a minute at full
            // ingest rate). So upkeep also runs on its own, on a thread of its own (this may
            // be called before any runtime exists).
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkeep.run_upkeep();
                })
                .expect("a thread for metrics upkeep");
            // Another recorder may already be installed (e.g. by a test harness): then ours
            // just renders nothing, which is harmless.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe_metrics();
            }
            handle
        })
        .clone()
}

/// HELP text for every metric the service emits (names are the contract of dashboards).
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "helix_webhooks_received_total",
        "Webhooks accepted, by source."
    );
    describe_counter!(
        "helix_webhooks_rejected_total",
        "Webhooks refused, by source and reason (the error code)."
    );
    describe_histogram!(
        "helix_ingest_latency_seconds",
        Unit::Seconds,
        "Time from request to committed answer, by webhook source."
    );
    describe_gauge!("helix_queue_depth", "Jobs by state.");
    describe_gauge!(
        "helix_queue_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest job in each state (queued: since runnable; running: since claimed; failed: since it failed)."
    );
    describe_counter!(
        "helix_queue_rescued_total",
        "Jobs whose lease expired and were rescued."
    );
    describe_counter!("helix_job_runs_total", "Job attempts by kind and result.");
    describe_histogram!(
        "helix_job_duration_seconds",
        Unit::Seconds,
        "Job attempt duration by kind."
    );
    describe_histogram!(
        "helix_sync_duration_seconds",
        Unit::Seconds,
        "Duration of finished sync runs, by run status."
    );
    describe_counter!(
        "helix_source_results_total",
        "Finished runs by source and that source's outcome (ok, error, disabled)."
    );
    describe_gauge!(
        "helix_target_deliveries",
        "Deliveries by publish target and state."
    );
    describe_gauge!(
        "helix_github_rate_remaining",
        "Requests left in a GitHub token's rate budget (token: token, installation:<id> or anonymous; resource: core, graphql, ...)."
    );
    describe_gauge!(
        "helix_github_rate_limit",
        "The size of a GitHub token's rate budget, by token and resource."
    );
    describe_gauge!(
        "helix_github_rate_reset_timestamp_seconds",
        "When a GitHub token's rate budget refills (unix seconds), by token and resource."
    );
    describe_counter!(
        "helix_github_repositories_unchanged_total",
        "Repositories a full cycle skipped because their change marker had not moved."
    );
    describe_gauge!(
        "helix_store_up",
        "1 when the last scrape could read the store."
    );
    describe_gauge!("helix_build_info", "Always 1; the version is a label.");
}

/// Gives every request a UUIDv7 `x-request-id` (unless the client sent one).
#[derive(Clone, Copy, Default)]
pub struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one HTTP request: its id, method and path (no query, no headers).
pub fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}
