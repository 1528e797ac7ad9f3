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

/// The outcome of one delivery attempt (see [`Store::record_delivery`]).
#[derive(Debug, Clone)]
pub struct DeliveryOutcome<'a> {
    pub run_id: &'a str,
    pub target: &'a str,
    /// The new state: `succeeded`, `failed`, `dead` or `disabled`.
    pub state: &'a str,
    /// Whether this attempt counts (a rate-limit wait does not, as in the queue).
    pub count_attempt: bool,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<&'a str>,
    /// Kept as it was when `None`.
    pub external_id: Option<&'a str>,
    pub now: i64,
}

impl Store {
    /// Records how an attempt ended. `progress` is not touched: the publisher saved it as
    /// it went ([`Store::save_delivery_progress`]) and this write must not roll it back.
    pub async fn record_delivery(&self, o: &DeliveryOutcome<'_>) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = attempts + $2, next_attempt_at = $3, \
                 last_error = $4, external_id = COALESCE($5, external_id), updated_at = $6 \
             WHERE run_id = $7 AND target = $8",
        )
        .bind(o.state)
        .bind(i64::from(o.count_attempt))
        .bind(o.next_attempt_at)
        .bind(o.last_error)
        .bind(o.external_id)
        .bind(o.now)
        .bind(o.run_id)
        .bind(o.target)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Saves a delivery's resume point (and its external id once known) mid-attempt.
    pub async fn save_delivery_progress(
        &self,
        run_id: &str,
        target: &str,
        progress: &str,
        external_id: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET progress = $1, external_id = COALESCE($2, external_id), updated_at = $3 \
             WHERE run_id = $4 AND target = $5",
        )
        .bind(progress)
        .bind(external_id)
        .bind(now)
        .bind(run_id)
        .bind(target)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
