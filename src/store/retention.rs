//! Retention: deleting what has aged out, in small batches, never what is still needed.
//!
//! A pruning pass ([`Store::prune`]) goes table by table, each in batches of at most
//! `batch` rows. Every batch is its own short transaction (on SQLite it takes our write turn
//! like any other writer, so an ingest batch waits for one small delete at most, never for
//! a whole pass), and it runs the same statements on PostgreSQL. Batches are sized by time,
//! not by count ([`Pace`]): each holds the writer about 2 ms, then the pass steps aside for
//! four times as long. Rows are chosen oldest first by indexed columns, so a batch never
//! scans a table.
//!
//! What is never deleted, whatever its age (each rule is a `WHERE` below):
//! - a job that is not finished, and a dead or cancelled job's events (it may be retried);
//! - a run that is `running`, that has a delivery not yet finished (`pending`, `failed`
//!   awaiting a retry, or any state other than `succeeded`/`dead`/`disabled`), whose
//!   snapshot is still kept, the newest run of each trigger, and the newest successful run
//!   (health measures freshness from it); a run goes with its change summary and its
//!   deliveries, in one transaction, never apart;
//! - the snapshot chain the next diff compares against (the newest snapshot's), a chain
//!   with a run whose deliveries still need it, and any chain with a member younger than the
//!   cutoff: chains go whole, so no kept snapshot loses its base (see `snapshots`);
//! - the newest firing of each schedule (the scheduler's catch-up reads it).
//!
//! The console's rows age too: audit log entries by `retention.audit_log`, sessions once
//! expired, and a job's attempt history with its job (a trigger, migration 0021).
//!
//! On SQLite the pass then hands freed pages back to the file system with
//! `PRAGMA incremental_vacuum`, a chunk per write turn (migration 0014 put the database in
//! incremental auto-vacuum mode). A full `VACUUM` would rewrite the whole file while holding
//! the write lock: exactly the stall retention must not cause.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::AssertSqlSafe;

use super::binds::push_placeholders;
use super::{Backend, Result, Store, MAX_CHAIN};

/// The cutoffs of one pass (unix ms: rows older than these may go) and its batch size.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    pub events: i64,
    pub jobs_succeeded: i64,
    pub jobs_dead: i64,
    pub runs: i64,
    pub runs_failed: i64,
    pub snapshots: i64,
    pub schedule_firings: i64,
    pub audit_log: i64,
    /// Console sessions that expired before this go (normally "now").
    pub sessions: i64,
    pub batch: i64,
}

/// What a pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub events: u64,
    pub jobs: u64,
    pub runs: u64,
    pub deliveries: u64,
    pub snapshots: u64,
    pub schedule_firings: u64,
    pub audit_log: u64,
    pub sessions: u64,
    /// Pages handed back to the file system (SQLite).
    pub vacuumed_pages: u64,
    /// Statements (batches) the pass ran.
    pub batches: u64,
}

/// Delivery states after which a delivery needs nothing more from its run.
const DELIVERY_DONE: &str = "('succeeded', 'dead', 'disabled')";

/// The most pages freed per incremental-vacuum step (4 MiB of 4 KiB pages); [`Pace`] picks
/// fewer when moving them takes longer than a turn.
const VACUUM_STEP: i64 = 1_024;

/// How long one write turn of a pass may last. An ingest group commit that queues behind a
/// pruning batch waits this long at most, so the batch size follows it: a fixed 500 rows took
/// 10–30 ms on a 1M-event database (index maintenance, the `NOT EXISTS` probe) and pushed the
/// ingest p99 from 14 ms to 26 ms (`HELIX_BENCH_PART=pruning cargo bench --bench lifecycle`).
const TURN_BUDGET: Duration = Duration::from_millis(2);

/// A breath between batches, so that writers queued behind a batch get their turn first.
const PAUSE: Duration = Duration::from_millis(2);

/// Pruning's share of the writer: after a turn that held it for `t`, the pass waits
/// `IDLE_RATIO × t` (at least [`PAUSE`]), so ingest keeps at least 80% of the write turns
/// while a pass runs. With a 2 ms pause alone, a pass over 1M events held the writer most of
/// the time and pushed the ingest p99 from 12 ms to 40 ms.
const IDLE_RATIO: u32 = 4;

/// The size of a pass's next write turn (rows, chains or pages), steered so that each turn
/// holds the writer for about [`TURN_BUDGET`], whatever the table, its indexes or the disk:
/// the configured batch is the ceiling, not the target.
struct Pace {
    size: i64,
    max: i64,
}

impl Pace {
    /// Starts small: the first turn measures the cost of a unit before a big one is risked.
    fn new(max: i64) -> Self {
        let max = max.max(1);
        Pace {
            size: (max / 16).max(1),
            max,
        }
    }

    fn size(&self) -> i64 {
        self.size
    }

    /// After a turn over `done` units that held the writer for `held`: sizes the next turn
    /// (at most doubling, so one cheap turn cannot jump to a costly size) and waits.
    async fn after(&mut self, done: i64, held: Duration) {
        let per_unit = held.as_secs_f64() / done.max(1) as f64;
        let fits = if per_unit > 0.0 {
            (TURN_BUDGET.as_secs_f64() / per_unit) as i64
        } else {
            self.max
        };
        self.size = fits.clamp(1, (self.size * 2).min(self.max));
        tokio::time::sleep((held * IDLE_RATIO).max(PAUSE)).await;
    }
}

impl Store {
    /// One pruning pass (see the module docs).
    pub async fn prune(&self, c: &Cutoffs) -> Result<PruneReport> {
        let mut r = PruneReport::default();
        let batch = c.batch.max(1);
        r.snapshots = self
            .prune_snapshots(c.snapshots, batch, &mut r.batches)
            .await?;
        let (runs, deliveries) = self.prune_runs(c, batch, &mut r.batches).await?;
        (r.runs, r.deliveries) = (runs, deliveries);
        r.jobs = self
            .delete_batches(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                 WHERE state IN ('succeeded', 'cancelled') AND updated_at < $1 LIMIT $2)",
                c.jobs_succeeded,
                batch,
                &mut r.batches,
            )
            .await?;
        r.jobs += self
            .delete_batches(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                 WHERE state = 'dead' AND updated_at < $1 LIMIT $2)",
                c.jobs_dead,
                batch,
                &mut r.batches,
            )
            .await?;
        r.events = self
            .delete_batches(
                "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id AND j.state <> 'succeeded') \
                 LIMIT $2)",
                c.events,
                batch,
                &mut r.batches,
            )
            .await?;
        r.schedule_firings = self
            .delete_batches(
                "DELETE FROM schedule_firings WHERE (schedule, fire_at) IN (\
                 SELECT f.schedule, f.fire_at FROM schedule_firings f WHERE f.created_at < $1 \
                 AND f.fire_at < (SELECT MAX(l.fire_at) FROM schedule_firings l WHERE l.schedule = f.schedule) \
                 LIMIT $2)",
                c.schedule_firings,
                batch,
                &mut r.batches,
            )
            .await?;
        r.audit_log = self
            .delete_batches(
                "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2)",
                c.audit_log,
                batch,
                &mut r.batches,
            )
            .await?;
        r.sessions = self
            .delete_batches(
                "DELETE FROM sessions WHERE token_hash IN (\
                 SELECT token_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
                c.sessions,
                batch,
                &mut r.batches,
            )
            .await?;
        r.vacuumed_pages = self.vacuum_freed().await?;
        Ok(r)
    }

    /// Runs `sql` (`$1` = cutoff, `$2` = batch size) until a batch deletes less than it asked.
    async fn delete_batches(
        &self,
        sql: &'static str,
        cutoff: i64,
        batch: i64,
        batches: &mut u64,
    ) -> Result<u64> {
        let mut total = 0;
        let mut pace = Pace::new(batch);
        loop {
            let size = pace.size();
            let (deleted, held) = {
                let _turn = self.gate().await;
                let held = Instant::now();
                let deleted = sqlx::query(sql)
                    .bind(cutoff)
                    .bind(size)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                (deleted, held.elapsed())
            };
            *batches += 1;
            total += deleted;
            if deleted < size as u64 {
                return Ok(total);
            }
            pace.after(size, held).await;
        }
    }

    /// Whole snapshot chains, oldest first, a few chains per transaction.
    async fn prune_snapshots(&self, cutoff: i64, batch: i64, batches: &mut u64) -> Result<u64> {
        let Some(newest) = self.latest_snapshot_run_id().await? else {
            return Ok(0);
        };
        let newest_root: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(chain_root, run_id) FROM snapshots WHERE run_id = $1",
        )
        .bind(&newest)
        .fetch_optional(&self.pool)
        .await?;
        let newest_root = newest_root.unwrap_or(newest);
        let mut pace = Pace::new((batch / MAX_CHAIN).max(1));
        let mut total = 0;
        loop {
            let chains = pace.size();
            let roots: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT c.root FROM (SELECT COALESCE(chain_root, run_id) AS root, MAX(created_at) AS newest \
                     FROM snapshots GROUP BY COALESCE(chain_root, run_id)) c \
                 WHERE c.newest < $1 AND c.root <> $2 AND NOT EXISTS (\
                     SELECT 1 FROM snapshots s JOIN deliveries d ON d.run_id = s.run_id \
                     WHERE COALESCE(s.chain_root, s.run_id) = c.root AND d.state NOT IN {DELIVERY_DONE}) \
                 ORDER BY c.newest LIMIT $3"
            )))
            .bind(cutoff)
            .bind(&newest_root)
            .bind(chains)
            .fetch_all(&self.pool)
            .await?;
            if roots.is_empty() {
                return Ok(total);
            }
            let mut sql =
                String::from("DELETE FROM snapshots WHERE COALESCE(chain_root, run_id) IN (");
            push_placeholders(&mut sql, roots.len(), 1, 1);
            sql.push(')');
            let (turn, mut tx) = self.write_tx().await?;
            let held = Instant::now();
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for root in &roots {
                q = q.bind(root);
            }
            total += q.execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            let held = held.elapsed();
            drop(turn);
            *batches += 1;
            if (roots.len() as i64) < chains {
                return Ok(total);
            }
            pace.after(chains, held).await;
        }
    }

    /// Runs with their deliveries, each batch in one transaction.
    async fn prune_runs(&self, c: &Cutoffs, batch: i64, batches: &mut u64) -> Result<(u64, u64)> {
        // Kept whatever their age: the newest run of each trigger and the newest success.
        let mut keep: Vec<String> = sqlx::query_scalar(
            "SELECT r.id FROM sync_runs r JOIN (SELECT trigger, MAX(started_at) AS newest \
                 FROM sync_runs GROUP BY trigger) l ON l.trigger = r.trigger AND r.started_at = l.newest",
        )
        .fetch_all(&self.pool)
        .await?;
        keep.extend(
            self.last_run_with_status(&["succeeded", "partial"])
                .await?
                .map(|r| r.id),
        );
        let mut select = format!(
            "SELECT r.id FROM sync_runs r WHERE r.started_at < $4 AND r.status <> 'running' \
             AND r.started_at < CASE WHEN r.status = 'failed' THEN $1 ELSE $2 END \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = r.id AND d.state NOT IN {DELIVERY_DONE}) \
             AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.run_id = r.id)"
        );
        if !keep.is_empty() {
            select.push_str(" AND r.id NOT IN (");
            push_placeholders(&mut select, keep.len(), 1, 5);
            select.push(')');
        }
        select.push_str(" ORDER BY r.started_at LIMIT $3");
        let (mut runs, mut deliveries) = (0, 0);
        let mut pace = Pace::new(batch);
        loop {
            let size = pace.size();
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(select.clone()))
                .bind(c.runs_failed)
                .bind(c.runs)
                .bind(size)
                .bind(c.runs.max(c.runs_failed));
            for id in &keep {
                q = q.bind(id);
            }
            let ids = q.fetch_all(&self.pool).await?;
            if ids.is_empty() {
                return Ok((runs, deliveries));
            }
            let mut list = String::from("(");
            push_placeholders(&mut list, ids.len(), 1, 1);
            list.push(')');
            let (turn, mut tx) = self.write_tx().await?;
            let held = Instant::now();
            for (table, column, count) in [
                ("deliveries", "run_id", &mut deliveries),
                ("sync_runs", "id", &mut runs),
            ] {
                let mut q = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE {column} IN {list}"
                )));
                for id in &ids {
                    q = q.bind(id);
                }
                *count += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            let held = held.elapsed();
            drop(turn);
            *batches += 1;
            if (ids.len() as i64) < size {
                return Ok((runs, deliveries));
            }
            pace.after(size, held).await;
        }
    }

    /// Hands free pages back to the file system, a chunk per write turn (SQLite only; a
    /// database created before migration 0014 without it simply reuses them).
    async fn vacuum_freed(&self) -> Result<u64> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&self.pool)
            .await?;
        if mode != 2 {
            return Ok(0);
        }
        let mut total = 0u64;
        let mut before = i64::MAX;
        let mut pace = Pace::new(VACUUM_STEP);
        loop {
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(&self.pool)
                .await?;
            // Stop when done, or when a step freed nothing (another process's read holds
            // the pages): the next pass tries again.
            if free == 0 || free >= before {
                return Ok(total);
            }
            before = free;
            let step = free.min(pace.size());
            let held = {
                // Our turn: no commit waits behind more than one chunk.
                let _turn = self.gate().await;
                let held = Instant::now();
                sqlx::query(AssertSqlSafe(format!("PRAGMA incremental_vacuum({step})")))
                    .execute(&self.pool)
                    .await?;
                held.elapsed()
            };
            total += step as u64;
            pace.after(step, held).await;
        }
    }
}
