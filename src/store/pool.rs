//! The connection pools of a [`Store`](super::Store): how many connections each backend
//! gets and what every connection runs with when it opens. Nothing here runs a query of the
//! application's; it must never size a pool by anything but the backend and the workers.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::{Backend, Result};

/// What every SQLite connection of ours runs with (the pools' and the event writer's), apart
/// from `synchronous`, which each sets for itself.
pub(super) const SQLITE_SETTINGS: [&str; 6] = [
    // sqlx's SQLite defaults are already WAL + foreign keys; state them anyway, they are
    // what durability rests on.
    "PRAGMA journal_mode = WAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
    // Checkpoints run from `spawn_checkpointer`, not inside a commit.
    "PRAGMA wal_autocheckpoint = 0",
    // Statement journals (multi-row inserts) stay in memory instead of spilling into a
    // temporary file.
    "PRAGMA temp_store = MEMORY",
    // When the WAL starts over, give back the disk it grew into.
    "PRAGMA journal_size_limit = 67108864",
];

/// The lease pool's session settings on PostgreSQL (its statements: claims, acknowledgements,
/// heartbeats, rescues; each reads a handful of rows through an index).
///
/// - Its commits are bookkeeping that a rescue repairs, so they do not wait for the disk.
/// - The claim must walk `jobs_runnable` in claim order and stop at `LIMIT`, whatever the
///   table's statistics say. Without statistics (a new table; a burst of jobs the last
///   `ANALYZE` did not see, i.e. exactly when the queue is deep) PostgreSQL estimates a few
///   dozen waiting jobs, fetches them all with a bitmap scan, runs the key and lane checks on
///   each and sorts: 48 ms per claim on 20,000 waiting jobs, against 0.5 ms for the ordered
///   index scan it takes with these two off (`EXPLAIN (ANALYZE, BUFFERS)` in issue 19's
///   note). They only price those plans out; a statement with no other plan still runs.
/// - No sequential scans. `running_jobs` is read by every claim (once per candidate) and
///   written by every claim and acknowledgement, so it is nearly always empty when
///   autovacuum looks at it and truncates it; a plan made then sees zero pages and scans
///   it. Until the next vacuum it is not empty but full of the dead rows of every job run
///   since, and a burst of a few thousand jobs made each claim and each acknowledgement's
///   trigger read all of them (pgbench with this pool's statements, 32-job batches: 265-317
///   µs of server CPU per job with the scans, 122-163 µs without; see issue 19's note).
///   Every table these statements touch is reached through an index.
/// - The plan is made once per connection, not re-planned for the first five executions.
const POSTGRES_LEASE_SETTINGS: [&str; 5] = [
    "SET synchronous_commit = off",
    "SET enable_bitmapscan = off",
    "SET enable_sort = off",
    "SET enable_seqscan = off",
    "SET plan_cache_mode = force_generic_plan",
];

/// Connections of the SQLite pool. Each is a thread of its own (sqlx runs every SQLite
/// connection on one) with its own page cache, lookaside buffer and prepared statements:
/// about 0.3 MB at rest and up to 2 MB more as the database outgrows the page cache. SQLite
/// runs one writer at a time and WAL readers need no more connections than there are cores
/// to run them, so a deeper pool buys waiting, not work (issue 19: the memory benchmark).
pub(super) const SQLITE_CONNECTIONS: u32 = 4;

/// Lease connections for `workers` workers. PostgreSQL: two for the producer and the
/// completer, and one for every two running jobs' heartbeats and failures; at least 4, at
/// most 32. SQLite: one. Every lease statement writes, and the writes take turns behind the
/// write gate whatever the pool size. With three connections the producer's claim, the
/// completer's acknowledgement and the heartbeats ran on different ones, and SQLite drops a
/// connection's page cache whenever another connection has committed, so each turn re-read
/// its pages from the OS (queue bench, batched, 2 workers: 11,228-11,495 jobs/s at 103-104
/// µs of CPU per job with three; 14,597-18,469 at 63-80 µs with one).
pub(super) fn lease_connections(backend: Backend, workers: usize) -> u32 {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => (2 + workers.div_ceil(2)).clamp(4, 32) as u32,
    }
}

/// A pool whose commits wait for the disk (`durable`) or not (see `Store::lease_pool`).
pub(super) async fn open_pool(
    backend: Backend,
    url: &str,
    max: u32,
    durable: bool,
) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // A SQLite connection is a file handle in this process: it cannot go stale the way a
        // socket can, so the ping before every acquire would only add a round trip. Nor is
        // the ping worth its round trip on the lease pool, whose every statement (a claim,
        // an acknowledgement) is retried by its caller anyway: a connection that went stale
        // fails one statement and is replaced.
        .test_before_acquire(backend == Backend::Postgres && durable)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                match backend {
                    Backend::Sqlite => {
                        for pragma in SQLITE_SETTINGS {
                            conn.execute(pragma).await?;
                        }
                        conn.execute(if durable {
                            "PRAGMA synchronous = FULL"
                        } else {
                            "PRAGMA synchronous = NORMAL"
                        })
                        .await?;
                    }
                    Backend::Postgres => {
                        // Our statements are short OLTP ones, but the claim's planned cost
                        // (a subquery per candidate over a deep queue) crosses
                        // `jit_above_cost`, and PostgreSQL then compiles it on every
                        // execution: ~100 ms of JIT for a 4 ms claim (issue 19).
                        conn.execute("SET jit = off").await?;
                        if !durable {
                            for setting in POSTGRES_LEASE_SETTINGS {
                                conn.execute(setting).await?;
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}
