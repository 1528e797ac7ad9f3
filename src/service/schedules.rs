//! The configured schedules for the console: each with its next firings, its last firing and
//! that firing's outcome, and "run now".
//!
//! "Run now" queues the same full sync a firing would, labelled with the schedule, but it is
//! not a firing: the scheduler's ledger (one row per fire time) is left alone, so the next
//! regular firing still happens.

use crate::timestamp::millis;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::App;
use super::ServiceError;
use crate::auth::{Principal, Role};
use crate::config::schedule::{Rule, Schedule};
use crate::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use crate::store::now_ms;

/// Next firings listed per schedule.
pub const NEXT: usize = 5;

#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub name: String,
    /// The cron expression or the interval.
    pub rule: String,
    pub next: Vec<String>,
    pub last_fire_at: Option<String>,
    pub last_job_id: Option<String>,
    /// The last firing's job state (`None`: never fired, or the job was pruned).
    pub last_outcome: Option<String>,
}

fn configured(app: &App) -> Result<Vec<Schedule>, ServiceError> {
    if !app.config.sync_enabled {
        return Ok(Vec::new());
    }
    crate::config::schedule::schedules(&app.config.file.sync_schedule)
        .map_err(ServiceError::Internal)
}

fn rule_text(s: &Schedule) -> String {
    match &s.rule {
        Rule::Cron(c) => c.pattern.to_string(),
        Rule::Every(d) => format!("every {} s", d.as_secs()),
    }
}

pub async fn schedules(app: &App) -> Result<Vec<ScheduleView>, ServiceError> {
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
    let mut out = Vec::new();
    for s in configured(app)? {
        let mut next = Vec::with_capacity(NEXT);
        let mut t = now;
        while next.len() < NEXT {
            let Some(n) = s.next_after(t) else { break };
            next.push(millis(n.timestamp_millis()));
            t = n;
        }
        let last = app.store.last_firing_job(&s.name).await?;
        out.push(ScheduleView {
            rule: rule_text(&s),
            name: s.name,
            next,
            last_fire_at: last.as_ref().map(|(at, _, _)| millis(*at)),
            last_job_id: last.as_ref().map(|(_, id, _)| id.clone()),
            last_outcome: last.and_then(|(_, _, st)| st),
        });
    }
    Ok(out)
}

/// Queues schedule `name`'s sync now; returns the job id.
pub async fn run_now(app: &App, who: &Principal, name: &str) -> Result<String, ServiceError> {
    who.require(Role::Operator)?;
    let schedule = configured(app)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ServiceError::NotFound(format!("no schedule {name}")))?;
    let now = now_ms();
    let payload = JobPayload::Sync(SyncJob {
        scope: SyncScope::Full,
        sources: None,
        targets: None,
        trigger: Trigger::Schedule {
            schedule: schedule.name.clone(),
            fire_at: now,
        },
    });
    let id = app.queue.enqueue(&payload, now).await?;
    super::users::audit(
        app,
        who,
        "schedule.run_now",
        name,
        Some(format!("job {id}")),
    )
    .await;
    Ok(id)
}
