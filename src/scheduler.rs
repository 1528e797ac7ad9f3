//! Cron-style schedules: hourly, daily, custom cron lines and a fixed interval.
//!
//! Every firing has an identity, `(schedule name, fire time)`, and is enqueued through
//! `Store::enqueue_firing`, whose primary key makes it run once however many processes or
//! restarts try. Each tick enqueues only the *latest* due firing of each schedule, so after
//! downtime a missed hourly run happens once at start-up, not once per missed hour. Times come
//! from the caller (`tick(now)`), so tests move the clock instead of sleeping. What fires when
//! is the pure schedule model in `config::schedule`.
//!
//! The scheduler also fires retention (`queue::retention`) every `retention.prune_every`, on
//! a task of its own so a long pass never delays a firing; a pass cut short by shutdown
//! loses nothing, each of its batches being a transaction of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use crate::config::schedule::{schedules, Rule, Schedule};
use crate::config::RetentionConfig;
use crate::queue::{JobPayload, Queue, SyncJob, SyncScope, Trigger};
use crate::store::StoreError;

/// Fires schedules into the queue.
pub struct Scheduler {
    schedules: Vec<Schedule>,
    queue: Queue,
    next_sync: watch::Sender<Option<DateTime<Utc>>>,
    /// When set, `run` fires a retention pass every `prune_every`.
    retention: Option<RetentionConfig>,
}

impl Scheduler {
    pub fn new(schedules: Vec<Schedule>, queue: Queue) -> Self {
        let (next_sync, _) = watch::channel(None);
        Self {
            schedules,
            queue,
            next_sync,
            retention: None,
        }
    }

    /// Publishes the next firing on `tx` (the application context's `next_sync`) instead of
    /// a channel of its own.
    pub fn publishing_to(mut self, tx: watch::Sender<Option<DateTime<Utc>>>) -> Self {
        self.next_sync = tx;
        self
    }

    /// Also fire retention passes (see the module docs).
    pub fn with_retention(mut self, cfg: RetentionConfig) -> Self {
        self.retention = Some(cfg);
        self
    }

    /// The next firing of any schedule, for `/health`.
    pub fn next_sync(&self) -> watch::Receiver<Option<DateTime<Utc>>> {
        self.next_sync.subscribe()
    }

    /// Enqueues every schedule's latest due firing that was not enqueued before, and returns
    /// the job ids it enqueued. Publishes the next firing time.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let store = self.queue.store();
        let mut enqueued = Vec::new();
        let mut wake = false;
        for s in &self.schedules {
            let Some(due) = s.latest_due(now) else {
                continue;
            };
            let fire_at = due.timestamp_millis();
            if store
                .last_firing(&s.name)
                .await?
                .is_some_and(|last| last >= fire_at)
            {
                continue;
            }
            let payload = JobPayload::Sync(SyncJob {
                scope: SyncScope::Full,
                sources: None,
                targets: None,
                trigger: Trigger::Schedule {
                    schedule: s.name.clone(),
                    fire_at,
                },
            });
            let job = self.queue.new_job(&payload, now.timestamp_millis());
            if let Some((id, created)) = store
                .enqueue_firing(&s.name, fire_at, &job, now.timestamp_millis())
                .await?
            {
                tracing::info!(schedule = %s.name, fire_at = %due, job_id = %id, "schedule fired");
                wake |= created;
                enqueued.push(id);
            }
        }
        // Wake workers once all of this tick's firings are in: firings due together (the
        // hourly and the daily at midnight) then coalesce into one sync instead of racing
        // a worker that already took the first.
        if wake {
            self.queue.notify();
        }
        let next = self
            .schedules
            .iter()
            .filter_map(|s| s.next_after(now))
            .min();
        self.next_sync.send_replace(next);
        Ok(enqueued)
    }

    /// Ticks at every firing until cancelled. The first tick (at start-up) is the catch-up.
    pub async fn run(self, cancel: CancellationToken) {
        let mut pruning: Option<tokio::task::JoinHandle<()>> = None;
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let now = Utc::now();
            if let Err(e) = self.tick(now).await {
                tracing::error!(error = %e, "scheduler tick failed; retrying in 30 s");
            }
            if let Some(cfg) = &self.retention {
                let idle = pruning.as_ref().is_none_or(|t| t.is_finished());
                if idle && tokio::time::Instant::now() >= next_prune {
                    next_prune = tokio::time::Instant::now() + cfg.prune_every.0;
                    let (store, cfg) = (self.queue.store().clone(), cfg.clone());
                    pruning = Some(tokio::spawn(async move {
                        let now = Utc::now().timestamp_millis();
                        if let Err(e) = crate::queue::retention::prune(&store, &cfg, now).await {
                            tracing::warn!(error = %e, "retention pass failed; the next one retries");
                        }
                    }));
                }
            }
            let wait = self
                .next_sync
                .borrow()
                .map(|n| (n - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(30));
            tokio::select! {
                _ = cancel.cancelled() => {
                    if let Some(t) = pruning {
                        t.abort();
                    }
                    return;
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
