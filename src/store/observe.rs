//! Read-only questions the health report, the metrics scrape and the status page ask.
//!
//! Every query here is an aggregate over tables other parts write; none of them writes, so
//! a scrape or a health probe can never change what the service does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{DeliveryRow, JobState, Result, RunRow, Store};

/// One count of a `(name, outcome)` pair, e.g. `("github", "error", 3)`.
pub type OutcomeCount = (String, String, i64);

/// Depth of the queue by state, and the age of the oldest waiting job.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStats {
    pub by_state: BTreeMap<String, i64>,
    /// Milliseconds since the oldest `queued` job became runnable.
    pub oldest_queued_age_ms: Option<i64>,
}

/// When the oldest queued job became runnable. The `IN` repeats `jobs_waiting`'s condition
/// word for word: SQLite uses a partial index only where the query states its condition.
const OLDEST_QUEUED: &str =
    "SELECT MIN(run_at) FROM jobs WHERE state IN ('queued', 'failed') AND state = 'queued'";

/// Jobs per state. Running jobs are counted from `running_jobs`, the one index of them
/// (PostgreSQL's `jobs_finished` leaves them out, migration 0045); the rest is an
/// index-only walk of `jobs_finished` there.
const JOBS_BY_STATE: &str =
    "SELECT state, COUNT(*) FROM jobs WHERE state <> 'running' GROUP BY state \
     UNION ALL SELECT 'running', COUNT(*) FROM running_jobs";

impl Store {
    /// Jobs per state (every state, zeros included) and the oldest queued job's age.
    pub async fn queue_stats(&self, now: i64) -> Result<QueueStats> {
        let rows: Vec<(String, i64)> = sqlx::query_as(JOBS_BY_STATE).fetch_all(&self.pool).await?;
        let mut by_state: BTreeMap<String, i64> = JobState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        by_state.extend(rows);
        let oldest: Option<i64> = sqlx::query_scalar(OLDEST_QUEUED)
            .fetch_one(&self.pool)
            .await?;
        Ok(QueueStats {
            by_state,
            oldest_queued_age_ms: oldest.map(|t| (now - t).max(0)),
        })
    }

    /// Age in milliseconds of the oldest job in each waiting or active state: `queued`
    /// (since it became runnable), `running` (since it was claimed), `failed` (since its last
    /// failure). States with no job are absent.
    pub async fn oldest_job_age_by_state(&self, now: i64) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT state, MIN(CASE state WHEN 'queued' THEN run_at ELSE updated_at END) \
             FROM jobs WHERE state IN ('queued', 'failed') GROUP BY state \
             UNION ALL \
             SELECT 'running', MIN(COALESCE(j.started_at, j.updated_at)) \
             FROM running_jobs r JOIN jobs j ON j.id = r.job_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(state, t)| t.map(|t| (state, (now - t).max(0))))
            .collect())
    }

    /// The last `limit` runs, newest first, each with its deliveries (ordered by target).
    pub async fn recent_runs_with_deliveries(
        &self,
        limit: i64,
    ) -> Result<Vec<(RunRow, Vec<DeliveryRow>)>> {
        let runs = self.list_runs(limit).await?;
        let deliveries: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT d.* FROM deliveries d JOIN \
                 (SELECT id FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1) r \
             ON d.run_id = r.id ORDER BY d.target",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut by_run: BTreeMap<String, Vec<DeliveryRow>> = BTreeMap::new();
        for d in deliveries {
            by_run.entry(d.run_id.clone()).or_default().push(d);
        }
        Ok(runs
            .into_iter()
            .map(|r| {
                let ds = by_run.remove(&r.id).unwrap_or_default();
                (r, ds)
            })
            .collect())
    }

    /// How often each source ended in each status, over every finished run (`sources` JSON).
    pub async fn source_outcome_counts(&self, sources: &[&str]) -> Result<Vec<OutcomeCount>> {
        let mut out = Vec::new();
        // The only dialect difference in the JSON access: SQLite's json_extract with a
        // path, PostgreSQL's jsonb operators with the key.
        let (sql, arg): (&str, fn(&str) -> String) = match self.backend {
            super::Backend::Sqlite => (
                "SELECT json_extract(sources, $1), COUNT(*) FROM sync_runs \
                 WHERE status != 'running' AND json_valid(sources) \
                   AND json_extract(sources, $1) IS NOT NULL \
                 GROUP BY json_extract(sources, $1)",
                |s| format!("$.{s}.status"),
            ),
            super::Backend::Postgres => (
                "SELECT sources::jsonb -> $1 ->> 'status', COUNT(*) FROM sync_runs \
                 WHERE status != 'running' AND sources::jsonb -> $1 ->> 'status' IS NOT NULL \
                 GROUP BY 1",
                |s| s.to_owned(),
            ),
        };
        for source in sources {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql)
                .bind(arg(source))
                .fetch_all(&self.pool)
                .await?;
            out.extend(rows.into_iter().map(|(s, n)| ((*source).to_owned(), s, n)));
        }
        Ok(out)
    }

    /// How many deliveries of each target are in each state.
    pub async fn delivery_state_counts(&self) -> Result<Vec<OutcomeCount>> {
        Ok(sqlx::query_as(
            "SELECT target, state, COUNT(*) FROM deliveries GROUP BY target, state ORDER BY target, state",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
