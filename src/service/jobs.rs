//! Jobs for the console: a filtered list, one job with its attempt history, and retry or
//! cancel of one job or of every job matching a filter. Every action is audited.

use crate::timestamp::millis;
use serde::{Deserialize, Serialize};

use super::events::FieldErrors;
use super::App;
use super::{job_detail, JobDetail, JobView, ServiceError};
use crate::auth::{Principal, Role};
use crate::store::{now_ms, JobFilter, JobState};
use crate::sync::snapshot::TARGET_NAMES;

/// Jobs per page.
pub const PAGE: i64 = 50;
/// States a retry applies to.
pub const RETRYABLE: [&str; 3] = ["dead", "failed", "cancelled"];
/// States a cancel applies to.
pub const CANCELLABLE: [&str; 3] = ["queued", "failed", "dead"];
/// Job kinds.
pub const KINDS: [&str; 3] = ["sync", "publish", "discord_followup"];

/// The filter as a form sends it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct JobQuery {
    pub state: String,
    pub kind: String,
    pub target: String,
    pub error: String,
    pub after: String,
}

impl JobQuery {
    pub fn parse(&self) -> Result<(JobFilter, Option<(i64, String)>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let state = opt(&self.state);
        if state
            .as_deref()
            .is_some_and(|s| JobState::parse(s).is_none())
        {
            errors.insert("state", "unknown state".into());
        }
        let kind = opt(&self.kind);
        if kind.as_deref().is_some_and(|k| !KINDS.contains(&k)) {
            errors.insert("kind", format!("unknown kind; valid: {}", KINDS.join(", ")));
        }
        let target = opt(&self.target);
        if target
            .as_deref()
            .is_some_and(|t| !TARGET_NAMES.contains(&t))
        {
            errors.insert(
                "target",
                format!("unknown target; valid: {}", TARGET_NAMES.join(", ")),
            );
        }
        if self.error.len() > 200 {
            errors.insert("error", "at most 200 characters".into());
        }
        let cursor = super::events::parse_cursor(&self.after).unwrap_or_else(|e| {
            errors.insert("after", e);
            None
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((
            JobFilter {
                state,
                kind,
                target,
                error: opt(&self.error),
            },
            cursor,
        ))
    }

    pub fn query_string(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("state", &self.state),
            ("kind", &self.kind),
            ("target", &self.target),
            ("error", &self.error),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }
}

#[derive(Debug, Serialize)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    pub next: Option<String>,
}

pub async fn jobs(
    app: &App,
    filter: &JobFilter,
    cursor: &Option<(i64, String)>,
) -> Result<JobPage, ServiceError> {
    let mut rows = app.store.job_page(filter, cursor, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more
        .then(|| rows.last().map(|j| format!("{}.{}", j.created_at, j.id)))
        .flatten();
    Ok(JobPage {
        jobs: rows.into_iter().map(Into::into).collect(),
        next,
    })
}

/// One failed attempt.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at: Option<String>,
    pub finished_at: String,
    pub outcome: String,
    pub error: Option<String>,
}

/// A job with its attempt history.
#[derive(Debug, Serialize)]
pub struct JobFull {
    #[serde(flatten)]
    pub detail: JobDetail,
    /// Failed attempts, oldest first (`attempts` is the job's count).
    pub history: Vec<AttemptView>,
}

pub async fn job(app: &App, id: &str) -> Result<JobFull, ServiceError> {
    let mut detail = job_detail(app, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no job {id}")))?;
    let secrets = &app.config.secrets;
    // Upstream answers are redacted when stored; once more here costs nothing.
    for d in &mut detail.deliveries {
        d.last_error = d
            .last_error
            .take()
            .map(|e| super::redact::redact(&e, secrets, 2000));
    }
    let history = app
        .store
        .attempts(id)
        .await?
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            started_at: a.started_at.map(millis),
            finished_at: millis(a.finished_at),
            outcome: a.outcome,
            error: a.error.map(|e| super::redact::redact(&e, secrets, 2000)),
        })
        .collect();
    Ok(JobFull { detail, history })
}

/// Retry (`retry`) or cancel one job.
pub async fn act(app: &App, who: &Principal, id: &str, retry: bool) -> Result<(), ServiceError> {
    who.require(Role::Operator)?;
    let now = now_ms();
    let done = if retry {
        app.store.retry_jobs(Some(id), now).await? == 1
    } else {
        app.store.cancel_job(id, now).await?
    };
    if !done {
        let job = app
            .store
            .get_job(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no job {id}")))?;
        let allowed = if retry { RETRYABLE } else { CANCELLABLE };
        return Err(ServiceError::Conflict(format!(
            "job {id} is {}; only {} jobs can be {}",
            job.state,
            allowed.join(", "),
            if retry { "retried" } else { "cancelled" }
        )));
    }
    if retry {
        app.queue.notify();
    }
    let action = if retry { "job.retry" } else { "job.cancel" };
    super::users::audit(app, who, action, id, None).await;
    Ok(())
}

/// How many jobs matching `filter` a bulk retry (or cancel) would touch.
pub async fn count_matching(
    app: &App,
    filter: &JobFilter,
    retry: bool,
) -> Result<i64, ServiceError> {
    let states: &[&str] = if retry { &RETRYABLE } else { &CANCELLABLE };
    Ok(app.store.count_jobs_matching(filter, states).await?)
}

/// Retries (or cancels) every job matching `filter` that can be; returns how many.
pub async fn act_matching(
    app: &App,
    who: &Principal,
    filter: &JobFilter,
    query: &str,
    retry: bool,
) -> Result<usize, ServiceError> {
    who.require(Role::Operator)?;
    let states: &[&str] = if retry { &RETRYABLE } else { &CANCELLABLE };
    let ids = app.store.bulk_jobs(filter, states, retry, now_ms()).await?;
    if retry && !ids.is_empty() {
        app.queue.notify();
    }
    let action = if retry {
        "job.retry_matching"
    } else {
        "job.cancel_matching"
    };
    let detail = format!("filter {query:?}: {} job(s)", ids.len());
    super::users::audit(app, who, action, "jobs", Some(detail)).await;
    Ok(ids.len())
}
