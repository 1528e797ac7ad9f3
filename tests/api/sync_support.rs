//! Helpers for the sync tests: an app with the fake GitHub mounted, the deps a worker would
//! pass to the cycle, and readers for what a run stored.

#![allow(dead_code)]

use helix_sync::queue::{JobError, JobPayload, SyncJob, SyncScope, Trigger};
use helix_sync::store::{now_ms, RunRow};
use helix_sync::sync::cycle::{self, RunOutcome};
use helix_sync::sync::snapshot::{ChangeSummary, Snapshot};
use helix_sync::sync::SyncDeps;

use crate::helpers::*;
use crate::sync_fake::FakeGithub;

/// An app syncing `repos` (none = GitHub disabled) against a fresh fake GitHub; a repository
/// exists on the fake once a test adds something to it.
pub async fn sync_app(repos: &[&str], env: &[(&str, &str)]) -> (TestApp, FakeGithub) {
    let mut spawn = Spawn::default();
    if !repos.is_empty() {
        spawn = spawn.env("GITHUB_REPOS", &repos.join(","));
    }
    for (k, v) in env {
        spawn = spawn.env(k, v);
    }
    let app = spawn_with(spawn).await;
    let fake = FakeGithub::default();
    fake.mount(&app.github).await;
    (app, fake)
}

/// What a worker hands the cycle: the application's own (so state kept across cycles, the
/// GitHub App's tokens and budgets, is kept across the test's cycles too).
pub fn deps(app: &TestApp) -> SyncDeps {
    app.state.sync.clone()
}

pub fn job(sources: Option<&[&str]>) -> SyncJob {
    SyncJob {
        scope: SyncScope::Full,
        sources: sources.map(|l| l.iter().map(|s| s.to_string()).collect()),
        targets: None,
        trigger: Trigger::Manual,
    }
}

/// Runs one cycle in the test's task, as the CLI does. A cycle against the fakes takes well
/// under a second; one that hangs fails its test after two minutes instead of holding the
/// suite.
pub async fn sync(app: &TestApp, job: &SyncJob) -> Result<RunOutcome, JobError> {
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        cycle::run(&deps(app), None, job),
    )
    .await
    .expect("the sync cycle finished within two minutes")
}

/// Runs a full sync that must not fail; returns its run row.
pub async fn sync_ok(app: &TestApp) -> RunRow {
    let outcome = sync(app, &job(None)).await.expect("the sync succeeds");
    run(app, &outcome.run_id).await
}

pub async fn run(app: &TestApp, id: &str) -> RunRow {
    app.store
        .get_run(id)
        .await
        .unwrap()
        .expect("the run exists")
}

pub fn changes(run: &RunRow) -> ChangeSummary {
    serde_json::from_str(&run.change_summary).expect("a change summary")
}

pub fn sources(run: &RunRow) -> serde_json::Value {
    serde_json::from_str(&run.sources).unwrap()
}

pub async fn latest_snapshot(app: &TestApp) -> Option<(String, Snapshot)> {
    let (id, bytes) = app.store.latest_snapshot_json().await.unwrap()?;
    Some((id, serde_json::from_slice(&bytes).unwrap()))
}

/// Enqueues a sync job through the queue (as a webhook or trigger would); returns its id.
pub async fn enqueue(app: &TestApp, job: SyncJob) -> String {
    app.state
        .queue
        .enqueue(&JobPayload::Sync(job), now_ms())
        .await
        .unwrap()
}
