//! Rollback: publish an earlier run's state again, as a run of its own.
//!
//! A rollback to run T is a new run R (`trigger: rollback`) whose snapshot is T's snapshot,
//! byte for byte, and whose change summary is what R changes relative to the snapshot that
//! was newest when it was asked for. R then ends exactly like a sync cycle
//! (`sync::cycle::record`): exports written (so `latest.*` are T's state), deliveries and
//! publish jobs committed in one transaction, and each target published through the same
//! durable deliveries, retries and circuit breakers as any run. Discord says what was rolled
//! back, to which run and by whom; Notion's pages are upserted by their keys; the portal feed
//! names the rollback. Nothing is deleted: T, the runs after it and their snapshots stay, and
//! R can itself be rolled back (or rolled back to).
//!
//! Incremental-fetch cursors are cleared with the rollback: they point past data the
//! restored snapshot does not hold, and the next sync must fetch everything again rather
//! than skip what happened after T.
//!
//! Every front end asks for a rollback through [`requested`]: the principal needs the operator
//! role, is named on the run (and in Discord) and lands in the audit log.

use serde::Serialize;

use super::versions::load;
use super::{App, ServiceError};
use crate::store::{now_ms, RollbackOrigin, RunStart};
use crate::sync::changes::summarize;
use crate::sync::cycle::{abandon, record, Recording};
use crate::sync::publishers;
use crate::sync::snapshot::{ChangeSummary, Snapshot, SCHEMA_VERSION};
use crate::sync::RunEvent;

/// The trigger label of a rollback run.
pub const TRIGGER: &str = "rollback";

/// What a rollback did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RollbackOutcome {
    /// The new run that published the restored state.
    pub run_id: String,
    /// `succeeded`, or `partial` when the exports could not be written (still published).
    pub status: String,
    /// The run whose snapshot was published again.
    pub rollback_to: String,
    /// The run whose snapshot was the newest before (none on an empty store).
    pub rollback_from: Option<String>,
    pub requested_by: String,
    /// Publish targets that got a delivery (each is retried on its own).
    pub targets: Vec<String>,
    /// What the rollback changed, relative to the snapshot it replaced.
    #[schemars(schema_with = "super::object_schema")]
    pub changes: ChangeSummary,
}

/// A rollback asked for by `who` (API, console, MCP or CLI): needs the operator role, is
/// recorded on the run as `who`'s, and is audited.
pub async fn requested(
    app: &App,
    who: &crate::auth::Principal,
    to: &str,
) -> Result<RollbackOutcome, ServiceError> {
    who.require(crate::auth::Role::Operator)?;
    let outcome = rollback(app, to, &who.actor()).await?;
    let detail = format!("rolled back to run {to}");
    super::users::audit(app, who, "run.rollback", &outcome.run_id, Some(detail)).await;
    Ok(outcome)
}

/// Publishes run `to`'s snapshot again as a new run, requested by `by`.
async fn rollback(app: &App, to: &str, by: &str) -> Result<RollbackOutcome, ServiceError> {
    let deps = &app.sync;
    let by = by.trim();
    if by.is_empty() {
        return Err(ServiceError::BadRequest(
            "a rollback needs a requester name".into(),
        ));
    }
    let (target, snapshot) = load(app, to).await?;
    if snapshot.schema_version != SCHEMA_VERSION {
        return Err(ServiceError::Conflict(format!(
            "run {to} stored a snapshot of schema version {}; this helix-sync publishes version \
             {SCHEMA_VERSION}",
            snapshot.schema_version
        )));
    }
    let bytes = deps
        .store
        .snapshot_json(to)
        .await?
        .ok_or_else(|| ServiceError::Conflict(format!("run {to} has no snapshot")))?;
    let from = deps.store.latest_snapshot_run_id().await?;
    let previous: Option<Snapshot> = match &from {
        Some(id) => Some(load(app, id).await?.1),
        None => None,
    };
    let changes = summarize(previous.as_ref(), &snapshot);

    let run_id = uuid::Uuid::now_v7().to_string();
    let started_at = now_ms();
    let origin = RollbackOrigin {
        to: &target.id,
        from: from.as_deref(),
        by,
    };
    let start = RunStart {
        id: run_id.clone(),
        job_id: None,
        trigger: TRIGGER.into(),
        started_at,
    };
    deps.store.start_rollback_run(&start, &origin).await?;
    let _ = deps.run_events.send(RunEvent::Started {
        run_id: run_id.clone(),
        trigger: TRIGGER.into(),
    });
    // Every configured target, as a full sync publishes to.
    let targets = publishers::targets(&deps.config);
    let recording = Recording {
        run_id: &run_id,
        trigger: TRIGGER,
        started_at,
        sources: snapshot.sources.clone(),
        snapshot,
        snapshot_bytes: bytes,
        changes: changes.clone(),
        problems: Vec::new(),
        cursors: Vec::new(),
        forget: Vec::new(),
        resume: None,
        targets: targets.clone(),
    };
    let status = match record(deps, recording).await {
        Ok(status) => status,
        Err(e) => {
            abandon(deps, &run_id, &format!("committing the rollback: {e}")).await;
            return Err(e.into());
        }
    };
    let _ = deps.run_events.send(RunEvent::Finished {
        run_id: run_id.clone(),
        status: status.to_owned(),
    });
    deps.store.clear_cursors().await?;
    tracing::warn!(run_id, rollback_to = to, rollback_from = ?from, requested_by = by, "rolled back");
    Ok(RollbackOutcome {
        run_id,
        status: status.to_owned(),
        rollback_to: target.id,
        rollback_from: from,
        requested_by: by.to_owned(),
        targets: targets
            .iter()
            .filter(|(_, on)| *on)
            .map(|(t, _)| (*t).to_owned())
            .collect(),
        changes,
    })
}
