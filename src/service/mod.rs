//! The application context ([`App`]) and the operations the HTTP API, the console, the MCP
//! server, the CLI and the Discord bot offer, written once.
//!
//! Handlers, console pages, MCP tools and CLI commands are thin: they authenticate and
//! decode, call one function here with their `App`, and encode the result. Nothing here
//! knows which of them called it, renders HTML or speaks a protocol: this module imports
//! none of `http`, `console`, `mcp` or the CLI. Every operation that changes something takes
//! the acting `auth::Principal`, checks its role and writes the audit log, so no caller can
//! forget either (the CLI acts as `cli:<user>`, a Discord member as
//! `discord:<username> (<user id>)`).

use crate::timestamp::millis;
use serde::Serialize;
use serde_json::Value;

use crate::auth::{Principal, Role};
use crate::ingest::manual::TriggerRequest;
use crate::ingest::{Inbound, IngestError};
use crate::queue::{FollowupJob, JobError, JobPayload, Trigger};
use crate::store::{
    now_ms, Compressed, DeliveryRow, EventRow, IngestOutcome, JobRow, RunRow, StoreError,
};
use crate::sync::cycle::RunOutcome;

pub mod analytics;
pub mod app;
pub mod dashboard;
pub mod events;
pub mod export;
pub mod jobs;
pub mod redact;
pub mod rollback;
pub mod runs;
pub mod schedules;
pub mod status;
pub mod users;
pub mod versions;

pub use app::{App, Open, Opened};
pub use status::{status, Health};

/// Why a shared operation failed; the HTTP edge and the MCP server each map it once.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller's input is wrong (names the argument).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// It clashes with what exists (a user name taken), or the state of what it names forbids
    /// it (a rollback to a run that stored no snapshot).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// A role check that failed is the caller's `Forbidden`; a store failure behind it stays ours.
impl From<crate::auth::AuthError> for ServiceError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Store(e) => ServiceError::Store(e),
            other => ServiceError::Forbidden(other.to_string()),
        }
    }
}

/// Queues a manual sync for `who` (operator); returns the job id (an existing queued job
/// when it coalesced). The request is stored as a `manual` event like any webhook, so it can
/// be seen and replayed, and the trigger is audited.
pub async fn trigger(
    app: &App,
    who: &Principal,
    req: TriggerRequest,
) -> Result<String, ServiceError> {
    may_trigger(app, who)?;
    let payload = serde_json::to_string(&req).expect("a trigger request always serializes");
    let job = req.into_job()?;
    let inbound = Inbound {
        source: "manual",
        delivery_id: uuid::Uuid::now_v7().to_string(),
        event_type: "manual.trigger".into(),
        hook_id: None,
        repo: None,
        headers: Default::default(),
        payload: Compressed::new(&payload),
        received_at: now_ms(),
        job: Some(job),
    };
    let outcome = queue_trigger(app, who, inbound).await?;
    Ok(outcome.job_id.expect("a manual trigger always has a job"))
}

/// [`trigger`] for a front end whose request is itself a verified event carrying its sync
/// job (a Discord interaction): that event is what is stored, under its own delivery id, so
/// a redelivery is a duplicate that queues nothing new and reports the first one's job.
pub async fn trigger_event(
    app: &App,
    who: &Principal,
    event: Inbound,
) -> Result<IngestOutcome, ServiceError> {
    may_trigger(app, who)?;
    if !matches!(event.job, Some(JobPayload::Sync(_))) {
        return Err(ServiceError::Internal(
            "a trigger's event must ask for a sync".into(),
        ));
    }
    queue_trigger(app, who, event).await
}

/// Whether `who` may queue a sync here: the operator role, and manual triggers switched on.
fn may_trigger(app: &App, who: &Principal) -> Result<(), ServiceError> {
    who.require(Role::Operator)?;
    if !app.config.manual_trigger {
        return Err(IngestError::Forbidden(
            "manual triggers are disabled (HELIX_SYNC_MANUAL_TRIGGER=false)".into(),
        )
        .into());
    }
    Ok(())
}

/// Commits a trigger's event with its job and audits it (a duplicate was audited already).
async fn queue_trigger(
    app: &App,
    who: &Principal,
    event: Inbound,
) -> Result<IngestOutcome, ServiceError> {
    let outcome = app.ingest.accept(event).await?;
    if let (Some(job_id), false) = (&outcome.job_id, outcome.duplicate) {
        users::audit(app, who, "sync.trigger", job_id, None).await;
    }
    Ok(outcome)
}

/// Stores a verified event that asks for nothing (a Discord command answered at once), so it
/// is seen in the console like any other; a redelivery comes back as a duplicate.
pub async fn record(app: &App, event: Inbound) -> Result<IngestOutcome, ServiceError> {
    Ok(app.ingest.accept(Inbound { job: None, ..event }).await?)
}

/// Queues the job that edits a deferred Discord answer (see `queue::FollowupJob`). It needs
/// no role of its own: it only reports on what its member was allowed to ask for. Asking
/// again for the same interaction joins the waiting follow-up.
pub async fn follow_up(app: &App, job: FollowupJob) -> Result<String, ServiceError> {
    Ok(app
        .queue
        .enqueue(&JobPayload::DiscordFollowup(job), now_ms())
        .await?)
}

/// Runs one sync cycle in this process, now, for `who` (operator): the CLI's `sync`, with the
/// workers' own cycle. Its publish jobs wait in the queue for the workers. `Err` when it was
/// refused; otherwise the cycle's own outcome (a failed run is recorded either way).
pub async fn sync_now(
    app: &App,
    who: &Principal,
    req: TriggerRequest,
) -> Result<Result<RunOutcome, JobError>, ServiceError> {
    who.require(Role::Operator)?;
    let job = req.into_sync(Trigger::Cli)?;
    let outcome = crate::sync::cycle::run(&app.sync, None, &job).await;
    let detail = match &outcome {
        Ok(o) => format!("run {} {}", o.run_id, o.status),
        Err(e) => format!("failed: {e}"),
    };
    users::audit(app, who, "sync.run", "sync", Some(detail)).await;
    Ok(outcome)
}

/// A job with what it covers and, once run, its run record.
#[derive(Debug, Serialize)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobView,
    pub events: Vec<EventSummary>,
    pub run: Option<RunView>,
    /// The run's deliveries (a sync job), or the one this job makes (a publish job).
    pub deliveries: Vec<DeliveryView>,
}

/// One delivery of a run to a target, with when it is tried next.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub run_id: String,
    pub target: String,
    /// `pending`, `succeeded`, `failed` (will retry), `dead` or `disabled`.
    pub state: String,
    pub attempts: i64,
    /// When the next attempt is due (a retry, a rate-limit wait or the next circuit probe);
    /// `null` once the delivery is settled.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub external_id: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        let waiting = matches!(d.state.as_str(), "pending" | "failed");
        Self {
            next_attempt_at: d.next_attempt_at.filter(|_| waiting).map(millis),
            run_id: d.run_id,
            target: d.target,
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
            external_id: d.external_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub payload: Value,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    /// When a waiting job (`queued` or `failed`) runs next; `null` otherwise.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventSummary {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub delivery_id: String,
    pub repo: Option<String>,
    pub received_at: String,
}

/// A run as the API and MCP show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunView {
    pub id: String,
    pub job_id: Option<String>,
    pub trigger: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// Per source: its status, item count and error, keyed by source name.
    #[schemars(schema_with = "object_schema")]
    pub sources: Value,
    /// What changed since the previous run (UCF deltas, new commits, issues, agents).
    #[schemars(schema_with = "object_schema")]
    pub change_summary: Value,
    /// The files this run wrote: format, path under `EXPORT_PATH`, size.
    #[schemars(schema_with = "exports_schema")]
    pub exports: Value,
    pub error: Option<String>,
}

/// A JSON object whose keys vary (or `null` for a run that recorded none). Spelled out
/// because `Value` alone derives the bare `true` schema, which strict MCP clients reject.
fn object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["object", "null"] })
}

fn exports_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": {
                "format": { "type": "string" },
                "path": { "type": "string" },
                "bytes": { "type": "integer", "minimum": 0 }
            },
            "required": ["format", "path", "bytes"]
        }
    })
}

fn json_or_null(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl From<JobRow> for JobView {
    fn from(r: JobRow) -> Self {
        Self {
            next_attempt_at: matches!(r.state.as_str(), "queued" | "failed")
                .then(|| millis(r.run_at)),
            payload: json_or_null(&r.payload),
            id: r.id,
            kind: r.kind,
            state: r.state,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: millis(r.run_at),
            created_at: millis(r.created_at),
            started_at: r.started_at.map(millis),
            finished_at: r.finished_at.map(millis),
            last_error: r.last_error,
        }
    }
}

impl From<EventRow> for EventSummary {
    fn from(e: EventRow) -> Self {
        Self {
            id: e.id,
            source: e.source,
            event_type: e.event_type,
            delivery_id: e.delivery_id,
            repo: e.repo,
            received_at: millis(e.received_at),
        }
    }
}

impl From<RunRow> for RunView {
    fn from(r: RunRow) -> Self {
        Self {
            sources: json_or_null(&r.sources),
            change_summary: json_or_null(&r.change_summary),
            exports: json_or_null(&r.exports),
            id: r.id,
            job_id: r.job_id,
            trigger: r.trigger,
            status: r.status,
            started_at: millis(r.started_at),
            finished_at: r.finished_at.map(millis),
            duration_seconds: r.duration_ms.map(|d| d as f64 / 1000.0),
            error: r.error,
        }
    }
}

pub async fn job_detail(app: &App, id: &str) -> Result<Option<JobDetail>, StoreError> {
    let Some(job) = app.store.get_job(id).await? else {
        return Ok(None);
    };
    let events = app
        .store
        .events_for_job(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let run: Option<RunView> = app.store.run_for_job(id).await?.map(Into::into);
    let deliveries = match (&run, serde_json::from_str::<JobPayload>(&job.payload)) {
        (_, Ok(JobPayload::Publish(p))) => app
            .store
            .get_delivery(&p.run_id, &p.target)
            .await?
            .into_iter()
            .collect(),
        (Some(r), _) => app.store.deliveries_for_run(&r.id).await?,
        _ => Vec::new(),
    };
    Ok(Some(JobDetail {
        job: job.into(),
        events,
        run,
        deliveries: deliveries.into_iter().map(Into::into).collect(),
    }))
}

/// The last `limit` runs (1..=100), newest first.
pub async fn history(app: &App, limit: i64) -> Result<Vec<RunView>, StoreError> {
    Ok(app
        .store
        .list_runs(limit.clamp(1, 100))
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
