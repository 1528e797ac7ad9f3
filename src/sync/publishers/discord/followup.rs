//! Editing a deferred Discord answer with what came of the command: the `discord_followup`
//! job (`queue::FollowupJob`).
//!
//! `/helix sync` answers Discord at once with "thinking…" (the Discord front end, `discord`)
//! and queues this job in the same request, before that answer. Each run looks at the sync
//! job it reports on: still waiting or running, the follow-up hands itself back to the queue
//! for [`POLL_MS`] as a rate-limit wait, which uses no attempt and holds no worker; finished,
//! it edits the original answer (`PATCH /webhooks/{application}/{token}/messages/@original`)
//! with the run's result. The interaction's token lives 15 minutes: a run still going
//! [`MARGIN_MS`] before that is reported as still running, with a link to the console, and
//! once the token is dead nothing can be edited, so the job ends (dead, with that reason).
//!
//! "Now" is the time the job was claimed (the pool's clock), so that the deadline follows the
//! same clock as the queue's waits. An edit is idempotent (the same content again), so a
//! crash after sending it and before the job was acknowledged costs a second identical edit,
//! never a lost one. Discord's 429 (`retry_after`) is a rate-limit wait; 401/403/404 mean the
//! token or the message is gone, which no retry mends.
//!
//! The token is a credential for its 15 minutes. It is read from the stored interaction (the
//! only place it is kept; the job holds the event's id), goes only into the request's URL,
//! and reqwest errors are stripped of their URL, so no log line or stored error shows it.

use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

use super::super::limits::{discord::CONTENT, truncate};
use super::super::PublishError;
use crate::queue::{FollowupJob, JobError, Report};
use crate::store::RunRow;
use crate::sync::SyncDeps;

/// How long a follow-up waits before looking at its sync job again.
pub const POLL_MS: i64 = 3_000;
/// How long before the token expires a run still going is reported as such.
pub const MARGIN_MS: i64 = 60_000;

/// Runs one follow-up at `now` (unix ms, the claim time).
pub async fn run(deps: &SyncDeps, job: &FollowupJob, now: i64) -> Result<(), JobError> {
    let count = |outcome: &'static str| {
        metrics::counter!("helix_discord_followups_total", "outcome" => outcome).increment(1);
    };
    let application = deps
        .config
        .discord_application_id
        .as_deref()
        .ok_or_else(|| JobError::Permanent("DISCORD_APPLICATION_ID is not set".into()))?;
    if now >= job.expires_at {
        count("expired");
        return Err(JobError::Permanent(
            "the interaction's token expired before its answer could be edited".into(),
        ));
    }
    let (content, outcome) = match &job.report {
        Report::Text { content } => (content.clone(), "edited"),
        Report::Job { job_id } => match report(deps, job_id).await? {
            Some(result) => (result, "edited"),
            None if now < job.expires_at - MARGIN_MS => {
                return Err(JobError::RateLimited {
                    message: format!("waiting for job {job_id} to finish"),
                    retry_at: (now + POLL_MS).min(job.expires_at - MARGIN_MS),
                });
            }
            None => (still_running(deps, job_id), "still_running"),
        },
    };
    let token = token(deps, &job.event_id).await?;
    edit(deps, application, &token, &content).await?;
    count(outcome);
    Ok(())
}

/// The result of sync job `job_id` in words, once it has finished; `None` while it waits or
/// runs (or retries).
async fn report(deps: &SyncDeps, job_id: &str) -> Result<Option<String>, JobError> {
    let store = |e: crate::store::StoreError| JobError::Retryable(format!("store: {e}"));
    let Some(job) = deps.store.get_job(job_id).await.map_err(store)? else {
        return Ok(Some(format!(
            "Sync job `{job_id}` is gone (pruned before it could be reported)."
        )));
    };
    if !matches!(job.state.as_str(), "succeeded" | "dead" | "cancelled") {
        return Ok(None);
    }
    let run = deps.store.run_for_job(job_id).await.map_err(store)?;
    let text = match (&run, job.state.as_str()) {
        (Some(run), _) => run_result(run),
        (None, "cancelled") => format!("Sync job `{job_id}` was cancelled before it ran."),
        (None, state) => format!(
            "Sync job `{job_id}` ended {state} without a run: {}",
            job.last_error.as_deref().unwrap_or("no error recorded")
        ),
    };
    let link = match &run {
        Some(r) => deps.config.link(&format!("/console/runs/{}", r.id)),
        None => deps.config.link(&format!("/console/jobs/{job_id}")),
    };
    Ok(Some(with_link(text, link)))
}

/// One finished run in a sentence or two: its status, how long it took, what failed.
pub fn run_result(run: &RunRow) -> String {
    let icon = match run.status.as_str() {
        "succeeded" => "✅",
        "partial" => "⚠️",
        _ => "❌",
    };
    let took = run
        .duration_ms
        .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let mut text = format!("{icon} Sync run `{}` {}{took}.", run.id, run.status);
    let sources: serde_json::Map<String, Value> =
        serde_json::from_str(&run.sources).unwrap_or_default();
    let failing: Vec<String> = sources
        .iter()
        .filter(|(_, s)| s.get("status").and_then(Value::as_str) == Some("error"))
        .map(|(name, s)| {
            let error = s.get("error").and_then(Value::as_str).unwrap_or("failed");
            format!("{name}: {}", truncate(error, 200))
        })
        .collect();
    if !failing.is_empty() {
        text.push_str(&format!("\nSource errors: {}", failing.join("; ")));
    }
    if let Some(error) = &run.error {
        text.push_str(&format!("\nError: {}", truncate(error, 300)));
    }
    text
}

/// What a follow-up says of a run still going when the token is about to expire.
fn still_running(deps: &SyncDeps, job_id: &str) -> String {
    let link = deps.config.link(&format!("/console/jobs/{job_id}"));
    with_link(
        format!(
            "⏳ Sync job `{job_id}` is still running; this message can be edited for 15 minutes \
             only, so its result will not show here."
        ),
        link,
    )
}

fn with_link(text: String, link: Option<String>) -> String {
    match link {
        Some(url) => format!("{text}\n{url}"),
        None => text,
    }
}

/// The interaction token of stored interaction `event_id`.
async fn token(deps: &SyncDeps, event_id: &str) -> Result<String, JobError> {
    let event = deps
        .store
        .get_event(event_id)
        .await
        .map_err(|e| JobError::Retryable(format!("store: {e}")))?
        .ok_or_else(|| JobError::Permanent(format!("the interaction {event_id} is gone")))?;
    serde_json::from_str::<Value>(&event.payload)
        .ok()
        .and_then(|v| v.get("token")?.as_str().map(str::to_owned))
        .ok_or_else(|| JobError::Permanent(format!("the interaction {event_id} has no token")))
}

/// Edits the original answer of the interaction with `token` to `content`.
async fn edit(
    deps: &SyncDeps,
    application: &str,
    token: &str,
    content: &str,
) -> Result<(), JobError> {
    // Discord's tokens are URL-safe; anything else would change the path.
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !safe(token) || !safe(application) {
        return Err(JobError::Permanent(
            "the interaction's token is not URL-safe".into(),
        ));
    }
    let base = super::api_base(&deps.config);
    let url = Url::parse(&format!(
        "{base}/api/v10/webhooks/{application}/{token}/messages/@original"
    ))
    .map_err(|_| JobError::Permanent("DISCORD_API_URL does not form a URL".into()))?;
    let body = json!({
        "content": truncate(content, CONTENT),
        // What a run's error quotes must not ping anyone.
        "allowed_mentions": {"parse": []},
    });
    let res = deps
        .http
        .patch(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| JobError::Retryable(format!("Discord: {}", e.without_url())))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let headers = res.headers().clone();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            JobError::Permanent(format!(
                "Discord answered {} to the edit: the interaction's token or answer is gone",
                status.as_u16()
            ))
        }
        _ => match super::classify(status, &headers, &answer) {
            PublishError::Disabled(m) => JobError::Permanent(m),
            other => other.into(),
        },
    })
}
