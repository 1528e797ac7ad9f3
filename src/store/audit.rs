//! The audit log (who did what, when) and the failed attempts of jobs: append-only rows.

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Store};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AttemptRow {
    pub job_id: String,
    pub attempt: i64,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    /// `retrying` or `dead`.
    pub outcome: String,
    pub error: Option<String>,
}

impl Store {
    pub async fn insert_audit(&self, row: &AuditRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(row.at)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(&row.target)
        .bind(&row.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Newest first, older than `before` (an entry id) when given.
    pub async fn audit_page(&self, before: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM audit_log WHERE (CAST($1 AS TEXT) IS NULL OR id < $1) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a failed attempt (a repeat of the same attempt number replaces it).
    pub async fn insert_attempt(&self, a: &AttemptRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO job_attempts (job_id, attempt, started_at, finished_at, outcome, error) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, attempt) DO UPDATE SET \
             started_at = excluded.started_at, finished_at = excluded.finished_at, \
             outcome = excluded.outcome, error = excluded.error",
        )
        .bind(&a.job_id)
        .bind(a.attempt)
        .bind(a.started_at)
        .bind(a.finished_at)
        .bind(&a.outcome)
        .bind(&a.error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn attempts(&self, job_id: &str) -> Result<Vec<AttemptRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM job_attempts WHERE job_id = $1 ORDER BY finished_at, attempt",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
