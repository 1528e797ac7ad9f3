//! Sync runs and their snapshots.
//!
//! `finish_run` is the commit point of a sync cycle: the run's outcome, its compressed
//! snapshot, the cursors it advanced and the delivery rows for its publish targets are
//! written in one transaction. A run that dies before this point leaves the cursors where
//! they were, so the next run fetches the same data again instead of skipping it.

use std::io::{Read, Write};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde::Serialize;
use sqlx::FromRow;

use super::{CursorRow, Result, Store, StoreError};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct RunRow {
    pub id: String,
    pub job_id: Option<String>,
    pub trigger: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub status: String,
    /// JSON: per-source results.
    pub sources: String,
    /// JSON: the change summary.
    pub change_summary: String,
    /// JSON: list of written export files.
    pub exports: String,
    pub error: Option<String>,
}

/// What is known when a run begins.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub id: String,
    pub job_id: Option<String>,
    pub trigger: String,
    pub started_at: i64,
}

/// Everything a finished run commits at once.
#[derive(Debug, Clone)]
pub struct RunFinish<'a> {
    pub id: &'a str,
    pub finished_at: i64,
    pub status: &'a str,
    pub sources_json: &'a str,
    pub change_summary_json: &'a str,
    pub exports_json: &'a str,
    pub error: Option<&'a str>,
    pub schema_version: i64,
    /// Uncompressed snapshot JSON; `None` for a run that produced none.
    pub snapshot_json: Option<&'a [u8]>,
    pub cursors: &'a [CursorRow],
    /// Repositories whose cursors (and ETags) go: no longer covered by the source.
    pub forget: &'a [String],
    /// Publish targets to create `pending` deliveries for (others are `disabled`).
    pub targets: &'a [(&'a str, bool)],
    /// Jobs enqueued in the same transaction (one publish job per enabled target), so a
    /// crash can never leave a stored run without the jobs that deliver it.
    pub jobs: &'a [super::NewJob],
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

pub(super) fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Corrupt(format!("snapshot is not valid gzip: {e}")))?;
    Ok(out)
}

impl Store {
    pub async fn start_run(&self, run: &RunStart) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_runs (id, job_id, trigger, started_at, status) VALUES ($1, $2, $3, $4, 'running')",
        )
        .bind(&run.id)
        .bind(&run.job_id)
        .bind(&run.trigger)
        .bind(run.started_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The commit point of a run (see the module docs).
    pub async fn finish_run(&self, f: &RunFinish<'_>) -> Result<()> {
        let snapshot = match f.snapshot_json {
            Some(json) => Some(self.encode_snapshot(json).await?),
            None => None,
        };
        let (_turn, mut tx) = self.write_tx().await?;
        sqlx::query(
            "UPDATE sync_runs SET finished_at = $1, duration_ms = $1 - started_at, status = $2, sources = $3, \
                 change_summary = $4, exports = $5, error = $6 WHERE id = $7",
        )
        .bind(f.finished_at)
        .bind(f.status)
        .bind(f.sources_json)
        .bind(f.change_summary_json)
        .bind(f.exports_json)
        .bind(f.error)
        .bind(f.id)
        .execute(&mut *tx)
        .await?;
        if let Some(s) = &snapshot {
            Self::insert_snapshot_in(&mut tx, f.id, f.schema_version, f.finished_at, s).await?;
        }
        for repo in f.forget {
            Self::forget_repo_in(&mut tx, repo).await?;
        }
        for c in f.cursors {
            Self::put_cursor_in(&mut tx, c).await?;
        }
        for (target, enabled) in f.targets {
            sqlx::query(
                "INSERT INTO deliveries (run_id, target, state, next_attempt_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, target) DO NOTHING",
            )
            .bind(f.id)
            .bind(target)
            .bind(if *enabled { "pending" } else { "disabled" })
            .bind(f.finished_at)
            .bind(f.finished_at)
            .bind(f.finished_at)
            .execute(&mut *tx)
            .await?;
        }
        let keys = f.jobs.iter().filter_map(|j| j.coalesce_key.as_deref());
        super::coalesce::lock_coalesce_keys(&mut tx, keys).await?;
        for job in f.jobs {
            Self::enqueue_in(&mut tx, job, f.finished_at).await?;
        }
        tx.commit().await?;
        if let Some(s) = &snapshot {
            self.cache_snapshot(f.id, s);
        }
        Ok(())
    }

    pub async fn get_run(&self, id: &str) -> Result<Option<RunRow>> {
        Ok(sqlx::query_as("SELECT * FROM sync_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The most recent run of a job.
    pub async fn run_for_job(&self, job_id: &str) -> Result<Option<RunRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM sync_runs WHERE job_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Newest first.
    pub async fn list_runs(&self, limit: i64) -> Result<Vec<RunRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The newest finished run with the given status (e.g. the last success).
    pub async fn last_run_with_status(&self, statuses: &[&str]) -> Result<Option<RunRow>> {
        let rows = self.list_runs(500).await?;
        Ok(rows
            .into_iter()
            .find(|r| statuses.contains(&r.status.as_str())))
    }
}
