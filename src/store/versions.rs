//! What versions and rollbacks add to a run: where a rollback came from, the Notion edits a
//! run's delivery kept, and the trend points as they stood when a past run was exported.
//!
//! Kept beside `runs` rather than in `RunRow` so the run row (read by every page and
//! publisher) stays the same shape; a reader that needs these asks for them. Nothing here
//! changes or deletes an existing snapshot or run: a rollback only adds a run.

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, RunStart, Store};

/// The rollback facts of a run and the conflicts its Notion delivery flagged (all `None` on
/// an ordinary run whose Notion delivery found none).
#[derive(Debug, Clone, Default, FromRow, Serialize, PartialEq, Eq)]
pub struct RunMeta {
    /// The run whose snapshot this rollback published again.
    pub rollback_to: Option<String>,
    /// The run whose snapshot was the newest when the rollback was asked for.
    pub rollback_from: Option<String>,
    /// Who asked for the rollback (`api`, `cli:<user>`, `mcp`, later a console user).
    pub requested_by: Option<String>,
    /// JSON array of flagged Notion conflicts, set by the run's Notion delivery.
    pub conflicts: Option<String>,
}

/// Where a rollback run comes from.
#[derive(Debug, Clone)]
pub struct RollbackOrigin<'a> {
    pub to: &'a str,
    pub from: Option<&'a str>,
    pub by: &'a str,
}

impl Store {
    /// Starts a rollback run: the run row with its origin, in one statement, so no rollback
    /// run ever exists without saying what it restored.
    pub async fn start_rollback_run(
        &self,
        run: &RunStart,
        origin: &RollbackOrigin<'_>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_runs (id, job_id, trigger, started_at, status, rollback_to, rollback_from, requested_by) \
             VALUES ($1, $2, $3, $4, 'running', $5, $6, $7)",
        )
        .bind(&run.id)
        .bind(&run.job_id)
        .bind(&run.trigger)
        .bind(run.started_at)
        .bind(origin.to)
        .bind(origin.from)
        .bind(origin.by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The rollback facts and flagged conflicts of run `id` (`None` when there is no run).
    pub async fn run_meta(&self, id: &str) -> Result<Option<RunMeta>> {
        Ok(sqlx::query_as(
            "SELECT rollback_to, rollback_from, requested_by, conflicts FROM sync_runs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records the conflicts run `id`'s Notion delivery flagged (JSON array). A retry of the
    /// delivery writes its own, complete list over an earlier attempt's.
    pub async fn set_run_conflicts(&self, id: &str, conflicts_json: &str) -> Result<()> {
        sqlx::query("UPDATE sync_runs SET conflicts = $1 WHERE id = $2")
            .bind(conflicts_json)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets every incremental-fetch position, so the next sync fetches everything afresh
    /// (after a rollback the newest snapshot no longer holds what the cursors point past).
    pub async fn clear_cursors(&self) -> Result<()> {
        let (_turn, mut tx) = self.write_tx().await?;
        sqlx::query("DELETE FROM cursors").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `(run id, trend JSON or NULL)` of the `n` snapshots stored before run `id`'s (by commit
    /// time), oldest first: the trend the sync cycle read when it exported that run.
    pub async fn trends_before(&self, id: &str, n: i64) -> Result<Vec<(String, Option<String>)>> {
        let mut rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT s.run_id, s.trend FROM snapshots s, snapshots t WHERE t.run_id = $1 \
               AND (s.created_at < t.created_at OR (s.created_at = t.created_at AND s.run_id < t.run_id)) \
             ORDER BY s.created_at DESC, s.run_id DESC LIMIT $2",
        )
        .bind(id)
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }
}
