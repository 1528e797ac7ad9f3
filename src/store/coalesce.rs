//! Enqueue with coalescing: a new job joins the waiting job of its coalesce key, or becomes
//! it, with the key's debounce applied.
//!
//! One burst of pushes for a repository is one sync: the find-or-create here is the only
//! place a keyed job is created, by every caller (ingest batches on either backend, the
//! scheduler's firings, a run's follow-up jobs). It must stay a lookup and one write per
//! key: it runs inside the ingest write transaction, before the 2xx.

use std::collections::HashMap;

use sqlx::{Any, AssertSqlSafe, Transaction};

use super::binds::{in_list, list_rows, pg_text_array, push_placeholders, text_list};
use super::{NewJob, Result, Store};

/// The waiting job a new job with coalesce key `$1` joins, if any: id, run at, created at.
pub(super) const WAITING_JOB: &str =
    "SELECT id, run_at, created_at FROM jobs WHERE coalesce_key = $1 AND state = 'queued' ORDER BY created_at LIMIT 1";

/// Moves a waiting job's start (debounce): run at, now, id.
pub(super) const RESCHEDULE_WAITING: &str =
    "UPDATE jobs SET run_at = $1, updated_at = $2 WHERE id = $3 AND state = 'queued'";

/// The last time any job of coalesce key `$key` was touched (created, joined, run,
/// finished): the newest of its jobs that are not running (`jobs_key_updated` holds only
/// those, so that a claim gives it no entry) and of its running job, found through
/// `running_jobs`. Two index probes and a primary-key lookup, whatever the key's history.
macro_rules! last_activity {
    ($key:literal) => {
        concat!(
            "(SELECT MAX(t) FROM ( \
               SELECT MAX(updated_at) AS t FROM jobs WHERE coalesce_key = ", $key, " AND state <> 'running' \
               UNION ALL \
               SELECT updated_at FROM jobs WHERE id = (SELECT job_id FROM running_jobs WHERE coalesce_key = ", $key, ") \
             ) a)"
        )
    };
}

/// [`last_activity!`] of coalesce key `$1`.
pub(super) const LAST_ACTIVITY: &str = concat!("SELECT ", last_activity!("$1"));

/// A new queued job: id, kind, payload, coalesce key, priority, run at, max attempts, now, lane.
pub(super) const INSERT_JOB: &str =
    "INSERT INTO jobs (id, kind, payload, coalesce_key, state, priority, run_at, max_attempts, created_at, updated_at, lane) \
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $8, $9)";

/// The columns a batch insert of new jobs binds, in order (see [`Store::enqueue_many_in`]).
const JOB_COLUMNS: &str = "id, kind, payload, coalesce_key, state, priority, run_at, \
     max_attempts, created_at, updated_at, lane";

/// Jobs per multi-row statement of a batch enqueue (11 parameters each).
const JOB_CHUNK: usize = 64;

/// Debounce of a coalescing key (see `config::DebounceConfig`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    pub quiet_ms: i64,
    pub max_delay_ms: i64,
}

impl Debounce {
    /// When a new job for its key starts: now (leading edge), unless the key saw activity
    /// within the quiet period — then a burst is on, and it waits for the quiet period.
    pub fn first_run_at(&self, now: i64, last_activity: Option<i64>) -> i64 {
        match last_activity {
            Some(t) if now - t < self.quiet_ms => now + self.quiet_ms.min(self.max_delay_ms),
            _ => now,
        }
    }
}

/// The start a waiting job (`run_at`, created at `created`) should have once `job` joins it
/// at `now`; `None` when it stays. A job without debounce pulls the start forward to its own;
/// a debounced one pushes it to a quiet period from now, never past the maximum delay after
/// the waiting job's creation, and never moves a start that is already due.
pub(super) fn joined_run_at(run_at: i64, created: i64, job: &NewJob, now: i64) -> Option<i64> {
    let t = match job.debounce {
        None => run_at.min(job.run_at),
        Some(_) if run_at <= now => run_at,
        Some(d) => (now + d.quiet_ms).max(run_at).min(created + d.max_delay_ms),
    };
    (t != run_at).then_some(t)
}

/// Serialises find-or-create of waiting jobs per coalesce key on PostgreSQL.
///
/// Under READ COMMITTED two transactions can both find no waiting job for a key and both
/// insert one (seen with concurrent ingest batches: 200 pushes, 2 jobs). A transaction-scoped
/// advisory lock per key closes that window across connections and replicas; it is held
/// to commit and never touches a table. Keys are locked in sorted order so two batches with
/// overlapping keys cannot deadlock; taking a lock the transaction already holds is free.
/// SQLite needs nothing: its writers are serialised by `BEGIN IMMEDIATE`.
pub(super) async fn lock_coalesce_keys<'k>(
    tx: &mut Transaction<'static, Any>,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<()> {
    if tx.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // One statement for all of them (a round trip per key made `enqueue_many` of 1,000 keyed
    // jobs take half a second). The function scan yields the array in its (sorted) order,
    // so every transaction takes the locks in the same order and none waits in a cycle.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) \
         FROM unnest(CAST($1 AS TEXT[])) WITH ORDINALITY AS k(key, n) ORDER BY n",
    )
    .bind(pg_text_array(keys))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `head` filtered to the coalesce keys `keys`, then `tail`, with the keys bound as one list
/// (see `binds`): an index probe per key on both backends.
fn with_keys<'q, O>(
    head: &str,
    tail: &str,
    keys: &[&'q str],
    postgres: bool,
) -> sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let sql = format!("{head} coalesce_key{}{tail}", in_list(postgres, 1));
    sqlx::query_as(AssertSqlSafe(sql)).bind(text_list(postgres, keys.iter().copied()))
}

impl Store {
    /// Enqueues inside an open transaction. A job with a coalesce key joins a `queued` job
    /// with the same key if there is one; returns the job id and whether a row was created.
    /// A caller that enqueues several keyed jobs in one transaction locks them all first
    /// ([`lock_coalesce_keys`]), so the order is the sorted one.
    pub(super) async fn enqueue_in(
        tx: &mut Transaction<'static, Any>,
        job: &NewJob,
        now: i64,
    ) -> Result<(String, bool)> {
        let mut run_at = job.run_at;
        if let Some(key) = &job.coalesce_key {
            lock_coalesce_keys(tx, [key.as_str()]).await?;
            let waiting: Option<(String, i64, i64)> = sqlx::query_as(WAITING_JOB)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some((id, at, created)) = waiting {
                if let Some(t) = joined_run_at(at, created, job, now) {
                    sqlx::query(RESCHEDULE_WAITING)
                        .bind(t)
                        .bind(now)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                }
                return Ok((id, false));
            }
            if let Some(d) = job.debounce {
                let last: Option<i64> = sqlx::query_scalar(LAST_ACTIVITY)
                    .bind(key)
                    .fetch_one(&mut **tx)
                    .await?;
                run_at = run_at.max(d.first_run_at(now, last));
            }
        }
        sqlx::query(INSERT_JOB)
            .bind(&job.id)
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(&job.coalesce_key)
            .bind(job.priority)
            .bind(run_at)
            .bind(job.max_attempts)
            .bind(now)
            .bind(&job.lane)
            .execute(&mut **tx)
            .await?;
        Ok((job.id.clone(), true))
    }

    /// Enqueues one job on its own (coalescing as above).
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> Result<(String, bool)> {
        let (_turn, mut tx) = self.write_tx().await?;
        let r = Self::enqueue_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Enqueues `jobs` in one transaction, coalescing exactly as one [`Store::enqueue`] each
    /// in order would (a later job with an earlier one's key joins it). Returns each job's
    /// `(id, created)`.
    pub async fn enqueue_many(&self, jobs: &[NewJob], now: i64) -> Result<Vec<(String, bool)>> {
        let (_turn, mut tx) = self.write_tx().await?;
        let jobs: Vec<(&NewJob, i64)> = jobs.iter().map(|j| (j, now)).collect();
        let r = Self::enqueue_many_in(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// [`Store::enqueue_in`] for a batch, each job with its own enqueue time, in a few
    /// statements per batch instead of up to four per job: one lookup of the waiting jobs of
    /// all the batch's keys, one of their last activity (for debounce), and multi-row inserts.
    /// Only a waiting job whose start moves costs a statement of its own.
    pub(super) async fn enqueue_many_in(
        tx: &mut Transaction<'static, Any>,
        jobs: &[(&NewJob, i64)],
    ) -> Result<Vec<(String, bool)>> {
        let mut keys: Vec<&str> = jobs
            .iter()
            .filter_map(|(j, _)| j.coalesce_key.as_deref())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        lock_coalesce_keys(tx, keys.iter().copied()).await?;
        // Per key, the waiting job a new job joins: `(id, run_at, created_at, moved)`.
        let mut waiting: HashMap<String, (String, i64, i64, bool)> = HashMap::new();
        let mut last: HashMap<String, i64> = HashMap::new();
        let postgres = tx.backend_name() == "PostgreSQL";
        let debounced = jobs.iter().any(|(j, _)| j.debounce.is_some());
        if !keys.is_empty() {
            let q = with_keys::<(String, String, i64, i64)>(
                "SELECT coalesce_key, id, run_at, created_at FROM jobs WHERE state = 'queued' AND",
                " ORDER BY created_at DESC",
                &keys,
                postgres,
            );
            // Newest first, so the oldest waiting job of a key is the one that stays.
            for (key, id, run_at, created) in q.fetch_all(&mut **tx).await? {
                waiting.insert(key, (id, run_at, created, false));
            }
            if debounced {
                // `LAST_ACTIVITY` for every key at once, one probe per key.
                let sql = format!(
                    "SELECT k.value, {} FROM ({}) k",
                    last_activity!("k.value"),
                    list_rows(postgres, 1)
                );
                let q = sqlx::query_as::<_, (String, Option<i64>)>(AssertSqlSafe(sql))
                    .bind(text_list(postgres, keys.iter().copied()));
                let found = q.fetch_all(&mut **tx).await?;
                last.extend(found.into_iter().filter_map(|(k, t)| Some((k, t?))));
            }
        }
        let mut out = Vec::with_capacity(jobs.len());
        let mut new: Vec<(&NewJob, i64, i64)> = Vec::new();
        for (job, now) in jobs {
            let key = job.coalesce_key.as_deref();
            if let Some((id, run_at, created, moved)) = key.and_then(|k| waiting.get_mut(k)) {
                if let Some(t) = joined_run_at(*run_at, *created, job, *now) {
                    *run_at = t;
                    *moved = true;
                }
                out.push((id.clone(), false));
                continue;
            }
            let mut run_at = job.run_at;
            if let (Some(k), Some(d)) = (key, job.debounce) {
                run_at = run_at.max(d.first_run_at(*now, last.get(k).copied()));
            }
            if let Some(k) = key {
                waiting.insert(k.to_owned(), (job.id.clone(), run_at, *now, false));
            }
            new.push((job, run_at, *now));
            out.push((job.id.clone(), true));
        }
        let (mut created_runs, mut moves): (HashMap<&str, i64>, Vec<_>) =
            (HashMap::new(), Vec::new());
        for (id, run_at, _, _) in waiting.values().filter(|w| w.3) {
            match new.iter().any(|(j, _, _)| &j.id == id) {
                true => {
                    created_runs.insert(id.as_str(), *run_at);
                }
                false => moves.push((id.clone(), *run_at)),
            }
        }
        let now = jobs.iter().map(|(_, t)| *t).max().unwrap_or_default();
        for (id, t) in moves {
            sqlx::query(RESCHEDULE_WAITING)
                .bind(t)
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        for chunk in new.chunks(JOB_CHUNK) {
            let mut sql = format!("INSERT INTO jobs ({JOB_COLUMNS}) VALUES ");
            push_placeholders(&mut sql, chunk.len(), 11, 1);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (job, run_at, now) in chunk {
                let run_at = created_runs
                    .get(job.id.as_str())
                    .copied()
                    .unwrap_or(*run_at);
                q = q
                    .bind(&job.id)
                    .bind(&job.kind)
                    .bind(&job.payload)
                    .bind(&job.coalesce_key)
                    .bind("queued")
                    .bind(job.priority)
                    .bind(run_at)
                    .bind(job.max_attempts)
                    .bind(*now)
                    .bind(*now)
                    .bind(&job.lane);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(out)
    }
}
