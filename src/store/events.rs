//! Inbound events and the jobs they create, written together.
//!
//! `insert_events` takes a whole batch (the group commit of concurrent requests) and writes
//! it in one transaction: for each event, either it is new (insert it, and enqueue or attach
//! to its job) or its delivery id was seen before (report the earlier id, write nothing).

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Store};

/// A verified event on its way into the store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub source: &'static str,
    pub delivery_id: String,
    pub event_type: String,
    pub hook_id: Option<String>,
    pub repo: Option<String>,
    /// JSON object of the headers worth keeping.
    pub headers: String,
    /// The signed JSON document.
    pub payload: String,
    pub received_at: i64,
    /// The job this event asks for, if any.
    pub job: Option<NewJob>,
}

/// A job to enqueue. With a `coalesce_key`, it merges into a waiting job with the same key.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub kind: String,
    /// Serialized `queue::JobPayload`.
    pub payload: String,
    pub coalesce_key: Option<String>,
    pub priority: i64,
    pub run_at: i64,
    pub max_attempts: i64,
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestOutcome {
    pub id: String,
    pub duplicate: bool,
    pub job_id: Option<String>,
    /// True when a new job row was written (workers should wake up).
    pub job_created: bool,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct EventRow {
    pub id: String,
    pub source: String,
    pub delivery_id: String,
    pub event_type: String,
    pub hook_id: Option<String>,
    pub repo: Option<String>,
    pub headers: String,
    pub payload: String,
    pub received_at: i64,
    pub job_id: Option<String>,
}

impl Store {
    /// Writes a batch of events (and their jobs) in one transaction; returns after commit.
    pub async fn insert_events(&self, batch: &[NewEvent]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(batch.len());
        for ev in batch {
            let inserted = sqlx::query(
                "INSERT INTO events (id, source, delivery_id, event_type, hook_id, repo, headers, payload, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source, delivery_id) DO NOTHING",
            )
            .bind(&ev.id)
            .bind(ev.source)
            .bind(&ev.delivery_id)
            .bind(&ev.event_type)
            .bind(&ev.hook_id)
            .bind(&ev.repo)
            .bind(&ev.headers)
            .bind(&ev.payload)
            .bind(ev.received_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !inserted {
                let (id, job_id): (String, Option<String>) = sqlx::query_as(
                    "SELECT id, job_id FROM events WHERE source = $1 AND delivery_id = $2",
                )
                .bind(ev.source)
                .bind(&ev.delivery_id)
                .fetch_one(&mut *tx)
                .await?;
                out.push(IngestOutcome {
                    id,
                    duplicate: true,
                    job_id,
                    job_created: false,
                });
                continue;
            }
            let (job_id, job_created) = match &ev.job {
                Some(job) => {
                    let (id, created) = Self::enqueue_in(&mut tx, job, ev.received_at).await?;
                    sqlx::query("UPDATE events SET job_id = $1 WHERE id = $2")
                        .bind(&id)
                        .bind(&ev.id)
                        .execute(&mut *tx)
                        .await?;
                    (Some(id), created)
                }
                None => (None, false),
            };
            out.push(IngestOutcome {
                id: ev.id.clone(),
                duplicate: false,
                job_id,
                job_created,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn get_event(&self, id: &str) -> Result<Option<EventRow>> {
        Ok(sqlx::query_as("SELECT * FROM events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The events a job covers, oldest first.
    pub async fn events_for_job(&self, job_id: &str) -> Result<Vec<EventRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM events WHERE job_id = $1 ORDER BY received_at, id")
                .bind(job_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Every stored `(delivery id, job id)` of a source (for crash checks and audits).
    pub async fn delivery_jobs(&self, source: &str) -> Result<Vec<(String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT delivery_id, job_id FROM events WHERE source = $1")
                .bind(source)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Number of stored events (for tests, stats and the crash check).
    pub async fn count_events(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }
}
