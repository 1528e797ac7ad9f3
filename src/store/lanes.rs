//! Lanes: what publish targets and job kinds share across every worker and replica — a
//! concurrency bound (read by the claim), a request-rate token bucket, and a circuit breaker.
//!
//! All of it lives in the `lanes` table so that two replicas see one budget and one breaker;
//! nothing here sleeps. A caller that may not go now is told *when* it may, and the queue
//! reschedules its job for that time. Breaker transitions are decided inside one write
//! transaction, so exactly one caller sees (and logs) each transition.

use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Backend, Result, Store};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct LaneRow {
    pub name: String,
    pub max_running: Option<i64>,
    pub tokens: Option<f64>,
    pub refilled_at: Option<i64>,
    /// `closed` or `open`.
    pub breaker: String,
    /// Consecutive failed attempts.
    pub failures: i64,
    pub opened_at: Option<i64>,
    pub next_probe_at: Option<i64>,
    pub updated_at: i64,
}

/// What the breaker says about an attempt now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go.
    Go,
    /// Open, and this attempt is the one probe of this interval; the probe after it is
    /// due at `next` (where the others wait, and this one too if it fails).
    Probe { next: i64 },
    /// Open: wait until this time (unix ms) without using an attempt.
    Wait(i64),
}

/// A breaker transition an outcome caused (each one is seen by exactly one caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Opened {
        failures: i64,
    },
    /// Closed again; `drained` waiting jobs of the lane were made runnable.
    Closed {
        drained: u64,
    },
}

const ENSURE: &str =
    "INSERT INTO lanes (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";

impl Store {
    /// Sets each lane's concurrency bound (at start-up; the last process to start wins).
    pub async fn set_lane_limits(&self, limits: &[(&str, Option<i64>)], now: i64) -> Result<()> {
        let (_turn, mut tx) = self.write_tx().await?;
        for (name, max) in limits {
            sqlx::query(
                "INSERT INTO lanes (name, max_running, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running",
            )
            .bind(*name)
            .bind(*max)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn lanes(&self) -> Result<Vec<LaneRow>> {
        Ok(sqlx::query_as("SELECT * FROM lanes ORDER BY name")
            .fetch_all(&self.pool)
            .await?)
    }

    /// The row of `name` inside a write transaction, locked on PostgreSQL.
    fn locked(&self, sql: &str) -> AssertSqlSafe<String> {
        // Safe: `sql` is one of this file's constants.
        AssertSqlSafe(match self.backend {
            Backend::Sqlite => sql.to_owned(),
            Backend::Postgres => format!("{sql} FOR UPDATE"),
        })
    }

    /// Takes one request token of lane `name` (a bucket of `burst` refilled at `rate` per
    /// second). `None`: go now; `Some(t)`: come back at `t` (unix ms, when the bucket is full
    /// again; see `bucket`), nothing was taken.
    /// Bookkeeping only, so it commits without waiting for the disk (see `lease_pool`).
    pub async fn take_token(
        &self,
        name: &str,
        rate: f64,
        burst: f64,
        now: i64,
    ) -> Result<Option<i64>> {
        let (_turn, mut tx) = self.tx_on(&self.lease_pool).await?;
        sqlx::query(ENSURE)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (tokens, at): (Option<f64>, Option<i64>) =
            sqlx::query_as(self.locked("SELECT tokens, refilled_at FROM lanes WHERE name = $1"))
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        let (available, wait) = bucket(tokens, at, rate, burst, now);
        if wait.is_none() {
            sqlx::query("UPDATE lanes SET tokens = $1, refilled_at = $2 WHERE name = $3")
                .bind(available - 1.0)
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(wait.map(|ms| now + ms))
    }

    /// Whether an attempt on lane `name` may go now (see [`Admission`]). While the breaker is
    /// open, the first caller at or after `next_probe_at` becomes the probe and moves
    /// `next_probe_at` on by `probe_ms`; everyone else waits for that time.
    pub async fn breaker_admit(&self, name: &str, probe_ms: i64, now: i64) -> Result<Admission> {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT breaker, next_probe_at FROM lanes WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            None => Ok(Admission::Go),
            Some((b, _)) if b != "open" => Ok(Admission::Go),
            Some((_, Some(at))) if at > now => Ok(Admission::Wait(at)),
            Some(_) => {
                let (_turn, mut tx) = self.write_tx().await?;
                let taken = sqlx::query(
                    "UPDATE lanes SET next_probe_at = $1, updated_at = $2 \
                     WHERE name = $3 AND breaker = 'open' AND (next_probe_at IS NULL OR next_probe_at <= $2)",
                )
                .bind(now + probe_ms)
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(if taken == 1 {
                    Admission::Probe {
                        next: now + probe_ms,
                    }
                } else {
                    Admission::Wait(now + probe_ms)
                })
            }
        }
    }

    /// Records a failed attempt on lane `name`; opens the breaker at `threshold` consecutive
    /// failures (the next probe `probe_ms` later), and then moves every waiting job of the
    /// lane to that probe time.
    pub async fn breaker_failure(
        &self,
        name: &str,
        threshold: i64,
        probe_ms: i64,
        now: i64,
    ) -> Result<Transition> {
        let (_turn, mut tx) = self.write_tx().await?;
        sqlx::query(ENSURE)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (breaker, failures): (String, i64) =
            sqlx::query_as(self.locked("SELECT breaker, failures FROM lanes WHERE name = $1"))
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        let failures = failures + 1;
        let opens = breaker != "open" && failures >= threshold;
        sqlx::query(
            "UPDATE lanes SET failures = $1, updated_at = $2, \
                 breaker = CASE WHEN $3 = 1 THEN 'open' ELSE breaker END, \
                 opened_at = CASE WHEN $3 = 1 THEN $2 ELSE opened_at END, \
                 next_probe_at = CASE WHEN $3 = 1 THEN CAST($4 AS BIGINT) ELSE next_probe_at END \
             WHERE name = $5",
        )
        .bind(failures)
        .bind(now)
        .bind(i64::from(opens))
        .bind(now + probe_ms)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if opens {
            // Every waiting delivery now waits for the first probe: the oldest one is then
            // the probe, and the backlog goes out in the order it came in.
            sqlx::query(
                "UPDATE jobs SET run_at = $1, updated_at = $2 \
                 WHERE lane = $3 AND state IN ('queued', 'failed')",
            )
            .bind(now + probe_ms)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(if opens {
            Transition::Opened { failures }
        } else {
            Transition::None
        })
    }

    /// Records a success on lane `name`. When that closes an open breaker, the lane's waiting
    /// jobs become runnable now, in the same transaction, and run in the order they were
    /// created (job ids are time-ordered and the claim breaks `run_at` ties by id).
    pub async fn breaker_success(&self, name: &str, now: i64) -> Result<Transition> {
        // The common case (closed, no failures) needs no write at all.
        let seen: Option<(String, i64)> =
            sqlx::query_as("SELECT breaker, failures FROM lanes WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        if !matches!(&seen, Some((b, f)) if b == "open" || *f > 0) {
            return Ok(Transition::None);
        }
        let (_turn, mut tx) = self.write_tx().await?;
        let row: Option<(String, i64)> =
            sqlx::query_as(self.locked("SELECT breaker, failures FROM lanes WHERE name = $1"))
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let transition = match row {
            None | Some((_, 0)) => Transition::None,
            Some((breaker, _)) => {
                sqlx::query(
                    "UPDATE lanes SET breaker = 'closed', failures = 0, opened_at = NULL, \
                         next_probe_at = NULL, updated_at = $1 WHERE name = $2",
                )
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
                if breaker == "open" {
                    let drained = sqlx::query(
                        "UPDATE jobs SET run_at = $1, updated_at = $1 \
                         WHERE lane = $2 AND state IN ('queued', 'failed')",
                    )
                    .bind(now)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    Transition::Closed { drained }
                } else {
                    Transition::None
                }
            }
        };
        tx.commit().await?;
        Ok(transition)
    }

    /// Makes every other waiting job of lane `name` wait until after `until`, so that the job
    /// with coalescing key `holder`, paced until then, gets the lane's budget first. Without
    /// it, jobs resuming in turn each spent the refilled budget on their own first request
    /// (a lookup) and none got further.
    pub async fn hold_lane(&self, name: &str, holder: &str, until: i64, now: i64) -> Result<()> {
        let _turn = self.gate().await;
        sqlx::query(
            "UPDATE jobs SET run_at = $1, updated_at = $2 WHERE lane = $3 \
                 AND state IN ('queued', 'failed') AND run_at < $1 AND coalesce_key <> $4",
        )
        .bind(until + 1)
        .bind(now)
        .bind(name)
        .bind(holder)
        .execute(&self.lease_pool)
        .await?;
        Ok(())
    }

    /// Waiting jobs (queued or failed) per lane.
    pub async fn lane_backlog(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT lane, COUNT(*) FROM jobs WHERE lane IS NOT NULL AND state IN ('queued', 'failed') GROUP BY lane",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A token bucket at `now`: the tokens available and, when none is, how many ms until the
/// bucket is full again. Full, not just one token: the caller comes back as a rescheduled
/// job whose first request often repeats a lookup (Notion's page search before a create), so
/// waiting for one token at a time could starve it; a full bucket lets it get further each
/// time, and the average rate is the same.
fn bucket(
    tokens: Option<f64>,
    at: Option<i64>,
    rate: f64,
    burst: f64,
    now: i64,
) -> (f64, Option<i64>) {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1.0
    };
    let burst = burst.max(1.0);
    let elapsed = at.map_or(0, |t| (now - t).max(0)) as f64 / 1000.0;
    let available = tokens.map_or(burst, |t| (t + elapsed * rate).min(burst));
    if available >= 1.0 {
        (available, None)
    } else {
        (
            available,
            Some((((burst - available) / rate) * 1000.0).ceil() as i64),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        // A fresh bucket holds `burst` tokens.
        assert_eq!(bucket(None, None, 3.0, 3.0, 0), (3.0, None));
        // Empty: full again in a second at 3/s.
        assert_eq!(
            bucket(Some(0.0), Some(1000), 3.0, 3.0, 1000),
            (0.0, Some(1000))
        );
        // Refills with time, never beyond the burst.
        assert_eq!(bucket(Some(0.0), Some(0), 3.0, 3.0, 10_000).0, 3.0);
        let (t, wait) = bucket(Some(0.5), Some(0), 2.0, 3.0, 250);
        assert!((t - 1.0).abs() < 1e-9 && wait.is_none());
    }
}
