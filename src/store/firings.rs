//! The scheduler's ledger: one row per (schedule, fire time), written in the same transaction
//! as the firing's job.
//!
//! The row is what makes a firing happen once however many processes or restarts try it:
//! the insert that conflicts finds the firing already enqueued and enqueues nothing. It
//! must never record a firing without its job, or the job without the firing.

use super::{NewJob, Result, Store};

impl Store {
    /// Enqueues the job of a schedule firing unless that firing was enqueued before
    /// (by this process before a restart, or by another replica). `None` = already fired.
    pub async fn enqueue_firing(
        &self,
        schedule: &str,
        fire_at: i64,
        job: &NewJob,
        now: i64,
    ) -> Result<Option<(String, bool)>> {
        let (_turn, mut tx) = self.write_tx().await?;
        let fresh = sqlx::query(
            "INSERT INTO schedule_firings (schedule, fire_at, job_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (schedule, fire_at) DO NOTHING",
        )
        .bind(schedule)
        .bind(fire_at)
        .bind(&job.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(None);
        }
        let (id, created) = Self::enqueue_in(&mut tx, job, now).await?;
        if id != job.id {
            sqlx::query(
                "UPDATE schedule_firings SET job_id = $1 WHERE schedule = $2 AND fire_at = $3",
            )
            .bind(&id)
            .bind(schedule)
            .bind(fire_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some((id, created)))
    }

    /// Every recorded firing: `(schedule, fire time, job id)`, oldest first.
    pub async fn firings(&self) -> Result<Vec<(String, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT schedule, fire_at, job_id FROM schedule_firings ORDER BY fire_at, schedule",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A schedule's latest firing: `(fire time, job id, the job's state if it still exists)`.
    pub async fn last_firing_job(
        &self,
        schedule: &str,
    ) -> Result<Option<(i64, String, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT f.fire_at, f.job_id, j.state FROM schedule_firings f \
             LEFT JOIN jobs j ON j.id = f.job_id WHERE f.schedule = $1 \
             ORDER BY f.fire_at DESC LIMIT 1",
        )
        .bind(schedule)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The latest firing time recorded for a schedule (for catch-up after downtime).
    pub async fn last_firing(&self, schedule: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT MAX(fire_at) FROM schedule_firings WHERE schedule = $1")
                .bind(schedule)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
