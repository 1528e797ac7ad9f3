//! Inbound events and the jobs they create, written together.
//!
//! `insert_events` takes a whole batch (the group commit of concurrent requests) and writes
//! it in one transaction: for each event, either it is new (insert it, and enqueue or attach
//! to its job) or its delivery id was seen before (report the earlier id, write nothing).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Store};

/// Rows per multi-row statement (9 parameters each stays far below both backends' limits).
const INSERT_CHUNK: usize = 512;

/// Appends `rows` groups of `cols` numbered placeholders: `($1, $2), ($3, $4)`.
fn push_placeholders(sql: &mut String, rows: usize, cols: usize) {
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            sql.push_str(&format!(
                "{}${}",
                if c == 0 { "" } else { ", " },
                r * cols + c + 1
            ));
        }
        sql.push(')');
    }
}

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
    ///
    /// The statements are per batch, not per event: one multi-row insert (redeliveries are
    /// skipped by the conflict clause), one find-or-create per job (coalesced events share
    /// it), one update per job linking its events. Only duplicates are looked up one by one,
    /// and they are rare. This is what keeps group commit cheap under load.
    pub async fn insert_events(&self, batch: &[NewEvent]) -> Result<Vec<IngestOutcome>> {
        let (_turn, mut tx) = self.write_tx().await?;
        let mut inserted: HashSet<String> = HashSet::with_capacity(batch.len());
        for chunk in batch.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO events (id, source, delivery_id, event_type, hook_id, repo, headers, payload, received_at) VALUES ",
            );
            push_placeholders(&mut sql, chunk.len(), 9);
            sql.push_str(" ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id");
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for ev in chunk {
                q = q
                    .bind(&ev.id)
                    .bind(ev.source)
                    .bind(&ev.delivery_id)
                    .bind(&ev.event_type)
                    .bind(&ev.hook_id)
                    .bind(&ev.repo)
                    .bind(&ev.headers)
                    .bind(&ev.payload)
                    .bind(ev.received_at);
            }
            inserted.extend(q.fetch_all(&mut *tx).await?);
        }

        // One job per coalesce key in the batch; events without a key get their own.
        let mut by_key: HashMap<&str, String> = HashMap::new();
        let mut job_of: HashMap<&str, (String, bool)> = HashMap::new();
        let mut members: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for ev in batch.iter().filter(|e| inserted.contains(&e.id)) {
            let Some(job) = &ev.job else { continue };
            let known = job
                .coalesce_key
                .as_deref()
                .and_then(|k| by_key.get(k))
                .cloned();
            let (id, created) = match known {
                Some(id) => (id, false),
                None => {
                    let (id, created) = Self::enqueue_in(&mut tx, job, ev.received_at).await?;
                    if let Some(k) = job.coalesce_key.as_deref() {
                        by_key.insert(k, id.clone());
                    }
                    (id, created)
                }
            };
            members.entry(id.clone()).or_default().push(&ev.id);
            job_of.insert(&ev.id, (id, created));
        }
        for (job_id, ids) in &members {
            for chunk in ids.chunks(INSERT_CHUNK) {
                let mut sql = String::from("UPDATE events SET job_id = $1 WHERE id IN (");
                for i in 0..chunk.len() {
                    sql.push_str(&format!("{}${}", if i == 0 { "" } else { ", " }, i + 2));
                }
                sql.push(')');
                let mut q = sqlx::query(&sql).bind(job_id);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
        }

        let mut out = Vec::with_capacity(batch.len());
        for ev in batch {
            if inserted.contains(&ev.id) {
                let (job_id, job_created) = match job_of.remove(ev.id.as_str()) {
                    Some((id, created)) => (Some(id), created),
                    None => (None, false),
                };
                out.push(IngestOutcome {
                    id: ev.id.clone(),
                    duplicate: false,
                    job_id,
                    job_created,
                });
                continue;
            }
            // A redelivery (or a repeat within this batch): report what is stored.
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
