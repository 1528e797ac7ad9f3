//! The per-snapshot trend extract (`snapshots.trend`): a run's UCF values in a few bytes, so
//! trend charts over the last N runs never decompress N whole snapshots.
//!
//! Written right after `finish_run` commits; it is derived data, so a crash in between only
//! leaves it NULL, and readers rebuild it from the snapshot.

use super::{Result, Store};

impl Store {
    /// `(run id, trend JSON or NULL)` of the last `n` snapshots, oldest first.
    pub async fn recent_trends(&self, n: i64) -> Result<Vec<(String, Option<String>)>> {
        let mut rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT run_id, trend FROM snapshots ORDER BY created_at DESC, run_id DESC LIMIT $1",
        )
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn set_snapshot_trend(&self, run_id: &str, trend: &str) -> Result<()> {
        sqlx::query("UPDATE snapshots SET trend = $1 WHERE run_id = $2")
            .bind(trend)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
