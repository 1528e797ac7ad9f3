//! Inbound events and the jobs they create, written together.
//!
//! `insert_events` takes a whole batch (the group commit of concurrent requests) and writes
//! it in one transaction: for each event, either it is new (insert it, and enqueue or attach
//! to its job) or its delivery id was seen before (report the earlier id, write nothing).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};

use super::{Result, Store};

/// Rows per multi-row statement. Small enough that binding stays cheap (SQLite looks up
/// parameters by a linear scan) and far below both backends' parameter limits.
const INSERT_CHUNK: usize = 128;

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

/// `(event id, job id)` of the batch's deliveries that are already stored, by
/// `(source, delivery id)`. One query per source in the batch (usually one).
async fn stored_deliveries(
    tx: &mut Transaction<'static, Any>,
    batch: &[NewEvent],
) -> Result<HashMap<(&'static str, String), (String, Option<String>)>> {
    let mut found = HashMap::new();
    let sources: BTreeSet<&'static str> = batch.iter().map(|e| e.source).collect();
    for source in sources {
        let ids: Vec<&str> = batch
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.delivery_id.as_str())
            .collect();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "SELECT delivery_id, id, job_id FROM events WHERE source = $1 AND delivery_id IN (",
            );
            for i in 0..chunk.len() {
                sql.push_str(&format!("{}${}", if i == 0 { "" } else { ", " }, i + 2));
            }
            sql.push(')');
            let mut q = sqlx::query_as::<_, (String, String, Option<String>)>(&sql).bind(source);
            for id in chunk {
                q = q.bind(*id);
            }
            for (delivery, id, job) in q.fetch_all(&mut **tx).await? {
                found.insert((source, delivery), (id, job));
            }
        }
    }
    Ok(found)
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
    /// The statements are per batch, not per event: one lookup of the batch's delivery ids
    /// that were seen before, one find-or-create per job (coalesced events share it), and
    /// one multi-row insert of the new events with their job id already set. Each event row
    /// is written exactly once: an `UPDATE` adding the job id afterwards would make SQLite
    /// rewrite the whole row, payload included, doubling what every commit writes.
    pub async fn insert_events(&self, batch: &[NewEvent]) -> Result<Vec<IngestOutcome>> {
        let (_turn, mut tx) = self.write_tx().await?;
        let mut seen = stored_deliveries(&mut tx, batch).await?;

        // First occurrence of each delivery id wins; repeats within the batch are duplicates.
        let mut fresh: Vec<(&NewEvent, Option<(String, bool)>)> = Vec::with_capacity(batch.len());
        let mut in_batch: HashSet<(&str, &str)> = HashSet::with_capacity(batch.len());
        let mut by_key: HashMap<&str, String> = HashMap::new();
        for ev in batch {
            let delivery = (ev.source, ev.delivery_id.as_str());
            if seen.contains_key(&(ev.source, ev.delivery_id.clone())) || !in_batch.insert(delivery)
            {
                continue;
            }
            let job = match &ev.job {
                None => None,
                Some(job) => match job.coalesce_key.as_deref().and_then(|k| by_key.get(k)) {
                    Some(id) => Some((id.clone(), false)),
                    None => {
                        let (id, created) = Self::enqueue_in(&mut tx, job, ev.received_at).await?;
                        if let Some(k) = job.coalesce_key.as_deref() {
                            by_key.insert(k, id.clone());
                        }
                        Some((id, created))
                    }
                },
            };
            fresh.push((ev, job));
        }

        let mut inserted: HashSet<String> = HashSet::with_capacity(fresh.len());
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO events (id, source, delivery_id, event_type, hook_id, repo, headers, payload, received_at, job_id) VALUES ",
            );
            push_placeholders(&mut sql, chunk.len(), 10);
            // A conflict here means another replica stored the delivery since our lookup
            // (PostgreSQL only; SQLite writers are serialized). The row is not returned and
            // is reported below as the duplicate it is.
            sql.push_str(" ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id");
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for (ev, job) in chunk {
                q = q
                    .bind(&ev.id)
                    .bind(ev.source)
                    .bind(&ev.delivery_id)
                    .bind(&ev.event_type)
                    .bind(&ev.hook_id)
                    .bind(&ev.repo)
                    .bind(&ev.headers)
                    .bind(&ev.payload)
                    .bind(ev.received_at)
                    .bind(job.as_ref().map(|(id, _)| id.as_str()));
            }
            inserted.extend(q.fetch_all(&mut *tx).await?);
        }
        if inserted.len() < fresh.len() {
            seen = stored_deliveries(&mut tx, batch).await?;
        }

        let mut jobs: HashMap<&str, (String, bool)> = fresh
            .into_iter()
            .filter(|(ev, _)| inserted.contains(&ev.id))
            .filter_map(|(ev, job)| Some((ev.id.as_str(), job?)))
            .collect();
        // Outcomes by delivery, so a repeat later in the batch reports its first occurrence.
        let mut stored: HashMap<(&str, &str), (String, Option<String>)> = HashMap::new();
        let mut out = Vec::with_capacity(batch.len());
        for ev in batch {
            let delivery = (ev.source, ev.delivery_id.as_str());
            if inserted.contains(&ev.id) {
                let (job_id, job_created) = match jobs.remove(ev.id.as_str()) {
                    Some((id, created)) => (Some(id), created),
                    None => (None, false),
                };
                stored.insert(delivery, (ev.id.clone(), job_id.clone()));
                out.push(IngestOutcome {
                    id: ev.id.clone(),
                    duplicate: false,
                    job_id,
                    job_created,
                });
                continue;
            }
            // A redelivery (or a repeat within this batch): report what is stored.
            let (id, job_id) = stored
                .get(&delivery)
                .or_else(|| seen.get(&(ev.source, ev.delivery_id.clone())))
                .cloned()
                .ok_or_else(|| {
                    super::StoreError::Corrupt(format!(
                        "delivery {} is neither stored nor inserted",
                        ev.delivery_id
                    ))
                })?;
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
