//! Retention as the scheduler fires it: turn the configured periods into cutoffs for one
//! moment, run the store's pruning pass, and say what it did (log line and counters).
//!
//! The rules of what may go live in `store::retention`; this module never decides about a
//! row. A pass is idempotent, so replicas that each fire one (PostgreSQL) only repeat
//! empty batches.

use crate::config::RetentionConfig;
use crate::store::{Cutoffs, PruneReport, Store, StoreError};

/// The cutoffs of a pass at `now` (unix ms).
pub fn cutoffs(cfg: &RetentionConfig, now: i64) -> Cutoffs {
    let before = |p: crate::config::Period| now.saturating_sub(p.as_millis());
    Cutoffs {
        events: before(cfg.events),
        jobs_succeeded: before(cfg.jobs_succeeded),
        jobs_dead: before(cfg.jobs_dead),
        runs: before(cfg.runs),
        runs_failed: before(cfg.runs_failed),
        snapshots: before(cfg.snapshots),
        schedule_firings: before(cfg.schedule_firings),
        audit_log: before(cfg.audit_log),
        sessions: now,
        batch: i64::from(cfg.batch_size.0),
    }
}

/// One pruning pass at `now`.
pub async fn prune(
    store: &Store,
    cfg: &RetentionConfig,
    now: i64,
) -> Result<PruneReport, StoreError> {
    let started = std::time::Instant::now();
    let report = store.prune(&cutoffs(cfg, now)).await?;
    for (table, n) in [
        ("events", report.events),
        ("jobs", report.jobs),
        ("sync_runs", report.runs),
        ("deliveries", report.deliveries),
        ("snapshots", report.snapshots),
        ("schedule_firings", report.schedule_firings),
        ("audit_log", report.audit_log),
        ("sessions", report.sessions),
    ] {
        metrics::counter!("helix_retention_deleted_total", "table" => table).increment(n);
    }
    metrics::counter!("helix_retention_vacuumed_pages_total").increment(report.vacuumed_pages);
    metrics::histogram!("helix_retention_pass_seconds").record(started.elapsed().as_secs_f64());
    tracing::info!(
        events = report.events,
        jobs = report.jobs,
        runs = report.runs,
        deliveries = report.deliveries,
        snapshots = report.snapshots,
        schedule_firings = report.schedule_firings,
        audit_log = report.audit_log,
        sessions = report.sessions,
        vacuumed_pages = report.vacuumed_pages,
        batches = report.batches,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "retention pass done"
    );
    Ok(report)
}
