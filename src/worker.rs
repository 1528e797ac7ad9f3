//! The worker pool: N slots that run claimed jobs through a [`JobRunner`], heartbeat their
//! leases and report outcomes to the queue.
//!
//! A running pool works like River's producer and completer (and graphile-worker's local
//! queue with batched completes): one *producer* claims as many jobs as there are free
//! slots in one statement and starts each in a task of its own; one *completer* writes the
//! successes that arrived while its previous write was in flight in one statement. So a busy
//! pool makes about one claim and one acknowledgement round trip per batch instead of two
//! per job, and a claimed job never waits for a slot (its lease starts when it starts) unless
//! `queue.prefetch` asks for a buffer of claimed jobs (see `Ahead`). The
//! lease rules are the single-job ones: an acknowledgement applies only where the job is
//! still `running` and `locked_by` this pool, so a job rescued meanwhile is not overwritten.
//!
//! The pool knows nothing about what a job does (sources and targets are the runner's
//! business). A runner's panic fails that job, never the pool: each job runs in its own
//! task. Shutdown has two steps: `stop` ends claiming and lets running jobs finish; if they
//! outlive the grace period, `abort` cancels them and their leases are released (with the
//! attempt refunded) so another process picks them up at once. Tests drive jobs one at a
//! time through [`WorkerPool::run_one`] and [`WorkerPool::run_pending`] instead.
//!
//! Here: the producer, the completer and the shutdown. One job's run under its lease and
//! the recording of its outcome are `job`'s; the buffer of claimed jobs is `ahead`'s.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::queue::{ClaimedJob, JobError, Queue};
use crate::store::now_ms;

mod ahead;
mod job;

use ahead::{Ahead, MAX_PREFETCH};

/// Runs one job. Production wires the sync cycle; tests plug in fakes.
#[async_trait]
pub trait JobRunner: Send + Sync + 'static {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError>;

    /// `e` with any secret scrubbed, before the pool logs it or the queue stores it.
    fn redacted(&self, e: &JobError) -> JobError {
        e.clone()
    }
}

/// How long an idle worker waits before polling when nothing woke it.
const POLL_INTERVAL: Duration = Duration::from_millis(1000);

/// How often a busy pool looks for expired leases.
const RESCUE_EVERY_MS: i64 = 1000;

/// Most free slots one claim fills, however many are free (with `queue.prefetch`, the
/// buffer's jobs come on top).
const MAX_CLAIM: usize = 64;

/// Most acknowledgements one statement carries.
const MAX_ACK: usize = 512;

/// A success waiting for the completer: the job id, and whether finishing it may let a
/// waiting job run (it had a coalesce key or a lane).
type Ack = (String, bool);

/// The pool's notion of "now" in unix ms; tests move it instead of sleeping.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct WorkerPool {
    queue: Queue,
    runner: Arc<dyn JobRunner>,
    prefix: String,
    clock: Clock,
    /// When this pool last looked for expired leases (unix ms).
    last_rescue: Arc<AtomicI64>,
}

/// Handles to stop a running pool.
pub struct PoolHandle {
    stop: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
}

impl WorkerPool {
    pub fn new(queue: Queue, runner: Arc<dyn JobRunner>) -> Self {
        // Worker ids start with the node id: that is how a dead node's jobs are found.
        let prefix = queue.node().worker_id("w");
        Self {
            queue,
            runner,
            prefix,
            clock: Arc::new(now_ms),
            last_rescue: Arc::new(AtomicI64::new(0)),
        }
    }

    /// True at most once per `RESCUE_EVERY_MS` per pool (and again after an idle poll).
    fn rescue_due(&self, now: i64) -> bool {
        let last = self.last_rescue.load(Ordering::Relaxed);
        (now - last >= RESCUE_EVERY_MS || now < last)
            && self
                .last_rescue
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The same pool reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Starts a producer with `n` slots and its completer (see the module docs).
    pub fn spawn(&self, n: usize) -> PoolHandle {
        let handle = PoolHandle {
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };
        let pool = self.clone();
        let (stop, abort) = (handle.stop.clone(), handle.abort.clone());
        handle.tracker.spawn(async move {
            pool.work(format!("{}:pool", pool.prefix), n.max(1), stop, abort)
                .await
        });
        handle.tracker.close();
        handle
    }

    async fn work(
        &self,
        id: String,
        slots: usize,
        stop: CancellationToken,
        abort: CancellationToken,
    ) {
        tracing::debug!(worker = %id, slots, "worker pool started");
        let (acks, pending) = tokio::sync::mpsc::unbounded_channel();
        let completer = tokio::spawn(self.clone().acknowledge(id.clone(), pending));
        let running = TaskTracker::new();
        let free = Arc::new(tokio::sync::Semaphore::new(slots));
        let prefetch = self.queue.config().prefetch.min(MAX_PREFETCH);
        let mut ahead = Ahead::default();
        while !stop.is_cancelled() {
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                _ = ahead.expired() => {
                    self.give_back(&id, &mut ahead).await;
                    continue;
                }
                p = free.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            // Let the jobs that are finishing right now give their slots back, so that one
            // claim takes them all instead of one claim each.
            tokio::task::yield_now().await;
            let mut permits = vec![first];
            while permits.len() < MAX_CLAIM {
                match free.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let notified = self.queue.wake().notified();
            // Claim only when the buffer cannot fill every free slot; then for those slots and
            // a full buffer behind them.
            let mut drained = false;
            if ahead.len() < permits.len() {
                let wanted = permits.len() - ahead.len() + prefetch;
                match self.claim_batch(&id, wanted).await {
                    Ok(jobs) => {
                        drained = jobs.len() < wanted;
                        ahead.push(jobs, self.queue.lease() / 3);
                    }
                    Err(e) => {
                        tracing::error!(worker = %id, error = %e, "queue error; backing off");
                        drained = true;
                    }
                }
            }
            while let Some(permit) = permits.pop() {
                let Some(job) = ahead.pop() else { break };
                let (pool, worker, abort, acks) =
                    (self.clone(), id.clone(), abort.clone(), acks.clone());
                running.spawn(async move {
                    let _slot = permit;
                    if let Err(e) = pool.run_claimed(&worker, job, &abort, &acks).await {
                        tracing::error!(worker = %worker, error = %e, "queue error after a job");
                    }
                });
            }
            drop(permits);
            if !drained || !ahead.is_empty() {
                continue;
            }
            // The queue had fewer runnable jobs than free slots: wait for a wake-up, the
            // next job's due time, or the poll. (Unlike `step`, an idle pool does not rescue
            // on every wake-up: that would put a write before the claim a wake-up is for.)
            let idle = self.idle_wait().await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = notified => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
        running.close();
        running.wait().await;
        drop(acks);
        let _ = completer.await;
        if let Err(e) = self.queue.store().release_jobs(&id, self.now()).await {
            tracing::error!(worker = %id, error = %e, "could not release leases on shutdown");
        }
        tracing::debug!(worker = %id, "worker pool stopped");
    }

    /// Rescues expired leases when due, then claims up to `n` jobs.
    async fn claim_batch(
        &self,
        worker: &str,
        n: usize,
    ) -> Result<Vec<ClaimedJob>, crate::store::StoreError> {
        let now = self.now();
        if self.rescue_due(now) {
            self.queue.rescue(now).await?;
        }
        self.queue.claim_batch(worker, now, n).await
    }

    /// The completer: writes the successes that queued up while its last write was in flight
    /// in one statement (no timer: an idle pool acknowledges at once, a busy one in batches).
    async fn acknowledge(
        self,
        worker: String,
        mut pending: tokio::sync::mpsc::UnboundedReceiver<Ack>,
    ) {
        let mut batch = Vec::new();
        while pending.recv_many(&mut batch, MAX_ACK).await > 0 {
            let frees = batch.iter().any(|(_, frees)| *frees);
            let ids: Vec<String> = batch.drain(..).map(|(id, _)| id).collect();
            match self.queue.complete_batch(&ids, &worker, self.now()).await {
                Ok(done) if done.len() < ids.len() => {
                    for id in ids.iter().filter(|id| !done.contains(id)) {
                        tracing::warn!(job_id = %id, "job succeeded but its lease was lost meanwhile; it may run again");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(
                    error = %e, jobs = ids.len(),
                    "could not record successes; the jobs run again when their leases expire"
                ),
            }
            // A finished job may free its lane or its key for a job the producer skipped.
            if frees {
                self.queue.notify();
            }
        }
    }

    /// How long an idle worker waits: until the next waiting job comes due (a retry, a
    /// rate-limit wait, a debounce, a circuit probe), at most the poll interval. A job that
    /// is due but could not be claimed (its lane or key is busy) is looked at again when a
    /// job finishes (see `execute`) or at the poll.
    async fn idle_wait(&self) -> Duration {
        let now = self.now();
        match self.queue.store().next_run_at().await {
            Ok(Some(t)) if t > now => Duration::from_millis((t - now) as u64).min(POLL_INTERVAL),
            _ => POLL_INTERVAL,
        }
    }

    /// Claims and runs a job; returns how many ran (0 when there was nothing to run).
    ///
    /// With `chain`, a job that succeeds hands over to the next runnable job in the same
    /// transaction as its completion (while `chain` is not cancelled); without, exactly one
    /// job runs.
    async fn step(
        &self,
        worker: &str,
        chain: Option<&CancellationToken>,
        abort: &CancellationToken,
    ) -> Result<usize, crate::store::StoreError> {
        // Rescue is a write: under load it runs once a second, when idle on every poll.
        let now = self.now();
        if self.rescue_due(now) {
            self.queue.rescue(now).await?;
        }
        let Some(mut job) = self.queue.claim(worker, now).await? else {
            self.last_rescue.store(0, Ordering::Relaxed);
            return Ok(0);
        };
        let mut ran = 1;
        loop {
            let chaining = chain.is_some_and(|stop| !stop.is_cancelled());
            match self.execute(worker, job, chaining, abort).await? {
                Some(next) => {
                    job = next;
                    ran += 1;
                }
                None => return Ok(ran),
            }
        }
    }

    /// Runs the next runnable job in this task, if any; returns whether one ran.
    pub async fn run_one(&self) -> Result<bool, crate::store::StoreError> {
        let never = CancellationToken::new();
        Ok(self
            .step(&format!("{}:drain", self.prefix), None, &never)
            .await?
            > 0)
    }

    /// Runs every runnable job in this task until none is left; returns how many ran.
    /// Tests use this to drive the queue deterministically instead of sleeping.
    pub async fn run_pending(&self) -> Result<usize, crate::store::StoreError> {
        let worker = format!("{}:drain", self.prefix);
        let never = CancellationToken::new();
        let mut n = 0;
        loop {
            match self.step(&worker, Some(&never), &never).await? {
                0 => return Ok(n),
                ran => n += ran,
            }
        }
    }
}

impl PoolHandle {
    /// Stops claiming, waits up to `grace` for running jobs, then aborts and releases them.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "jobs still running after the grace period; aborting them"
            );
            self.abort.cancel();
            self.tracker.wait().await;
        }
    }
}
