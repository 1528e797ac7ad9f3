//! The SQLite event writer: one thread with its own connection that commits ingest batches,
//! and one that makes them durable.
//!
//! Through sqlx every statement is a hand-off to the connection's worker thread and back,
//! and under load each hand-off waits for a core: a batch of six statements spent more time
//! waiting than writing. The writer thread runs a whole batch (begin, lookups, jobs,
//! inserts, commit) in one hand-off, with cached prepared statements. It follows the same
//! [`BatchPlan`] as the sqlx path, so both backends decide the same way; only the calls to
//! the database differ. It takes the store's write turn like every other writer of the
//! process.
//!
//! **Durability.** This connection commits with `synchronous = NORMAL`: the commit reaches
//! the WAL file (the OS holds it, so a crash of the process loses nothing) but not yet the
//! disk. The sync thread then `fdatasync`s the WAL and only then answers the batch's
//! requests, so no event is acknowledged before it is on disk, exactly as with `FULL`. The
//! difference is where the wait happens: with `FULL` the sync ran inside the commit, on our
//! write turn, and the next batch could not begin until the disk answered; now the next
//! batch is written while the previous one syncs, and one sync covers every batch committed
//! before it began. SQLite itself still syncs where consistency needs it (the WAL header
//! when the WAL starts over, and around checkpoints), so a power loss can lose only batches
//! that were never acknowledged. The sync thread never answers after a failed sync.

use std::collections::HashSet;
use std::sync::{mpsc, Arc};

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::binds::push_placeholders;
use super::coalesce::{joined_run_at, INSERT_JOB, LAST_ACTIVITY, RESCHEDULE_WAITING, WAITING_JOB};
use super::events::{BatchPlan, Row, Stored, EVENT_COLUMNS, EVENT_COLUMN_COUNT};
use super::pool::SQLITE_SETTINGS;
use super::{IngestOutcome, NewEvent, NewJob, Result, StoreError};

type Reply = oneshot::Sender<Result<Vec<IngestOutcome>>>;
type Request = (Vec<NewEvent>, Reply);

/// Handle to the writer thread; the threads end when the last handle is dropped.
#[derive(Debug)]
pub(super) struct EventWriter {
    requests: mpsc::Sender<Request>,
}

impl EventWriter {
    /// Opens a connection to the database file at `path` and starts the threads.
    pub(super) fn start(path: &str, gate: Arc<tokio::sync::Mutex<()>>) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        for pragma in SQLITE_SETTINGS {
            conn.execute_batch(pragma)?;
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        let wal = format!("{path}-wal");
        let (requests, rx) = mpsc::channel::<Request>();
        let (committed, to_sync) = mpsc::channel::<Committed>();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(|e| StoreError::Corrupt(format!("cannot start the event writer: {e}")))
        };
        spawn("sqlite-sync", Box::new(move || sync(&wal, to_sync)))?;
        spawn(
            "sqlite-events",
            Box::new(move || serve(conn, &gate, rx, committed)),
        )?;
        Ok(Self { requests })
    }

    /// Commits `batch` and returns what each event became, once it is on disk.
    pub(super) async fn write(&self, batch: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((batch, reply))
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// A committed batch waiting for its sync: the outcomes and where they go.
type Committed = (Vec<IngestOutcome>, Reply);

fn serve(
    mut conn: rusqlite::Connection,
    gate: &tokio::sync::Mutex<()>,
    rx: mpsc::Receiver<Request>,
    committed: mpsc::Sender<Committed>,
) {
    while let Ok((batch, reply)) = rx.recv() {
        let result = {
            let _turn = gate.blocking_lock();
            write_batch(&mut conn, &batch)
        };
        match result {
            Ok(outcomes) => {
                if let Err(mpsc::SendError((_, reply))) = committed.send((outcomes, reply)) {
                    let _ = reply.send(Err(StoreError::WriterGone));
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// Syncs the WAL for every batch committed before the sync began, then answers them.
fn sync(wal: &str, committed: mpsc::Receiver<Committed>) {
    // Opened at the first batch: by then a commit has created the file. SQLite keeps this
    // same file (it truncates or overwrites it, never replaces it) while any connection of
    // ours is open, and the writer's connection is open as long as this thread runs.
    let mut file: Option<std::fs::File> = None;
    while let Ok(first) = committed.recv() {
        let mut ready = vec![first];
        ready.extend(committed.try_iter());
        let synced = match &file {
            Some(f) => f.sync_data(),
            None => std::fs::File::open(wal).and_then(|f| {
                let r = f.sync_data();
                file = Some(f);
                r
            }),
        };
        match synced {
            Ok(()) => {
                for (outcomes, reply) in ready {
                    let _ = reply.send(Ok(outcomes));
                }
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the dirty pages: these
                // batches may or may not be on disk, so none of them is acknowledged (a
                // sender's retry is then answered as the duplicate it may be).
                tracing::error!(error = %e, "fdatasync of the WAL failed");
                for (_, reply) in ready {
                    let _ = reply.send(Err(StoreError::WalSync(e.to_string())));
                }
            }
        }
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
    let mut run_at = job.run_at;
    if let Some(key) = &job.coalesce_key {
        let waiting: Option<(String, i64, i64)> = tx
            .prepare_cached(WAITING_JOB)?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((id, at, created)) = waiting {
            if let Some(t) = joined_run_at(at, created, job, now) {
                tx.prepare_cached(RESCHEDULE_WAITING)?
                    .execute(params![t, now, id])?;
            }
            return Ok((id, false));
        }
        if let Some(d) = job.debounce {
            let last: Option<i64> = tx
                .prepare_cached(LAST_ACTIVITY)?
                .query_row([key], |r| r.get(0))?;
            run_at = run_at.max(d.first_run_at(now, last));
        }
    }
    tx.prepare_cached(INSERT_JOB)?.execute(params![
        job.id,
        job.kind,
        job.payload,
        job.coalesce_key,
        job.priority,
        run_at,
        job.max_attempts,
        now,
        job.lane
    ])?;
    Ok((job.id.clone(), true))
}

/// One prepared insert per row: without the hand-offs, rows cost microseconds each, and one
/// cached statement beats a multi-row one whose text changes with the batch size.
fn insert_rows(tx: &rusqlite::Transaction<'_>, rows: &[Row<'_>]) -> Result<HashSet<String>> {
    let mut sql = format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ");
    push_placeholders(&mut sql, 1, EVENT_COLUMN_COUNT, 1);
    sql.push_str(" ON CONFLICT (source, delivery_id) DO NOTHING");
    let mut stmt = tx.prepare_cached(&sql)?;
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
            "",
            ev.payload.as_bytes(),
            ev.received_at,
            job.as_ref().map(|(id, _)| id.as_str()),
        ])?;
        if written == 1 {
            inserted.insert(ev.id.clone());
        }
    }
    Ok(inserted)
}
