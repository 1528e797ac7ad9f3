//! Cron-style schedules: hourly, daily, custom cron lines and a fixed interval.
//!
//! Every firing has an identity, `(schedule name, fire time)`, and is enqueued through
//! `Store::enqueue_firing`, whose primary key makes it run once however many processes or
//! restarts try. Each tick enqueues only the *latest* due firing of each schedule, so after
//! downtime a missed hourly run happens once at start-up, not once per missed hour. Times come
//! from the caller (`tick(now)`), so tests move the clock instead of sleeping. Cron syntax is
//! parsed by `croner` (5 fields; a seconds field is refused so `*` can never mean every second).
//!
//! The scheduler also fires retention (`queue::retention`) every `retention.prune_every`, on
//! a task of its own so a long pass never delays a firing; a pass cut short by shutdown
//! loses nothing, each of its batches being a transaction of its own.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{RetentionConfig, SyncSchedule};
use crate::queue::{JobPayload, Queue, SyncJob, SyncScope, Trigger};
use crate::store::StoreError;

/// Parses a 5-field cron expression (UTC).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err(format!(
            "{expr:?} must have exactly 5 fields (minute hour day month weekday)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("{expr:?}: {e}"))
}

/// The cron expression for a daily `HH:MM` (UTC).
pub fn daily_expression(hhmm: &str) -> Result<String, String> {
    let t = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M")
        .map_err(|_| format!("{hhmm:?} is not a time of day in HH:MM"))?;
    use chrono::Timelike;
    Ok(format!("{} {} * * *", t.minute(), t.hour()))
}

#[derive(Debug, Clone)]
pub enum Rule {
    Cron(Box<Cron>),
    /// Fires at every multiple of the interval since the unix epoch, so that all replicas
    /// agree on the fire times.
    Every(Duration),
}

#[derive(Debug, Clone)]
pub struct Schedule {
    /// Stable name: the dedupe key's first half.
    pub name: String,
    pub rule: Rule,
}

/// The schedules a config asks for. Names are unique.
pub fn schedules(cfg: &SyncSchedule) -> Result<Vec<Schedule>, String> {
    let mut out = Vec::new();
    let mut cron = |name: String, expr: &str| -> Result<(), String> {
        out.push(Schedule {
            name,
            rule: Rule::Cron(Box::new(parse_cron(expr)?)),
        });
        Ok(())
    };
    if cfg.hourly {
        cron("hourly".into(), "0 * * * *")?;
    }
    if let Some(daily) = &cfg.daily {
        cron("daily".into(), &daily_expression(daily)?)?;
    }
    for expr in &cfg.cron {
        cron(format!("cron:{expr}"), expr)?;
    }
    if let Some(secs) = cfg.interval_secs.filter(|s| *s > 0) {
        out.push(Schedule {
            name: format!("every:{secs}s"),
            rule: Rule::Every(Duration::from_secs(secs)),
        });
    }
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

impl Schedule {
    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron(c) => c.find_next_occurrence(&t, false).ok(),
            Rule::Every(d) => {
                let step = d.as_millis() as i64;
                let n = t.timestamp_millis().div_euclid(step) + 1;
                DateTime::from_timestamp_millis(n * step)
            }
        }
    }

    /// The latest firing at or before `now`, looking back at most a year.
    pub fn latest_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Every(d) => {
                let step = d.as_millis() as i64;
                DateTime::from_timestamp_millis(now.timestamp_millis().div_euclid(step) * step)
            }
            Rule::Cron(c) => {
                // Widen the window until it holds a firing, then walk forward inside it:
                // the walk is bounded by the firings in the smallest such window.
                for back in [
                    TimeDelta::hours(1),
                    TimeDelta::days(1),
                    TimeDelta::days(8),
                    TimeDelta::days(32),
                    TimeDelta::days(366),
                ] {
                    let mut t = c.find_next_occurrence(&(now - back), true).ok()?;
                    if t > now {
                        continue;
                    }
                    while let Some(n) = c.find_next_occurrence(&t, false).ok().filter(|n| *n <= now)
                    {
                        t = n;
                    }
                    return Some(t);
                }
                None
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn config_table_names_are_unique_and_parse() {
        let cfg = SyncSchedule {
            cron: vec!["*/15 * * * *".into(), "0 6 * * 1".into()],
            interval_secs: Some(600),
            ..Default::default()
        };
        let s = schedules(&cfg).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hourly",
                "daily",
                "cron:*/15 * * * *",
                "cron:0 6 * * 1",
                "every:600s"
            ]
        );
    }

    #[test]
    fn refuses_seconds_fields_and_garbage() {
        assert!(parse_cron("* * * * * *").is_err());
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("0 * * *").is_err());
        assert!(daily_expression("25:00").is_err());
        assert_eq!(daily_expression("07:30").unwrap(), "30 7 * * *");
    }

    #[test]
    fn latest_due_and_next() {
        let s = schedules(&SyncSchedule {
            daily: None,
            ..Default::default()
        })
        .unwrap()
        .remove(0);
        assert_eq!(
            s.latest_due(at("2026-01-01T10:59:59Z")),
            Some(at("2026-01-01T10:00:00Z"))
        );
        assert_eq!(
            s.latest_due(at("2026-01-01T11:00:00Z")),
            Some(at("2026-01-01T11:00:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-01-01T11:00:00Z")),
            Some(at("2026-01-01T12:00:00Z"))
        );
        let weekly = Schedule {
            name: "w".into(),
            rule: Rule::Cron(Box::new(parse_cron("0 6 * * 1").unwrap())),
        };
        // 2026-01-05 is a Monday.
        assert_eq!(
            weekly.latest_due(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-05T06:00:00Z"))
        );
        let every = Schedule {
            name: "e".into(),
            rule: Rule::Every(Duration::from_secs(600)),
        };
        assert_eq!(
            every.latest_due(at("2026-01-01T10:09:00Z")),
            Some(at("2026-01-01T10:00:00Z"))
        );
        assert_eq!(
            every.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-01T10:10:00Z"))
        );
    }
}
