//! `GET /metrics`: Prometheus text.
//!
//! Counters and histograms are recorded where things happen (webhooks, worker, queue); what
//! is a property of stored state — queue depth and age by state, per-source and per-target
//! outcome counts, run counts — is read from the store at scrape time, so it is right after a
//! restart and across replicas sharing a database. [`record_runs`] turns run-finished events
//! into the sync duration histogram. Nothing here writes to the store.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::store::now_ms;
use crate::sync::snapshot::{SOURCE_NAMES, TARGET_NAMES};
use crate::sync::RunEvent;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = refresh(&state).await {
        tracing::warn!(error = %e, "metrics: could not read the store; stored-state gauges are stale");
        metrics::gauge!("helix_store_up").set(0.0);
    } else {
        metrics::gauge!("helix_store_up").set(1.0);
    }
    let handle = crate::telemetry::metrics_handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// Sets the gauges and absolute counters that mirror stored state.
async fn refresh(state: &AppState) -> Result<(), crate::store::StoreError> {
    let store = &state.store;
    let now = now_ms();
    let stats = store.queue_stats(now).await?;
    let ages = store.oldest_job_age_by_state(now).await?;
    for (job_state, depth) in &stats.by_state {
        metrics::gauge!("helix_queue_depth", "state" => job_state.clone()).set(*depth as f64);
    }
    // Age only means something for jobs still in flight.
    for job_state in ["queued", "running", "failed"] {
        let age = ages.get(job_state).copied().unwrap_or(0);
        metrics::gauge!("helix_queue_oldest_age_seconds", "state" => job_state)
            .set(age as f64 / 1000.0);
    }
    // A finished run's per-source outcome never changes: a true counter.
    for (source, status, n) in store.source_outcome_counts(&SOURCE_NAMES).await? {
        metrics::counter!("helix_source_results_total", "source" => source, "status" => status)
            .absolute(n as u64);
    }
    // Deliveries move between states (pending → succeeded): a gauge per state.
    for (target, delivery_state, n) in store.delivery_state_counts().await? {
        metrics::gauge!("helix_target_deliveries", "target" => target, "state" => delivery_state)
            .set(n as f64);
    }
    // Disk use: the database, its WAL and the free space beside it (SQLite), rows per table.
    let disk = store.disk_usage().await?;
    metrics::gauge!("helix_db_size_bytes").set(disk.database_bytes as f64);
    if let Some(wal) = disk.wal_bytes {
        metrics::gauge!("helix_db_wal_bytes").set(wal as f64);
    }
    if let Some(free) = disk.free_bytes {
        metrics::gauge!("helix_db_free_bytes").set(free as f64);
    }
    for (table, rows) in store.table_rows().await? {
        metrics::gauge!("helix_db_rows", "table" => table).set(rows as f64);
    }
    // Each target's circuit (1 open, 0 closed) and the deliveries waiting for it.
    let lanes = store.lanes().await?;
    let backlog = store.lane_backlog().await?;
    for target in TARGET_NAMES {
        let lane = lanes.iter().find(|l| l.name == target);
        let open = lane.is_some_and(|l| l.breaker == "open");
        metrics::gauge!("helix_target_breaker_open", "target" => target)
            .set(f64::from(u8::from(open)));
        metrics::gauge!("helix_target_consecutive_failures", "target" => target)
            .set(lane.map_or(0, |l| l.failures) as f64);
        let waiting = backlog
            .iter()
            .find(|(l, _)| l == target)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("helix_target_backlog", "target" => target).set(waiting as f64);
    }
    // Each GitHub token's rate budget, as the last answer any replica saw said it.
    for b in crate::service::status::github_budgets(store).await? {
        let labels = [("token", b.token.clone()), ("resource", b.resource.clone())];
        metrics::gauge!("helix_github_rate_remaining", &labels).set(b.remaining as f64);
        metrics::gauge!("helix_github_rate_limit", &labels).set(b.limit as f64);
        metrics::gauge!("helix_github_rate_reset_timestamp_seconds", &labels)
            .set((b.reset_at / 1000) as f64);
    }
    metrics::gauge!("helix_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(())
}

/// Records each finished run's duration into `helix_sync_duration_seconds{status}` until
/// `cancel` fires.
pub async fn record_runs(state: crate::service::App, cancel: CancellationToken) {
    let mut rx = state.run_events.subscribe();
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            e = rx.recv() => e,
        };
        match event {
            Ok(RunEvent::Finished { run_id, status }) => match state.store.get_run(&run_id).await {
                Ok(Some(run)) => {
                    if let Some(ms) = run.duration_ms {
                        metrics::histogram!("helix_sync_duration_seconds", "status" => status)
                            .record(ms as f64 / 1000.0);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, run_id, "metrics: cannot read the run"),
            },
            Ok(RunEvent::Started { .. }) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "metrics: missed run events");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
