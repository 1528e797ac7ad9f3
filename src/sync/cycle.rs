//! The collecting half of a sync cycle: sources → merged snapshot → validation → change
//! summary → exports → `Store::finish_run` (snapshot, cursors, deliveries and publish jobs
//! in one transaction).
//!
//! Order matters for durability. Nothing a run learns is written before `finish_run`: a run
//! that dies earlier leaves cursors where they were, so its retry fetches the same data again.
//! A rate limit stores no snapshot at all and hands the reset time to the queue. A job whose
//! run already committed (its worker died before acknowledging) returns that run's outcome
//! and does nothing else, so a re-run never repeats exports or publish jobs.
//!
//! The last step, [`record`] (exports → commit), is shared with a rollback
//! (`service::rollback`), which records an earlier snapshot as a new run the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::changes::summarize;
use super::exporters::{self, ExportInput, HistoryPoint, RunInfo};
use super::merge::{merge, Collected, RepoSet};
use super::plan::{publish_targets, status, wants};
use super::snapshot::{ChangeSummary, Snapshot, SourceStatus, SCHEMA_VERSION};
use super::sources::{self, SourceContext, SourceError};
use super::{history, narrate, schema, RunEvent, SyncDeps};
use crate::queue::{JobError, JobPayload, PublishJob, SyncJob, SyncScope};
use crate::store::{now_ms, CursorRow, RunFinish, RunStart, StoreError};

/// What a finished cycle reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub run_id: String,
    /// `succeeded`, `partial` or `failed`.
    pub status: String,
}

/// Why a run ended without a snapshot, and what each source did up to then.
struct Failure {
    error: JobError,
    sources: BTreeMap<String, SourceStatus>,
}

impl Failure {
    fn new(error: JobError) -> Self {
        Self {
            error,
            sources: BTreeMap::new(),
        }
    }
}

fn store_error(context: &str) -> impl Fn(StoreError) -> JobError + '_ {
    move |e| JobError::Retryable(format!("{context}: {e}"))
}

/// Runs one cycle for `job` (with the queue job's id when run by a worker).
pub async fn run(
    deps: &SyncDeps,
    job_id: Option<&str>,
    job: &SyncJob,
) -> Result<RunOutcome, JobError> {
    if let Some(id) = job_id {
        if let Some(done) = committed_run(deps, id).await? {
            tracing::info!(job_id = id, run_id = %done.run_id, "job already has a committed run; nothing to do");
            return Ok(done);
        }
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let trigger = job.trigger.label();
    let started_at = now_ms();
    deps.store
        .start_run(&RunStart {
            id: run_id.clone(),
            job_id: job_id.map(String::from),
            trigger: trigger.clone(),
            started_at,
        })
        .await
        .map_err(store_error("recording the run start"))?;
    let _ = deps.run_events.send(RunEvent::Started {
        run_id: run_id.clone(),
        trigger: trigger.clone(),
    });
    let result = cycle(deps, &run_id, &trigger, job_id, job, started_at).await;
    let (status, outcome) = match result {
        Ok(status) => (status, Ok(())),
        Err(failure) => {
            record_failure(deps, &run_id, &failure).await;
            ("failed", Err(failure.error))
        }
    };
    metrics::counter!("helix_sync_runs_total", "status" => status).increment(1);
    tracing::info!(run_id = %run_id, status, elapsed_ms = now_ms() - started_at, "sync run finished");
    let _ = deps.run_events.send(RunEvent::Finished {
        run_id: run_id.clone(),
        status: status.to_owned(),
    });
    outcome.map(|()| RunOutcome {
        run_id,
        status: status.to_owned(),
    })
}

/// The outcome of a run of this job that already committed. A run left `running` by a dead
/// worker is closed as failed (it will never finish) so history does not show it forever.
async fn committed_run(deps: &SyncDeps, job_id: &str) -> Result<Option<RunOutcome>, JobError> {
    let run = deps
        .store
        .run_for_job(job_id)
        .await
        .map_err(store_error("looking up the job's run"))?;
    match run {
        Some(r) if matches!(r.status.as_str(), "succeeded" | "partial") => Ok(Some(RunOutcome {
            run_id: r.id,
            status: r.status,
        })),
        Some(r) if r.status == "running" => {
            let failure = Failure::new(JobError::Retryable(
                "abandoned: the worker stopped before the run committed".into(),
            ));
            record_failure(deps, &r.id, &failure).await;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Steps 3–6 of the cycle; returns the run status.
async fn cycle(
    deps: &SyncDeps,
    run_id: &str,
    trigger: &str,
    job_id: Option<&str>,
    job: &SyncJob,
    started_at: i64,
) -> Result<&'static str, Failure> {
    let config = &deps.config;
    let previous = load_previous(deps).await?;
    let cx = SourceContext {
        deps,
        job,
        job_id,
        previous: previous.as_deref(),
    };

    let mut statuses = BTreeMap::new();
    let mut running = Vec::new();
    for (name, source) in sources::build(config) {
        match (source, wants(job, name)) {
            (None, _) => {
                statuses.insert(name.to_owned(), SourceStatus::disabled());
            }
            (Some(_), false) => {
                statuses.insert(name.to_owned(), status("skipped", None));
            }
            (Some(s), true) => running.push(s),
        }
    }
    let github_ran = running.iter().any(|s| s.name() == "github");
    let results = join_all(
        running
            .iter()
            .map(|s| async { (s.name(), sources::collect(s.as_ref(), &cx).await) }),
    )
    .await;

    let mut collected = Collected::default();
    let mut cursors = Vec::new();
    let mut forget: Vec<String> = Vec::new();
    let mut repos_in_scope: Option<Vec<String>> = None;
    let mut resume_at: Option<i64> = None;
    let mut problems: Vec<String> = Vec::new();
    let mut failed: Vec<SourceError> = Vec::new();
    for (name, result) in results {
        match result {
            Ok(data) => {
                let error = (!data.errors.is_empty()).then(|| data.errors.join("; "));
                if let Some(e) = &error {
                    problems.push(format!("{name}: {e}"));
                }
                statuses.insert(
                    name.to_owned(),
                    SourceStatus {
                        items: data.items,
                        requests: data.requests,
                        not_modified: data.not_modified,
                        ..status(if error.is_some() { "error" } else { "ok" }, error)
                    },
                );
                collected.repos.extend(data.repos);
                collected.ucf = collected.ucf.or(data.ucf);
                collected.agents = collected.agents.or(data.agents);
                cursors.extend(data.cursors);
                forget.extend(data.forget);
                repos_in_scope = repos_in_scope.or(data.repos_in_scope);
                resume_at = resume_at.max(data.resume_at);
            }
            Err(e) => {
                tracing::warn!(source = name, error = %e, "source failed");
                problems.push(format!("{name}: {e}"));
                statuses.insert(name.to_owned(), status("error", Some(e.to_string())));
                failed.push(e);
            }
        }
    }
    if let Some(retry_at) = failed.iter().filter_map(SourceError::retry_at).max() {
        return Err(Failure {
            error: JobError::RateLimited {
                message: problems.join("; "),
                retry_at,
            },
            sources: statuses,
        });
    }
    if !running.is_empty() && failed.len() == running.len() {
        let message = problems.join("; ");
        let permanent = failed
            .iter()
            .all(|e| matches!(e.job_error(), JobError::Permanent(_)));
        let error = if permanent {
            JobError::Permanent(message)
        } else {
            JobError::Retryable(message)
        };
        return Err(Failure {
            error,
            sources: statuses,
        });
    }

    collected.sources = statuses.clone();
    // A full sync holds exactly the repositories the GitHub source covered (what it found
    // and what was named); when it could not say (it failed), the previous ones stay.
    let repo_set = match (&job.scope, github_ran, statuses.get("github")) {
        (SyncScope::Full, true, _) => match repos_in_scope {
            Some(covered) => RepoSet::Exactly(covered),
            None => RepoSet::Previous,
        },
        (SyncScope::Full, false, Some(s)) if s.status == "disabled" => RepoSet::Exactly(Vec::new()),
        _ => RepoSet::Previous,
    };
    let taken_at = DateTime::from_timestamp_millis(started_at).unwrap_or_else(Utc::now);
    let snapshot = merge(previous.as_deref(), collected, &repo_set, taken_at);
    // Content that a previous run validated is not validated again: when only the time and
    // the source statuses (typed by us) are new, the schema pass would check the same
    // megabytes twice. Any change in repos, UCF or agents is validated before it is stored.
    let unchanged = previous
        .as_deref()
        .is_some_and(|p| same_content(p, &snapshot));
    let snapshot_bytes = if unchanged {
        serde_json::to_vec(&snapshot).expect("a snapshot always serializes")
    } else {
        let value = serde_json::to_value(&snapshot).expect("a snapshot always serializes");
        schema::validate_snapshot(&value).map_err(|e| Failure {
            error: JobError::Permanent(e),
            sources: statuses.clone(),
        })?;
        serde_json::to_vec(&value).expect("a JSON value always serializes")
    };
    let changes = summarize(previous.as_deref(), &snapshot);
    let recording = Recording {
        run_id,
        trigger,
        started_at,
        snapshot,
        snapshot_bytes,
        changes,
        sources: statuses.clone(),
        problems,
        cursors,
        forget,
        // A budget that stopped the cycle early: the same sync again at its reset.
        resume: resume_at.map(|at| (JobPayload::Sync(job.clone()), at)),
        targets: publish_targets(config, job),
    };
    record(deps, recording).await.map_err(|e| Failure {
        error: store_error("committing the run")(e),
        sources: statuses,
    })
}

/// A snapshot ready to become a stored, exported and published run: what a cycle collected,
/// or the earlier snapshot a rollback publishes again.
pub struct Recording<'a> {
    pub run_id: &'a str,
    pub trigger: &'a str,
    /// Unix ms, as recorded by `start_run`.
    pub started_at: i64,
    pub snapshot: Snapshot,
    /// The snapshot's JSON exactly as it is to be stored.
    pub snapshot_bytes: Vec<u8>,
    pub changes: ChangeSummary,
    pub sources: BTreeMap<String, SourceStatus>,
    /// Partial failures so far (a run with any is `partial`).
    pub problems: Vec<String>,
    pub cursors: Vec<CursorRow>,
    /// Repositories no longer covered: their cursors (and ETags) are deleted.
    pub forget: Vec<String>,
    /// A job to queue with the run, runnable at the given time (unix ms).
    pub resume: Option<(JobPayload, i64)>,
    /// Publish targets and whether each is on (a `pending` delivery and a job each).
    pub targets: Vec<(&'static str, bool)>,
}

/// Exports a snapshot and commits it as run `run_id` (snapshot, cursors, deliveries and
/// publish jobs in one transaction); returns the run status. The sync cycle and a rollback
/// both end here, so a rollback is published through the very same deliveries.
///
/// The run's `finished_at` is taken once, before the exports, and is both what the exports
/// say and what the run row records: `export --run` rebuilds the files from the row, byte
/// for byte (the duration therefore ends when the exports start, not at the commit).
pub async fn record(deps: &SyncDeps, rec: Recording<'_>) -> Result<&'static str, StoreError> {
    let Recording {
        run_id,
        trigger,
        started_at,
        snapshot,
        snapshot_bytes,
        changes,
        sources,
        mut problems,
        cursors,
        forget,
        resume,
        targets,
    } = rec;
    let mut run_status = if problems.is_empty() {
        "succeeded"
    } else {
        "partial"
    };
    let history = history(deps, run_id, &snapshot).await;
    // Bounded by the summary timeout; without an endpoint this is nothing.
    let narration = narrate::for_run(deps, run_id, &changes).await;
    let finished_at = now_ms();
    let info = RunInfo::recorded(run_id, trigger, run_status, started_at, Some(finished_at))
        .with_summary(narration.clone());
    // Rendering and flushing the files is tens (with a PDF, hundreds) of milliseconds of
    // blocking work: it runs on the blocking pool, so the runtime threads keep answering.
    let export_config = deps.config.clone();
    let (written, snapshot, changes) = tokio::task::spawn_blocking(move || {
        let input = ExportInput {
            run: &info,
            snapshot: &snapshot,
            changes: &changes,
            history: &history,
        };
        let written = exporters::write_exports(&export_config, &input);
        (written, snapshot, changes)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // A format that could not be made is a named problem of the run (which becomes
    // `partial`); the other formats' files are written and recorded all the same.
    for (format, e) in &written.failed {
        tracing::warn!(format, error = %e, "an export failed");
        problems.push(format!("export {format}: {e}"));
        run_status = "partial";
    }
    let exports = written.files;

    // Notion's job first: Discord's message lists the conflicts Notion's delivery flags, so
    // with one worker (or the tests' sequential runs) Notion is never waited for.
    let mut order: Vec<_> = targets.iter().collect();
    order.sort_by_key(|(t, _)| *t != "notion");
    let mut jobs: Vec<_> = order
        .into_iter()
        .filter(|(_, enabled)| *enabled)
        .map(|(target, _)| {
            let payload = JobPayload::Publish(PublishJob {
                run_id: run_id.to_owned(),
                target: (*target).to_owned(),
            });
            deps.queue.new_job(&payload, finished_at)
        })
        .collect();
    jobs.extend(resume.map(|(payload, at)| deps.queue.new_job(&payload, at)));
    let error = (!problems.is_empty()).then(|| problems.join("; "));
    if let Some(n) = &narration {
        // Before the commit, so publishers and re-exports of a committed run always see it.
        deps.store.set_generated_summary(run_id, &json(n)).await?;
    }
    deps.store
        .finish_run(&RunFinish {
            id: run_id,
            finished_at,
            status: run_status,
            sources_json: &json(&sources),
            change_summary_json: &json(&changes),
            exports_json: &json(&exports),
            error: error.as_deref(),
            schema_version: i64::from(SCHEMA_VERSION),
            snapshot_json: Some(&snapshot_bytes),
            cursors: &cursors,
            forget: &forget,
            targets: &targets,
            jobs: &jobs,
        })
        .await?;
    if !jobs.is_empty() {
        deps.queue.notify();
    }
    // Derived data, outside the commit: losing it costs one decode later, nothing else.
    if let Err(e) = deps
        .store
        .set_snapshot_trend(run_id, &history::trend_json(&snapshot))
        .await
    {
        tracing::warn!(run_id, error = %e, "could not save the trend extract");
    }
    *deps.previous.lock().await = Some((run_id.to_owned(), Arc::new(snapshot)));
    Ok(run_status)
}

/// Whether two snapshots hold the same data (they may differ in time and source statuses).
fn same_content(a: &Snapshot, b: &Snapshot) -> bool {
    a.schema_version == b.schema_version
        && a.repos == b.repos
        && a.ucf == b.ucf
        && a.agents == b.agents
        && a.agent_totals == b.agent_totals
}

/// A run record's JSON column.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("run records always serialize")
}

/// The newest stored snapshot. One that no longer decodes (a schema change, corruption) is
/// set aside with a warning: the run then fetches everything afresh instead of failing forever.
async fn load_previous(deps: &SyncDeps) -> Result<Option<Arc<Snapshot>>, Failure> {
    let read_error = |e| Failure::new(store_error("reading the previous snapshot")(e));
    let newest = deps
        .store
        .latest_snapshot_run_id()
        .await
        .map_err(read_error)?;
    let Some(newest) = newest else {
        return Ok(None);
    };
    if let Some((id, cached)) = deps.previous.lock().await.as_ref() {
        if *id == newest {
            return Ok(Some(cached.clone()));
        }
    }
    let stored = deps
        .store
        .latest_snapshot_json()
        .await
        .map_err(read_error)?;
    let Some((run_id, bytes)) = stored else {
        return Ok(None);
    };
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(s) if s.schema_version == SCHEMA_VERSION => Ok(Some(Arc::new(s))),
        Ok(s) => {
            tracing::warn!(
                run_id,
                version = s.schema_version,
                "previous snapshot has another schema version; fetching everything afresh"
            );
            Ok(None)
        }
        Err(e) => {
            tracing::warn!(run_id, error = %e, "previous snapshot does not decode; fetching everything afresh");
            Ok(None)
        }
    }
}

/// UCF values and agent success rates of the last `trend_runs` runs, oldest first, ending
/// with this one.
async fn history(deps: &SyncDeps, run_id: &str, current: &Snapshot) -> Vec<HistoryPoint> {
    let n = history::trend_runs(&deps.config);
    let mut points = history::recent(&deps.store, n - 1)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read past runs; trends start here");
            Vec::new()
        });
    points.push(history::point(run_id, current));
    points
}

/// Closes run `run_id` as failed with `message` (a rollback whose commit failed).
pub async fn abandon(deps: &SyncDeps, run_id: &str, message: &str) {
    let failure = Failure::new(JobError::Permanent(message.to_owned()));
    record_failure(deps, run_id, &failure).await;
}

/// Records a run that produced no snapshot: no cursors, no deliveries, no jobs.
async fn record_failure(deps: &SyncDeps, run_id: &str, failure: &Failure) {
    let sources = json(&failure.sources);
    let message = failure.error.to_string();
    let finish = RunFinish {
        id: run_id,
        finished_at: now_ms(),
        status: "failed",
        sources_json: &sources,
        change_summary_json: "{}",
        exports_json: "[]",
        error: Some(&message),
        schema_version: i64::from(SCHEMA_VERSION),
        snapshot_json: None,
        cursors: &[],
        forget: &[],
        targets: &[],
        jobs: &[],
    };
    if let Err(e) = deps.store.finish_run(&finish).await {
        tracing::error!(run_id, error = %e, "could not record the failed run");
    }
}
