//! The SQLite event writer: one thread with its own connection that commits ingest batches.
//!
//! Through sqlx every statement is a hand-off to the connection's worker thread and back,
//! and under load each hand-off waits for a core: a batch of six statements spent more time
//! waiting than writing. This thread runs a whole batch (begin, lookups, jobs, inserts,
//! commit) in one hand-off, with cached prepared statements. It follows the same
//! [`BatchPlan`] as the sqlx path, so both backends decide the same way; only the calls to
//! the database differ. It takes the store's write turn like every other writer of the
//! process, and it never answers before its commit has returned (`synchronous = FULL`).

use std::collections::HashSet;
use std::sync::{mpsc, Arc};

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::events::{BatchPlan, Row, Stored, EVENT_COLUMNS};
use super::jobs::{INSERT_JOB, WAITING_JOB};
use super::{IngestOutcome, NewEvent, NewJob, Result, StoreError};

type Request = (Vec<NewEvent>, oneshot::Sender<Result<Vec<IngestOutcome>>>);

/// Handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(super) struct EventWriter {
    requests: mpsc::Sender<Request>,
}

impl EventWriter {
    /// Opens a connection to the database file at `path` and starts the thread.
    pub(super) fn start(path: &str, gate: Arc<tokio::sync::Mutex<()>>) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;",
        )?;
        let (requests, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("sqlite-events".into())
            .spawn(move || serve(conn, &gate, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the event writer: {e}")))?;
        Ok(Self { requests })
    }

    /// Commits `batch` and returns what each event became.
    pub(super) async fn write(&self, batch: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((batch, reply))
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn serve(
    mut conn: rusqlite::Connection,
    gate: &tokio::sync::Mutex<()>,
    rx: mpsc::Receiver<Request>,
) {
    while let Ok((batch, reply)) = rx.recv() {
        let result = {
            let _turn = gate.blocking_lock();
            write_batch(&mut conn, &batch)
        };
        let _ = reply.send(result);
    }
}

fn write_batch(conn: &mut rusqlite::Connection, batch: &[NewEvent]) -> Result<Vec<IngestOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // This thread is the only writer while it holds the write lock, so nothing can store a
    // delivery between the lookup and the insert: one lookup suffices.
    let stored = stored_deliveries(&tx, batch)?;
    let plan = BatchPlan::new(batch, &stored);
    let resolved = plan
        .jobs()
        .iter()
        .map(|(job, now)| enqueue(&tx, job, *now))
        .collect::<Result<Vec<_>>>()?;
    let rows = plan.rows(&resolved);
    let inserted = insert_rows(&tx, &rows)?;
    let out = plan.outcomes(rows, &inserted, &stored)?;
    tx.commit()?;
    Ok(out)
}

fn stored_deliveries(tx: &rusqlite::Transaction<'_>, batch: &[NewEvent]) -> Result<Stored> {
    let mut stmt =
        tx.prepare_cached("SELECT id, job_id FROM events WHERE source = $1 AND delivery_id = $2")?;
    let mut found = Stored::default();
    for ev in batch {
        let row: Option<(String, Option<String>)> = stmt
            .query_row(params![ev.source, ev.delivery_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some(row) = row {
            found.insert(ev.source, ev.delivery_id.clone(), row);
        }
    }
    Ok(found)
}

/// `Store::enqueue_in` on this connection: join the waiting job with the key, or create one.
fn enqueue(tx: &rusqlite::Transaction<'_>, job: &NewJob, now: i64) -> Result<(String, bool)> {
    if let Some(key) = &job.coalesce_key {
        let waiting: Option<String> = tx
            .prepare_cached(WAITING_JOB)?
            .query_row([key], |r| r.get(0))
            .optional()?;
        if let Some(id) = waiting {
            return Ok((id, false));
        }
    }
    tx.prepare_cached(INSERT_JOB)?.execute(params![
        job.id,
        job.kind,
        job.payload,
        job.coalesce_key,
        job.priority,
        job.run_at,
        job.max_attempts,
        now
    ])?;
    Ok((job.id.clone(), true))
}

/// One prepared insert per row: without the hand-offs, rows cost microseconds each, and one
/// cached statement beats a multi-row one whose text changes with the batch size.
fn insert_rows(tx: &rusqlite::Transaction<'_>, rows: &[Row<'_>]) -> Result<HashSet<String>> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (source, delivery_id) DO NOTHING"
    ))?;
    let mut inserted = HashSet::with_capacity(rows.len());
    for (ev, job) in rows {
        let written = stmt.execute(params![
            ev.id,
            ev.source,
            ev.delivery_id,
            ev.event_type,
            ev.hook_id,
            ev.repo,
            ev.headers,
            ev.payload,
            ev.received_at,
            job.as_ref().map(|(id, _)| id.as_str()),
        ])?;
        if written == 1 {
            inserted.insert(ev.id.clone());
        }
    }
    Ok(inserted)
}
