//! Job lifecycle: retries with backoff, dead letters, permanent errors, rescue, coalescing,
//! one running job per repository, graceful shutdown, the job API and the queue CLI.

use std::sync::Arc;
use std::time::Duration;

use helix_sync::queue::JobError;
use helix_sync::store::now_ms;

use crate::fake_runner::FakeRunner;
use crate::helpers::*;

async fn push(app: &TestApp, repo: &str, delivery: &str) -> String {
    app.push_job(repo, delivery).await
}

/// Runs pending jobs as if `secs` seconds had passed (so backoff delays are due).
async fn run_later(app: &TestApp, secs: i64) -> usize {
    let pool = app
        .pool
        .clone()
        .with_clock(Arc::new(move || now_ms() + secs * 1000));
    pool.run_pending().await.unwrap()
}

#[tokio::test]
async fn retry_then_success() {
    let runner = FakeRunner::scripted(vec![
        Err(JobError::Retryable("upstream 502".into())),
        Ok(()),
    ]);
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let id = push(&app, "o/r", "d1").await;
    assert_eq!(app.run_pending_jobs().await, 1);
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("failed", 1));
    assert_eq!(job.last_error.as_deref(), Some("upstream 502"));
    assert!(
        job.run_at >= job.updated_at,
        "retry is scheduled, not immediate"
    );
    assert_eq!(
        app.run_pending_jobs().await,
        0,
        "not due before its backoff"
    );
    assert_eq!(run_later(&app, 7200).await, 1);
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("succeeded", 2));
}

#[tokio::test]
async fn exhaustion_dead_letters_and_cli_retry_revives() {
    let fails = (0..5)
        .map(|i| Err(JobError::Retryable(format!("boom {i}"))))
        .collect();
    let runner = FakeRunner::scripted(fails);
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let id = push(&app, "o/r", "d1").await;
    // Each pass runs further in the future than the previous backoff reached.
    for i in 0..5 {
        run_later(&app, 7200 * (i + 1)).await;
    }
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("dead", 5));
    assert_eq!(job.last_error.as_deref(), Some("boom 4"));
    assert_eq!(runner.started().len(), 5);

    let db = app.state.config.database_url.clone();
    let out = cli(&db, &["queue", "list", "--state", "dead", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    cli(&db, &["queue", "retry", "--all-dead"]);
    assert_eq!(app.run_pending_jobs().await, 1);
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, "succeeded");
}

pub fn cli(database_url: &str, args: &[&str]) -> Vec<u8> {
    cli_as(database_url, None, args)
}

/// [`cli`] run by the unix account `user` (when given).
pub fn cli_as(database_url: &str, user: Option<&str>, args: &[&str]) -> Vec<u8> {
    let out = cli_output(database_url, user, args);
    assert!(
        out.status.success(),
        "helix-sync {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn the_cli_calls_the_services_and_its_actions_enter_the_audit_log() {
    let app = spawn_app().await;
    let db = app.state.config.database_url.clone();
    let as_ops = |args: &[&str]| cli_as(&db, Some("ops"), args);
    let job = String::from_utf8(as_ops(&["trigger", "--sources", "github"])).unwrap();
    let job = job.trim();
    let queued = app.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(queued.state, "queued");
    as_ops(&["queue", "cancel", job]);
    assert_eq!(
        app.store.get_job(job).await.unwrap().unwrap().state,
        "cancelled"
    );
    as_ops(&["queue", "retry", job]);
    assert_eq!(
        app.store.get_job(job).await.unwrap().unwrap().state,
        "queued"
    );
    // The trigger was stored as an event like any webhook: it replays.
    let events = app.store.events_for_job(job).await.unwrap();
    let [event] = events.as_slice() else {
        panic!("one manual event: {events:?}")
    };
    assert_eq!(event.source, "manual");
    let out = String::from_utf8(as_ops(&["replay", &event.id])).unwrap();
    assert!(out.contains(job), "the replay joins the queued job: {out}");

    let audit = app.store.audit_page(None, 20).await.unwrap();
    let seen: Vec<(&str, &str)> = audit
        .iter()
        .rev()
        .map(|a| (a.actor.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("cli:ops", "sync.trigger"),
            ("cli:ops", "job.cancel"),
            ("cli:ops", "job.retry"),
            ("cli:ops", "event.replay"),
        ]
    );

    // Refusals are the services' too, and change nothing.
    let out = cli_output(&db, None, &["queue", "cancel", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job no-such-job"));
    assert_eq!(app.store.audit_page(None, 20).await.unwrap().len(), 4);

    // `queue retry` needs an id or --all-dead: a usage error (2), as documented.
    let out = cli_output(&db, None, &["queue", "retry"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing dead is not a failure.
    let out = String::from_utf8(as_ops(&["queue", "retry", "--all-dead"])).unwrap();
    assert_eq!(out.trim(), "no dead jobs: nothing to retry");
}

/// `helix-sync <args>` on `database_url` (as unix account `user`, when given), whatever its
/// outcome.
fn cli_output(database_url: &str, user: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = crate::process::helix();
    cmd.args(args).env("DATABASE_URL", database_url).env(
        "HELIX_CONFIG",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
    );
    if let Some(user) = user {
        cmd.env("USER", user);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn permanent_error_is_dead_at_once() {
    let runner = FakeRunner::scripted(vec![Err(JobError::Permanent("401 bad credentials".into()))]);
    let app = spawn_with(Spawn::default().runner(runner)).await;
    let id = push(&app, "o/r", "d1").await;
    app.run_pending_jobs().await;
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("dead", 1));
}

#[tokio::test]
async fn rate_limit_waits_without_using_an_attempt() {
    let retry_at = now_ms() + 600_000;
    let runner = FakeRunner::scripted(vec![Err(JobError::RateLimited {
        message: "limited".into(),
        retry_at,
    })]);
    let app = spawn_with(Spawn::default().runner(runner)).await;
    let id = push(&app, "o/r", "d1").await;
    app.run_pending_jobs().await;
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state.as_str(), job.attempts, job.run_at),
        ("failed", 0, retry_at)
    );
    assert_eq!(run_later(&app, 599).await, 0);
    assert_eq!(run_later(&app, 601).await, 1);
}

#[tokio::test]
async fn expired_lease_is_rescued_and_rerun() {
    let runner = FakeRunner::scripted(vec![]);
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let id = push(&app, "o/r", "d1").await;
    // A worker that claimed the job and died: its lease ran out a second ago.
    let now = now_ms();
    let claimed = app
        .store
        .claim("ghost", now, now - 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, id);
    assert!(!app
        .store
        .complete_job(&id, "someone-else", now)
        .await
        .unwrap());
    assert_eq!(app.run_pending_jobs().await, 1);
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("succeeded", 2));
    // The dead worker's late acknowledgement changes nothing.
    assert!(!app.store.complete_job(&id, "ghost", now).await.unwrap());
}

#[tokio::test]
async fn burst_coalesces_and_a_running_job_gets_one_follow_up() {
    let (runner, gate) = FakeRunner::gated();
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let first = push(&app, "o/r", "b-0").await;
    for i in 1..1000 {
        assert_eq!(push(&app, "o/r", &format!("b-{i}")).await, first);
    }
    assert_eq!(app.count("jobs").await, 1);
    assert_eq!(app.store.events_for_job(&first).await.unwrap().len(), 1000);

    let handle = app.pool.spawn(2);
    let started = runner.on_start.notified();
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .expect("first job starts");
    // While it runs, new pushes create one follow-up job and then attach to it.
    let follow_up = push(&app, "o/r", "late-1").await;
    assert_ne!(follow_up, first);
    assert_eq!(push(&app, "o/r", "late-2").await, follow_up);
    assert_eq!(app.count("jobs").await, 2);
    // The follow-up must not start while the first runs, even with a free worker.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runner.started(), vec![first.clone()]);
    gate.add_permits(2);
    for _ in 0..100 {
        if runner.started().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runner.started(), vec![first, follow_up]);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn different_repositories_run_in_parallel() {
    let (runner, gate) = FakeRunner::gated();
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    push(&app, "o/a", "a").await;
    push(&app, "o/b", "b").await;
    let handle = app.pool.spawn(2);
    for _ in 0..100 {
        if runner.started().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runner.started().len(), 2, "both repositories run at once");
    gate.add_permits(2);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_job_finish() {
    let (runner, gate) = FakeRunner::gated();
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let id = push(&app, "o/r", "d").await;
    let handle = app.pool.spawn(1);
    tokio::time::timeout(Duration::from_secs(10), runner.on_start.notified())
        .await
        .unwrap();
    let shutdown = tokio::spawn(handle.shutdown(Duration::from_secs(30)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for the running job"
    );
    gate.add_permits(1);
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.store.get_job(&id).await.unwrap().unwrap().state,
        "succeeded"
    );
}

#[tokio::test]
async fn shutdown_past_the_grace_period_releases_the_lease() {
    let (runner, _gate) = FakeRunner::gated();
    let app = spawn_with(Spawn::default().runner(runner.clone())).await;
    let id = push(&app, "o/r", "d").await;
    let handle = app.pool.spawn(1);
    tokio::time::timeout(Duration::from_secs(10), runner.on_start.notified())
        .await
        .unwrap();
    handle.shutdown(Duration::from_millis(50)).await;
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state.as_str(), job.attempts, job.locked_by),
        ("queued", 0, None)
    );
}

#[tokio::test]
async fn a_panicking_job_fails_without_killing_the_worker() {
    struct Panics;
    #[async_trait::async_trait]
    impl helix_sync::worker::JobRunner for Panics {
        async fn run(&self, _: &helix_sync::queue::ClaimedJob) -> Result<(), JobError> {
            panic!("bug in a runner")
        }
    }
    let app = spawn_with(Spawn::default().runner(Arc::new(Panics))).await;
    let id = push(&app, "o/r", "d").await;
    app.run_pending_jobs().await;
    let job = app.store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, "failed");
    assert!(job.last_error.unwrap().contains("panicked"));
}

#[tokio::test]
async fn job_api_shows_state_events_and_errors() {
    let runner = FakeRunner::scripted(vec![Err(JobError::Retryable("flaky".into()))]);
    let app = spawn_with(Spawn::default().runner(runner)).await;
    let id = push(&app, "o/r", "d1").await;
    push(&app, "o/r", "d2").await;
    app.run_pending_jobs().await;
    let res = app.get_authed(&format!("/api/sync/jobs/{id}")).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["state"], "failed");
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["last_error"], "flaky");
    assert_eq!(v["events"].as_array().unwrap().len(), 2);
    assert_eq!(v["payload"]["scope"]["repo"], "o/r");
    let res = app
        .client
        .get(app.url(&format!("/api/sync/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.get_authed("/api/sync/jobs/nope").await.status(), 404);
}

#[tokio::test]
async fn cli_cancel_and_stats() {
    let app = spawn_with(Spawn::default().runner(FakeRunner::scripted(vec![]))).await;
    let id = push(&app, "o/r", "d1").await;
    let db = app.state.config.database_url.clone();
    let stats: serde_json::Value =
        serde_json::from_slice(&cli(&db, &["queue", "stats", "--json"])).unwrap();
    assert_eq!(stats["by_state"]["queued"], 1);
    cli(&db, &["queue", "cancel", &id]);
    assert_eq!(
        app.store.get_job(&id).await.unwrap().unwrap().state,
        "cancelled"
    );
    assert_eq!(app.run_pending_jobs().await, 0);
}
