//! Inbound events and the jobs they create, written together.
//!
//! `insert_events` takes a whole batch (the group commit of concurrent requests) and writes
//! it in one transaction: for each event, either it is new (insert it, and enqueue or attach
//! to its job) or its delivery id was seen before (report the earlier id, write nothing).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use sqlx::{Any, AssertSqlSafe, Transaction};

use super::binds::push_placeholders;
use super::{Compressed, Result, Store};

/// Rows per multi-row statement. Small enough that binding stays cheap (SQLite looks up
/// parameters by a linear scan) and far below both backends' parameter limits.
const INSERT_CHUNK: usize = 128;

/// The sources an event can come from (`events.source`).
pub const SOURCES: [&str; 4] = ["github", "ritual", "manual", "discord"];

/// An event row as a duplicate reports it: `(event id, job id)`.
type StoredRow = (String, Option<String>);

/// Deliveries already stored, by source and delivery id. Nested so that a lookup borrows
/// the delivery id instead of building an owned key for every event of a batch.
#[derive(Debug, Default)]
pub(super) struct Stored(HashMap<&'static str, HashMap<String, StoredRow>>);

impl Stored {
    pub(super) fn insert(&mut self, source: &'static str, delivery: String, row: StoredRow) {
        self.0.entry(source).or_default().insert(delivery, row);
    }

    pub(super) fn get(&self, source: &str, delivery: &str) -> Option<&StoredRow> {
        self.0.get(source)?.get(delivery)
    }
}

impl FromIterator<((&'static str, String), StoredRow)> for Stored {
    fn from_iter<I: IntoIterator<Item = ((&'static str, String), StoredRow)>>(rows: I) -> Self {
        let mut stored = Self::default();
        for ((source, delivery), row) in rows {
            stored.insert(source, delivery, row);
        }
        stored
    }
}

/// The columns of a new event row, in the order the insert statements bind them.
/// `payload` is bound as `''`: it holds the text only of rows from before compression.
pub(super) const EVENT_COLUMNS: &str =
    "id, source, delivery_id, event_type, hook_id, repo, headers, \
     payload, payload_zstd, received_at, job_id";

/// Placeholders per row of [`EVENT_COLUMNS`].
pub(super) const EVENT_COLUMN_COUNT: usize = 11;

/// The batch's deliveries that are already stored. One query per source in the batch
/// (usually one).
async fn stored_deliveries(
    tx: &mut Transaction<'static, Any>,
    batch: &[NewEvent],
) -> Result<Stored> {
    let mut found = Stored::default();
    let sources: BTreeSet<&'static str> = batch.iter().map(|e| e.source).collect();
    for source in sources {
        let ids: Vec<&str> = batch
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.delivery_id.as_str())
            .collect();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "SELECT delivery_id, id, job_id FROM events WHERE source = $1 AND delivery_id IN ",
            );
            push_placeholders(&mut sql, 1, chunk.len(), 2);
            let mut q = sqlx::query_as::<_, (String, String, Option<String>)>(AssertSqlSafe(sql))
                .bind(source);
            for id in chunk {
                q = q.bind(*id);
            }
            for (delivery, id, job) in q.fetch_all(&mut **tx).await? {
                found.insert(source, delivery, (id, job));
            }
        }
    }
    Ok(found)
}

/// A new event row and the job it belongs to (`(job id, created)`).
pub(super) type Row<'a> = (&'a NewEvent, Option<(String, bool)>);

/// The half of writing a batch that needs no database, shared by both backends' writers.
///
/// Given the deliveries already stored, the first occurrence of every other delivery is
/// new; each new event asking for a job gets one, shared by all events with its coalesce
/// key. The writer finds or creates the jobs [`BatchPlan::jobs`] lists, inserts the
/// [`BatchPlan::rows`], and [`BatchPlan::outcomes`] says what each request gets back.
pub(super) struct BatchPlan<'a> {
    batch: &'a [NewEvent],
    fresh: Vec<&'a NewEvent>,
    /// For each fresh event, the index of its job in `jobs`.
    slots: Vec<Option<usize>>,
    jobs: Vec<(&'a NewJob, i64)>,
}

impl<'a> BatchPlan<'a> {
    pub(super) fn new(batch: &'a [NewEvent], stored: &Stored) -> Self {
        let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(batch.len());
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        let (mut fresh, mut slots, mut jobs) = (Vec::new(), Vec::new(), Vec::new());
        for ev in batch {
            let delivery = (ev.source, ev.delivery_id.as_str());
            if stored.get(ev.source, &ev.delivery_id).is_some() || !seen.insert(delivery) {
                continue;
            }
            let slot = ev.job.as_ref().map(|job| {
                let key = job.coalesce_key.as_deref();
                match key.and_then(|k| by_key.get(k)) {
                    Some(&i) => i,
                    None => {
                        jobs.push((job, ev.received_at));
                        if let Some(k) = key {
                            by_key.insert(k, jobs.len() - 1);
                        }
                        jobs.len() - 1
                    }
                }
            });
            fresh.push(ev);
            slots.push(slot);
        }
        Self {
            batch,
            fresh,
            slots,
            jobs,
        }
    }

    /// The jobs to find or create, with the time to enqueue each at.
    pub(super) fn jobs(&self) -> &[(&'a NewJob, i64)] {
        &self.jobs
    }

    /// The new event rows, given each job's `(id, created)` in the order of [`Self::jobs`].
    pub(super) fn rows(&self, resolved: &[(String, bool)]) -> Vec<Row<'a>> {
        self.fresh
            .iter()
            .zip(&self.slots)
            .map(|(ev, slot)| (*ev, slot.map(|i| resolved[i].clone())))
            .collect()
    }

    /// What each event of the batch gets back, once `inserted` (event ids) are written.
    /// `stored` must include any delivery a concurrent writer stored meanwhile.
    pub(super) fn outcomes(
        &self,
        rows: Vec<Row<'a>>,
        inserted: &HashSet<String>,
        stored: &Stored,
    ) -> Result<Vec<IngestOutcome>> {
        let mut jobs: HashMap<&str, (String, bool)> = rows
            .into_iter()
            .filter(|(ev, _)| inserted.contains(&ev.id))
            .filter_map(|(ev, job)| Some((ev.id.as_str(), job?)))
            .collect();
        // Outcomes by delivery, so a repeat later in the batch reports its first occurrence.
        let mut written: HashMap<(&str, &str), (String, Option<String>)> = HashMap::new();
        let mut out = Vec::with_capacity(self.batch.len());
        for ev in self.batch {
            let delivery = (ev.source, ev.delivery_id.as_str());
            if inserted.contains(&ev.id) {
                let (job_id, job_created) = match jobs.remove(ev.id.as_str()) {
                    Some((id, created)) => (Some(id), created),
                    None => (None, false),
                };
                written.insert(delivery, (ev.id.clone(), job_id.clone()));
                out.push(IngestOutcome {
                    id: ev.id.clone(),
                    duplicate: false,
                    job_id,
                    job_created,
                });
                continue;
            }
            // A redelivery (or a repeat within this batch): report what is stored.
            let (id, job_id) = written
                .get(&delivery)
                .or_else(|| stored.get(ev.source, &ev.delivery_id))
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
        Ok(out)
    }
}

/// Inserts `rows` (multi-row statements); returns the ids actually written.
async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    rows: &[Row<'_>],
) -> Result<HashSet<String>> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ");
        push_placeholders(&mut sql, chunk.len(), EVENT_COLUMN_COUNT, 1);
        // A conflict here means another replica stored the delivery since our lookup. The
        // row is not returned and is reported as the duplicate it is.
        sql.push_str(" ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id");
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for (ev, job) in chunk {
            q = q
                .bind(&ev.id)
                .bind(ev.source)
                .bind(&ev.delivery_id)
                .bind(&ev.event_type)
                .bind(&ev.hook_id)
                .bind(&ev.repo)
                .bind(&ev.headers)
                .bind("")
                .bind(ev.payload.as_bytes())
                .bind(ev.received_at)
                .bind(job.as_ref().map(|(id, _)| id.as_str()));
        }
        inserted.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(inserted)
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
    /// The signed JSON document, compressed (on the request's task, not the writer's).
    pub payload: Compressed,
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
    /// The publish target this job competes for (`jobs.lane`).
    pub lane: Option<String>,
    /// Debounce of its coalescing key, when it has one.
    pub debounce: Option<super::coalesce::Debounce>,
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

/// A stored event, payload decoded (see `payload` for how rows map to it).
#[derive(Debug, Clone, Serialize)]
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
    /// that were seen before, one batch find-or-create of the jobs (`enqueue_many_in`;
    /// coalesced events share a job), and one multi-row insert of the new events with their
    /// job id already set. Each event row
    /// is written exactly once: an `UPDATE` adding the job id afterwards would make SQLite
    /// rewrite the whole row, payload included, doubling what every commit writes.
    ///
    /// On SQLite the batch goes to the event writer thread instead (`event_writer`): the
    /// same plan, run in one hand-off rather than one per statement.
    pub async fn insert_events(&self, batch: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        if let Some(writer) = &self.event_writer {
            return writer.write(batch).await;
        }
        let (_turn, mut tx) = self.write_tx().await?;
        let mut stored = stored_deliveries(&mut tx, &batch).await?;
        let plan = BatchPlan::new(&batch, &stored);
        let resolved = Self::enqueue_many_in(&mut tx, plan.jobs()).await?;
        let rows = plan.rows(&resolved);
        let inserted = insert_rows(&mut tx, &rows).await?;
        if inserted.len() < rows.len() {
            stored = stored_deliveries(&mut tx, &batch).await?;
        }
        let out = plan.outcomes(rows, &inserted, &stored)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, delivery: &str, key: Option<&str>) -> NewEvent {
        NewEvent {
            id: id.into(),
            source: "github",
            delivery_id: delivery.into(),
            event_type: "push".into(),
            hook_id: None,
            repo: None,
            headers: "{}".into(),
            payload: Compressed::new("{}"),
            received_at: 1,
            job: Some(NewJob {
                id: format!("job-{id}"),
                kind: "sync".into(),
                payload: "{}".into(),
                coalesce_key: key.map(str::to_owned),
                priority: 0,
                run_at: 1,
                max_attempts: 5,
                lane: None,
                debounce: None,
            }),
        }
    }

    #[test]
    fn a_batch_plans_one_job_per_key_and_reports_every_kind_of_duplicate() {
        let batch = vec![
            event("e1", "d1", Some("repo:a")),
            event("e2", "d2", Some("repo:a")),
            event("e3", "d1", Some("repo:a")), // repeat of d1 within the batch
            event("e4", "d4", None),
            event("e5", "old", Some("repo:b")), // stored by an earlier batch
        ];
        let stored: Stored = [(
            ("github", "old".to_owned()),
            ("e0".to_owned(), Some("job-0".to_owned())),
        )]
        .into_iter()
        .collect();
        let plan = BatchPlan::new(&batch, &stored);
        let keys: Vec<_> = plan
            .jobs()
            .iter()
            .map(|(j, _)| j.coalesce_key.clone())
            .collect();
        assert_eq!(keys, vec![Some("repo:a".to_owned()), None]);

        let resolved = vec![("waiting".to_owned(), false), ("job-e4".to_owned(), true)];
        let rows = plan.rows(&resolved);
        let ids: Vec<_> = rows.iter().map(|(e, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2", "e4"]);
        let inserted: HashSet<String> = ids.iter().map(|s| s.to_string()).collect();
        let out = plan.outcomes(rows, &inserted, &stored).unwrap();
        let summary: Vec<_> = out
            .iter()
            .map(|o| {
                (
                    o.id.as_str(),
                    o.duplicate,
                    o.job_id.as_deref(),
                    o.job_created,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("e1", false, Some("waiting"), false),
                ("e2", false, Some("waiting"), false),
                ("e1", true, Some("waiting"), false),
                ("e4", false, Some("job-e4"), true),
                ("e0", true, Some("job-0"), false),
            ]
        );
    }

    #[test]
    fn a_row_another_writer_stored_first_is_reported_as_its_duplicate() {
        let batch = vec![event("e1", "d1", None)];
        let plan = BatchPlan::new(&batch, &Stored::default());
        let rows = plan.rows(&[("job-e1".to_owned(), true)]);
        // The insert conflicted: a replica stored d1 between our lookup and our insert.
        let raced: Stored = [(("github", "d1".to_owned()), ("r1".to_owned(), None))]
            .into_iter()
            .collect();
        let out = plan.outcomes(rows, &HashSet::new(), &raced).unwrap();
        assert_eq!((out[0].id.as_str(), out[0].duplicate), ("r1", true));
    }
}
