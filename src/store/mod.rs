//! The only place with SQL.
//!
//! `Store` owns the connection pool and exposes one method per question the rest of the
//! service asks (insert these events, claim a job, record a run…). It knows nothing about
//! HTTP or about what a job does. Times are unix milliseconds; the caller passes `now` in
//! wherever a decision depends on time, so tests can move the clock.
//!
//! Two backends share every query through sqlx's `Any` driver: SQLite (the embedded
//! default) and PostgreSQL (several replicas on one queue). Queries are written once with
//! `$N` placeholders, which both accept; the few places where the dialects differ (how a
//! write transaction starts, `FOR UPDATE SKIP LOCKED` in the claim) branch on [`Backend`].
//! One path leaves sqlx: on SQLite, ingest batches commit on a thread with a connection of
//! its own (`event_writer`), because a batch there is latency-bound on sqlx's per-statement
//! hand-offs; it runs the same plan, and shares the job statements, with the sqlx path.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`: a commit is on disk when it returns.
//! The event writer is the one exception: it commits with `NORMAL` and syncs the WAL itself
//! before answering, so that the sync overlaps the next batch (see `event_writer`); either
//! way ingest answers 2xx only once the commit is on disk. Its write transactions start
//! with `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing with
//! `SQLITE_BUSY` when one upgrades a read lock.

mod audit;
mod backup;
mod binds;
mod browse;
mod coalesce;
mod cursors;
mod deliveries;
mod disk;
mod event_writer;
mod events;
mod firings;
mod jobs;
mod lanes;
mod nodes;
mod notion_writes;
mod observe;
mod payload;
mod pool;
mod retention;
mod runs;
mod schema;
mod snapshots;
mod sources;
mod summaries;
mod trends;
mod users;
mod versions;

pub use audit::{AttemptRow, AuditRow};
pub use backup::{restore, Restored};
pub use browse::{EventColumn, EventFilter, EventLine, JobFilter, BULK_MAX};
pub use coalesce::Debounce;
pub use cursors::CursorRow;
pub use deliveries::{DeliveryOutcome, DeliveryRow};
pub use disk::{DiskUsage, TABLES};
pub use events::{EventRow, IngestOutcome, NewEvent, NewJob, SOURCES};
pub use jobs::{JobRow, JobState};
pub use lanes::{Admission, LaneRow, Transition};
pub use nodes::NodeRow;
pub use notion_writes::NotionWriteRow;
pub use observe::OutcomeCount;
pub use observe::QueueStats;
pub use payload::Compressed;
pub use retention::{Cutoffs, PruneReport};
pub use runs::{gzip, RunFinish, RunRow, RunStart};
pub use schema::binary_schema_version;
pub use snapshots::{EncodedSnapshot, MAX_CHAIN};
pub use sources::{read_agent_profiles, AgentProfiles, AgentStatsRow, TaskAggregate};
pub use users::{SessionRow, TokenRow, UserRow};
pub use versions::{RollbackOrigin, RunMeta};

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::Notify;

use pool::{lease_connections, open_pool, SQLITE_CONNECTIONS};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported DATABASE_URL scheme: {0} (use sqlite:// or postgres://)")]
    Scheme(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the event writer thread has stopped")]
    WriterGone,
    #[error("the write-ahead log could not be synced: {0}")]
    WalSync(String),
    #[error(
        "this database has schema version {database}, newer than this helix-sync {} knows \
         (up to {binary}): run the newer helix-sync, or restore the backup taken before the \
         upgrade (`helix-sync restore <file>`)",
        env!("CARGO_PKG_VERSION")
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error(
        "this database has migrations {versions} that this helix-sync {} (schema up to \
         {binary}) does not know: another build wrote it; run that build, or restore a backup",
        env!("CARGO_PKG_VERSION")
    )]
    SchemaUnknown { versions: String, binary: i64 },
    /// A backup, restore or start-up that must not go ahead, with the reason.
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Connections for lease bookkeeping (claim, heartbeat, complete, fail, rescue, release),
    /// which commit without waiting for the disk flush (SQLite `synchronous=NORMAL`,
    /// PostgreSQL `synchronous_commit=off`). That is safe because a lost transition only
    /// makes a job run again (at-least-once), and a re-run repeats no recorded side effect:
    /// a run commits through `pool` and a job whose run committed is skipped. It is what lets
    /// the queue do thousands of jobs a second instead of two fsyncs per job. Everything that
    /// acknowledges data or records a side effect (events, runs, deliveries) stays on `pool`.
    lease_pool: AnyPool,
    /// SQLite allows one writer at a time and makes a blocked writer sleep in its busy
    /// handler (1 ms, 2 ms, 5 ms…). Our own writers queue on this async lock instead, so
    /// inside one process a write never meets a locked database; other processes (the CLI)
    /// still fall back to the busy timeout. Unused on PostgreSQL, whose writers do not block
    /// each other this way.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// SQLite only: the thread that commits ingest batches (see `event_writer`).
    event_writer: Option<Arc<event_writer::EventWriter>>,
    /// The newest snapshot, uncompressed: the base of the next run's delta (see `snapshots`).
    snapshot_cache: snapshots::Cache,
    /// SQLite: the shared lock on `<database>.lock` that keeps `restore` away while this
    /// process has the database open (see `backup`); released by `close`.
    open_lock: Arc<std::sync::Mutex<Option<std::fs::File>>>,
    backend: Backend,
    url: Arc<str>,
}

/// Our turn to write, held until the write is done (`None` where not needed).
type WriteGuard = Option<tokio::sync::OwnedMutexGuard<()>>;

/// How often the WAL is copied back into the SQLite file (see `spawn_checkpointer`). Often,
/// so that each pass is small: the pass that must hold the write turn (see `checkpoint`)
/// copies what arrived during the previous one, and that is what our writers wait for.
/// Not too often: a pass copies each page changed since the last one, and the pages every
/// batch touches (the right edge of each time-ordered index, the job the pushes join) were
/// copied again every 10 ms. (Measured under sustained ingest: 50 ms / 4,096 pages gave a
/// p99 of 17–18 ms, 20 ms / 2,048 pages 13 ms, 10 ms / 1,024 pages 10–11 ms; later, with
/// 1,024 pages, 30 ms wrote 19.0 KB per delivery against 21.6 KB at 10 ms and used 122–130
/// µs of CPU per delivery against 143, with no worse p99: issue 19's note.)
const CHECKPOINT_EVERY: Duration = Duration::from_millis(30);

/// WAL length (in pages, 4 MiB here) past which a checkpoint takes our write turn so that
/// the WAL can start over (see `checkpoint`).
const WAL_CAP_PAGES: i64 = 1_024;

/// The PostgreSQL channel that carries "a job became runnable" between replicas.
const JOBS_CHANNEL: &str = "helix_jobs";

impl Store {
    /// Opens (creating if needed) the database at `url` and runs the migrations, with the
    /// lease bookkeeping sized for a small pool.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_for_workers(url, 0).await
    }

    /// [`Store::connect`] for a process running `workers` workers: on PostgreSQL the lease
    /// pool (claims, acknowledgements, heartbeats, failures) grows with them, since every
    /// running job heartbeats and fails on it while the producer and the completer keep one
    /// busy each (see `pool::lease_connections` for SQLite's).
    pub async fn connect_for_workers(url: &str, workers: usize) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let mut open_lock = None;
        let (backend, url, max) = if url.starts_with("sqlite:") {
            prepare_sqlite_dir(url)?;
            if let Some(path) = sqlite_file(url) {
                open_lock = Some(backup::hold_shared(path)?);
            }
            let url = if url.contains("mode=") {
                url.to_owned()
            } else {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            };
            (Backend::Sqlite, url, SQLITE_CONNECTIONS)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Backend::Postgres, url.to_owned(), 16)
        } else {
            return Err(StoreError::Scheme(
                url.split(':').next().unwrap_or("").to_owned(),
            ));
        };
        let pool = open_pool(backend, &url, max, true).await?;
        let lease_pool =
            open_pool(backend, &url, lease_connections(backend, workers), false).await?;
        let mut store = Self {
            pool,
            lease_pool,
            write_gate: Default::default(),
            event_writer: None,
            snapshot_cache: Default::default(),
            open_lock: Arc::new(std::sync::Mutex::new(open_lock)),
            backend,
            url: url.into(),
        };
        store.migrate().await?;
        if backend == Backend::Sqlite {
            store.spawn_checkpointer();
            if let Some(path) = sqlite_file(&store.url) {
                let writer = event_writer::EventWriter::start(path, store.write_gate.clone())?;
                store.event_writer = Some(Arc::new(writer));
            }
        }
        Ok(store)
    }

    /// Copies the WAL back into the database file from a task of its own (SQLite only).
    ///
    /// Our connections turn SQLite's automatic checkpoint off: it would run inside whichever
    /// commit crossed the threshold, and that commit (an ingest batch, say) would wait for
    /// a whole checkpoint and its fsync. A `PASSIVE` checkpoint never blocks writers or
    /// readers, so running it on a timer moves that work off every request's path. Each
    /// process on the file (the server, a CLI command) runs its own; passive checkpoints of
    /// two processes do not conflict, and SQLite checkpoints on the last close anyway.
    fn spawn_checkpointer(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !store.pool.is_closed() {
                tick.tick().await;
                if let Err(e) = store.checkpoint().await {
                    if !store.pool.is_closed() {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
            }
        });
    }

    /// One checkpoint pass. A passive checkpoint copies the WAL into the file but cannot
    /// make the WAL start over: only a write that begins after a complete checkpoint does
    /// that, and under sustained writes the next batch always begins first, so the WAL would
    /// grow without bound. Past `WAL_CAP_PAGES` the pass therefore runs on our write turn:
    /// no commit can slip in, the pass completes (copying only what came since the last
    /// tick), and our next write starts the WAL over. A `RESTART` checkpoint would do the
    /// same but also wait for every reader, stalling our writers behind a long read.
    async fn checkpoint(&self) -> Result<()> {
        let passive = || async {
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.pool)
                .await
        };
        let (_busy, log, _done) = passive().await?;
        if log > WAL_CAP_PAGES {
            // One more pass outside our turn first: it copies what arrived during the first,
            // so the pass our writers wait for has only a sliver left to copy.
            passive().await?;
            let _turn = self.gate().await;
            passive().await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the binary's migrations, after refusing a database from a newer build.
    pub async fn migrate(&self) -> Result<()> {
        self.check_schema().await?;
        schema::migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.lease_pool.close().await;
        self.pool.close().await;
        self.open_lock.lock().expect("lock holder").take();
    }

    /// Waits for our turn to write (SQLite only; see `write_gate`).
    async fn gate(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// A durable write transaction; hold the returned guard until it commits.
    async fn write_tx(&self) -> Result<(WriteGuard, Transaction<'static, Any>)> {
        self.tx_on(&self.pool).await
    }

    async fn tx_on(&self, pool: &AnyPool) -> Result<(WriteGuard, Transaction<'static, Any>)> {
        let guard = self.gate().await;
        let tx = match self.backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => pool.begin().await?,
        };
        Ok((guard, tx))
    }

    /// Tells other processes that jobs became runnable (PostgreSQL `NOTIFY`; on SQLite all
    /// workers share one process and its in-memory wake-up).
    pub async fn notify_jobs(&self) {
        if self.backend == Backend::Postgres {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(JOBS_CHANNEL)
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "NOTIFY failed; other replicas will find the job by polling");
            }
        }
    }

    /// Forwards other replicas' `NOTIFY`s to `wake` until the process ends (PostgreSQL only;
    /// workers poll as well, so a dropped listener costs latency, never a job).
    pub fn listen_jobs(&self, wake: Arc<Notify>) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = self.url.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut l) => {
                        if l.listen(JOBS_CHANNEL).await.is_ok() {
                            while l.recv().await.is_ok() {
                                wake.notify_waiters();
                                wake.notify_one();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN connection failed; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }

    /// Reads a small durable fact.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every small fact whose key starts with `prefix`, by key.
    pub async fn kv_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        // A range, not LIKE: `_` and `%` in a prefix mean themselves.
        Ok(
            sqlx::query_as("SELECT key, value FROM kv WHERE key >= $1 AND key < $2 ORDER BY key")
                .bind(prefix)
                .bind(format!("{prefix}\u{10ffff}"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Writes a small durable fact.
    pub async fn kv_set(&self, key: &str, value: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The file a `sqlite:` URL names, or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.starts_with(":memory:") && !url.contains("mode=memory"))
        .then_some(path)
}

/// Creates the directory of a SQLite database file.
fn prepare_sqlite_dir(url: &str) -> Result<()> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Current wall-clock time in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
