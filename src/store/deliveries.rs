//! Publish deliveries: one row per (run, target), each with its own attempts and outcome.
//!
//! The row is the memory that makes publishing exactly-once in effect: a target whose row
//! says `succeeded` (with the external id it got back) is never sent again, and `progress`
//! lets a multi-request target (Notion: page, then block chunks) resume where it stopped.

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Store};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DeliveryRow {
    pub run_id: String,
    pub target: String,
    /// `pending`, `succeeded`, `failed` (will retry), `dead` or `disabled`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    /// Id on the other side (Discord message id, Notion page id, feed file).
    pub external_id: Option<String>,
    /// JSON: target-specific resume point.
    pub progress: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    pub async fn deliveries_for_run(&self, run_id: &str) -> Result<Vec<DeliveryRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM deliveries WHERE run_id = $1 ORDER BY target")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn get_delivery(&self, run_id: &str, target: &str) -> Result<Option<DeliveryRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM deliveries WHERE run_id = $1 AND target = $2")
                .bind(run_id)
                .bind(target)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Saves a delivery's new state after an attempt.
    pub async fn update_delivery(&self, d: &DeliveryRow) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4, \
                 external_id = $5, progress = $6, updated_at = $7 WHERE run_id = $8 AND target = $9",
        )
        .bind(&d.state)
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(&d.last_error)
        .bind(&d.external_id)
        .bind(&d.progress)
        .bind(d.updated_at)
        .bind(&d.run_id)
        .bind(&d.target)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The most recent delivery of each target (for health).
    pub async fn latest_deliveries(&self) -> Result<Vec<DeliveryRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM deliveries d WHERE NOT EXISTS ( \
                 SELECT 1 FROM deliveries x WHERE x.target = d.target AND \
                     (x.updated_at > d.updated_at OR (x.updated_at = d.updated_at AND x.run_id > d.run_id))) \
             ORDER BY d.target",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
