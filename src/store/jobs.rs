//! Job rows: claim with a lease, and every state transition (enqueue is `coalesce`).
//!
//! Each transition is one statement guarded by the state (and, for a running job, by
//! `locked_by`), so a worker that lost its lease cannot overwrite what the rescuer did. The
//! claim is the `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING *` that stands in for
//! `FOR UPDATE SKIP LOCKED` on SQLite; it also refuses a job whose coalesce key already has
//! a running job, which is how "one running sync per repository" holds. A busy pool claims
//! several jobs per statement and acknowledges several per statement (`claim_batch`,
//! `complete_jobs`); both keep the per-job guards.

use std::sync::LazyLock;

use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Result, Store};

mod claim;

use claim::{CLAIM, COMPLETE_AND_CLAIM};

/// The states of a job's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// Failed, waiting for its retry at `run_at`.
    Failed,
    Succeeded,
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Failed,
        JobState::Succeeded,
        JobState::Dead,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Failed => "failed",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub coalesce_key: Option<String>,
    pub state: String,
    pub priority: i64,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The publish target a publish job competes for (`NULL` for syncs).
    pub lane: Option<String>,
}

/// Success of running jobs: what changes (`$1` is now).
macro_rules! complete_set {
    () => {
        "UPDATE jobs SET state = 'succeeded', locked_by = NULL, locked_until = NULL, \
         last_error = NULL, finished_at = $1, updated_at = $1"
    };
}

/// Success of a running job we hold.
const COMPLETE: &str = concat!(
    complete_set!(),
    " WHERE id = $2 AND locked_by = $3 AND state = 'running'"
);

/// How a rescue or a release finds the running jobs: through `running_jobs` (a handful
/// of rows whatever the history), never through an index on `state`.
/// - SQLite: once `ANALYZE` has seen a million finished jobs (`sqlite_stat1`:
///   `jobs_finished 1000000 1000000 …`), it judges an index on `state` useless and scans
///   the whole table for `state = 'running'` (queue bench: claims at 0.63× their speed
///   after 1M finished jobs, from the rescue pass each second).
/// - PostgreSQL: `jobs_finished` leaves running jobs out (migration 0045), and the lease
///   pool plans no sequential scan (`store::pool`), so this is an index walk of
///   `running_jobs` and a primary-key probe per running job.
macro_rules! running {
    () => {
        "id IN (SELECT job_id FROM running_jobs) AND state = 'running'"
    };
}

/// What a rescue does to a running job: back to the queue, or to the dead letters when it has
/// no attempt left (shared by lease expiry and node death). `$1` is now, `$2` the reason.
macro_rules! rescue {
    ($which:literal) => {
        concat!(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
             finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
             last_error = $2, locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE ",
            running!(),
            " AND ",
            $which,
            " RETURNING id"
        )
    };
}

/// Rescue of the running jobs whose lease expired before `$1`.
const RESCUE_EXPIRED: &str = rescue!("locked_until < $1");
/// Rescue of the running jobs of a dead node (`$3` is `<node id>/%`), for `nodes`.
pub(super) const RESCUE_OF_NODE: &str = rescue!("locked_by LIKE $3");

/// A running job of worker `$2` back to the queue, its attempt refunded (`$1` is now).
const RELEASE: &str = concat!(
    "UPDATE jobs SET state = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
     locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE locked_by = $2 AND ",
    running!()
);

/// Success of the running jobs of worker `$2` named by the batch `$3`, one parameter joined
/// to `jobs` by its key: a text array on PostgreSQL, a JSON array read by `json_each` on
/// SQLite. Returns the ids that were still ours.
///
/// - PostgreSQL, given `id IN ($3, …, $130)` instead: the generic plan read every running
///   job from `jobs_finished` (live and not yet vacuumed entries alike) and tested each
///   against the 128 values (queue bench, batched, 2 workers: 2,269 jobs/s, 482 µs of
///   server CPU per job, mostly `ExecEvalScalarArrayOp`); `id = ANY($3)` still planned a
///   `BitmapAnd` with that index.
/// - SQLite: a placeholder per id made binding cost the batch size squared (see `binds`);
///   `json_each` is planned as a primary-key probe per element.
///
/// Indexed by `backend == Postgres`.
const COMPLETE_BATCH: [&str; 2] = [
    concat!(
        complete_set!(),
        " WHERE locked_by = $2 AND state = 'running' \
           AND id IN (SELECT value FROM json_each($3)) RETURNING id"
    ),
    concat!(
        complete_set!(),
        " FROM unnest(CAST($3 AS TEXT[])) AS batch(id) \
         WHERE jobs.id = batch.id AND jobs.locked_by = $2 AND jobs.state = 'running' \
         RETURNING jobs.id"
    ),
];

/// The two claiming statements, as indexes into [`Store::dialect`]'s table.
#[derive(Clone, Copy)]
enum Claiming {
    Claim = 0,
    CompleteAndClaim = 1,
}

/// `template` (a claiming statement of `claim.rs`) in `backend`'s dialect.
fn spell(backend: super::Backend, template: &str) -> String {
    match backend {
        // SQLite's planner would otherwise pick the (state, …) index and sort every waiting
        // job on each claim; the partial index is already in claim order.
        //
        // `LIMIT +$4`, not `LIMIT $4`: SQLite (the bundled 3.51) reads a bound LIMIT while
        // planning and then marks the statement stale whenever that parameter is bound
        // again, so every claim was parsed and planned anew (queue bench, SQLite, 2
        // workers: `sqlite3Reprepare` 22% of the process's CPU). The unary plus keeps the
        // value out of the plan.
        super::Backend::Sqlite => template
            .replace("{index}", "INDEXED BY jobs_runnable")
            .replace("{lock}", "")
            .replace("{limit}", "+$4"),
        // Lock the candidate row and skip rows other replicas hold, so concurrent claims
        // never wait on each other.
        super::Backend::Postgres => template
            .replace("{index}", "")
            .replace("{lock}", "FOR UPDATE OF j SKIP LOCKED")
            .replace("{limit}", "$4"),
    }
}

impl Store {
    /// A claiming statement in this backend's dialect. Spelled once per process: claims run
    /// many times a second and their text never changes.
    fn dialect(&self, statement: Claiming) -> &'static str {
        static TEXTS: LazyLock<[[String; 2]; 2]> = LazyLock::new(|| {
            [super::Backend::Sqlite, super::Backend::Postgres]
                .map(|backend| [CLAIM, COMPLETE_AND_CLAIM].map(|t| spell(backend, t)))
        });
        let backend = match self.backend {
            super::Backend::Sqlite => 0,
            super::Backend::Postgres => 1,
        };
        &TEXTS[backend][statement as usize]
    }

    /// Claims the next runnable job for `worker`, holding it until `lease_until`.
    pub async fn claim(&self, worker: &str, now: i64, lease_until: i64) -> Result<Option<JobRow>> {
        Ok(self.claim_batch(worker, now, lease_until, 1).await?.pop())
    }

    /// Claims up to `limit` runnable jobs for `worker` in one statement, in claim order,
    /// each held until `lease_until`.
    pub async fn claim_batch(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<JobRow>> {
        let _turn = self.gate().await;
        let claimed = sqlx::query_as::<_, JobRow>(self.dialect(Claiming::Claim))
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .bind(limit.max(1) as i64)
            .fetch_all(&self.lease_pool)
            .await;
        match claimed {
            Ok(mut rows) => {
                rows.sort_by(|a, b| {
                    (a.priority, a.run_at, &a.id).cmp(&(b.priority, b.run_at, &b.id))
                });
                Ok(rows)
            }
            // Another process started a job with the same key between our check and our
            // write; `running_jobs` refused the second one. Nothing to claim this time.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks job `id` succeeded and claims the next one together: one round trip and one
    /// commit instead of two of each for a busy worker. Returns whether the job was still
    /// ours, and the next job if any.
    pub async fn complete_and_claim(
        &self,
        id: &str,
        worker: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<(bool, Option<JobRow>)> {
        let _turn = self.gate().await;
        let rows: std::result::Result<Vec<JobRow>, sqlx::Error> = match self.backend {
            // One statement; SQLite resolves its `OR id IN (…)` with two index lookups.
            super::Backend::Sqlite => {
                sqlx::query_as(self.dialect(Claiming::CompleteAndClaim))
                    .bind(worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(id)
                    .fetch_all(&self.lease_pool)
                    .await
            }
            // PostgreSQL plans that `OR` as a scan of the whole table: two statements in one
            // transaction instead.
            super::Backend::Postgres => {
                let mut tx = self.lease_pool.begin().await?;
                let done: Vec<JobRow> =
                    sqlx::query_as(AssertSqlSafe(format!("{COMPLETE} RETURNING *")))
                        .bind(now)
                        .bind(id)
                        .bind(worker)
                        .fetch_all(&mut *tx)
                        .await?;
                match sqlx::query_as::<_, JobRow>(self.dialect(Claiming::Claim))
                    .bind(worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(1_i64)
                    .fetch_optional(&mut *tx)
                    .await
                {
                    Ok(next) => {
                        tx.commit().await?;
                        Ok(done.into_iter().chain(next).collect())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match rows {
            Ok(rows) => {
                let done = rows.iter().any(|r| r.id == id && r.state == "succeeded");
                Ok((done, rows.into_iter().find(|r| r.id != id)))
            }
            // A racing replica (see `claim`): complete alone, claim nothing now.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(_turn);
                Ok((self.complete_job(id, worker, now).await?, None))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Extends a lease; false when the job is no longer ours (rescued or cancelled).
    pub async fn heartbeat(&self, id: &str, worker: &str, lease_until: i64) -> Result<bool> {
        let _turn = self.gate().await;
        Ok(sqlx::query(
            "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = 'running'",
        )
        .bind(lease_until)
        .bind(id)
        .bind(worker)
        .execute(&self.lease_pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Marks a running job of ours succeeded; false when we had lost it.
    pub async fn complete_job(&self, id: &str, worker: &str, now: i64) -> Result<bool> {
        let _turn = self.gate().await;
        Ok(sqlx::query(COMPLETE)
            .bind(now)
            .bind(id)
            .bind(worker)
            .execute(&self.lease_pool)
            .await?
            .rows_affected()
            == 1)
    }

    /// Marks the running jobs `ids` of `worker` succeeded in one statement
    /// ([`COMPLETE_BATCH`]), with the same guard as [`Store::complete_job`] for each. Returns
    /// the ids that were still ours.
    pub async fn complete_jobs(
        &self,
        ids: &[String],
        worker: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let postgres = self.backend == super::Backend::Postgres;
        let batch = super::binds::text_list(postgres, ids.iter().map(String::as_str));
        let _turn = self.gate().await;
        Ok(
            sqlx::query_scalar::<_, String>(COMPLETE_BATCH[usize::from(postgres)])
                .bind(now)
                .bind(worker)
                .bind(batch)
                .fetch_all(&self.lease_pool)
                .await?,
        )
    }

    /// Records a failure: with `retry_at`, the job waits in `failed` for its next attempt
    /// (`refund` gives the attempt back, for waits that are not the job's fault such as a
    /// rate limit); without, it is dead-lettered.
    pub async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        now: i64,
        error: &str,
        retry_at: Option<i64>,
        refund: bool,
    ) -> Result<bool> {
        let _turn = self.gate().await;
        // Without a retry time the job is dead: its `run_at` stays and it gets a finish time.
        Ok(sqlx::query(
            "UPDATE jobs SET state = CASE WHEN CAST($1 AS BIGINT) IS NULL THEN 'dead' ELSE 'failed' END, \
                 run_at = COALESCE(CAST($1 AS BIGINT), run_at), \
                 finished_at = CASE WHEN CAST($1 AS BIGINT) IS NULL THEN $2 ELSE NULL END, \
                 attempts = attempts - $3, last_error = $4, \
                 locked_by = NULL, locked_until = NULL, updated_at = $2 \
             WHERE id = $5 AND locked_by = $6 AND state = 'running'",
        )
        .bind(retry_at)
        .bind(now)
        .bind(i64::from(refund && retry_at.is_some()))
        .bind(error)
        .bind(id)
        .bind(worker)
        .execute(&self.lease_pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Returns jobs whose lease expired (their worker died) to the queue, or to the dead
    /// letters when they have no attempts left. Returns the rescued ids.
    pub async fn rescue_expired(&self, now: i64) -> Result<Vec<String>> {
        let _turn = self.gate().await;
        Ok(sqlx::query_scalar(RESCUE_EXPIRED)
            .bind(now)
            .bind("lease expired: the worker stopped heartbeating")
            .fetch_all(&self.lease_pool)
            .await?)
    }

    /// Gives back the jobs a stopping worker still holds, with their attempt refunded.
    pub async fn release_jobs(&self, worker: &str, now: i64) -> Result<u64> {
        let _turn = self.gate().await;
        Ok(sqlx::query(RELEASE)
            .bind(now)
            .bind(worker)
            .execute(&self.lease_pool)
            .await?
            .rows_affected())
    }

    /// Gives back job `id`, claimed by `worker` but never started, with its attempt
    /// refunded; false when it was no longer ours.
    pub async fn release_job(&self, id: &str, worker: &str, now: i64) -> Result<bool> {
        let _turn = self.gate().await;
        Ok(sqlx::query(AssertSqlSafe(format!("{RELEASE} AND id = $3")))
            .bind(now)
            .bind(worker)
            .bind(id)
            .execute(&self.lease_pool)
            .await?
            .rows_affected()
            == 1)
    }

    /// Cancels a job that is not running or finished. False when it was in another state.
    pub async fn cancel_job(&self, id: &str, now: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $2 \
             WHERE id = $3 AND state IN ('queued', 'failed', 'dead')",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Puts dead, cancelled or waiting jobs back to run now with fresh attempts.
    /// `id = None` retries every dead job. Returns how many were requeued.
    pub async fn retry_jobs(&self, id: Option<&str>, now: i64) -> Result<u64> {
        let q = match id {
            Some(id) => sqlx::query(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, finished_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND state IN ('dead', 'cancelled', 'failed')",
            )
            .bind(now)
            .bind(id),
            None => sqlx::query(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, finished_at = NULL, updated_at = $1 \
                 WHERE state = 'dead'",
            )
            .bind(now),
        };
        Ok(q.execute(&self.pool).await?.rows_affected())
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<JobRow>> {
        Ok(sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Newest first, optionally of one state.
    pub async fn list_jobs(&self, state: Option<JobState>, limit: i64) -> Result<Vec<JobRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(state.map(JobState::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The earliest `run_at` of a job waiting to run, so an idle worker knows when to look.
    pub async fn next_run_at(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT MIN(run_at) FROM jobs WHERE state IN ('queued', 'failed')")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
