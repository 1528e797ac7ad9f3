//! The run's optional model-written summary (`sync_runs.generated_summary`, a JSON text the
//! store does not interpret). Kept out of `RunRow` on purpose: only the exporters and
//! publishers that show it read it.

use super::{Result, Store};

impl Store {
    /// Records run `run_id`'s generated summary (JSON). Written before the run commits.
    pub async fn set_generated_summary(&self, run_id: &str, json: &str) -> Result<()> {
        sqlx::query("UPDATE sync_runs SET generated_summary = $1 WHERE id = $2")
            .bind(json)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Run `run_id`'s generated summary JSON; `None` when it has none (or no such run).
    pub async fn generated_summary(&self, run_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT generated_summary FROM sync_runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(s,)| s))
    }
}
