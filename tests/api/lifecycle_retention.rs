//! Retention: aged rows go in small batches; what a run still needs never does (unfinished
//! and retryable jobs' events, runs with deliveries to make, the newest run of each trigger,
//! the newest success, the snapshot chain the next diff compares against, any chain still
//! partly young); chains go whole. Bad retention values are refused with the key named.

use helix_sync::config::{BatchSize, RetentionConfig};
use helix_sync::queue::retention::prune;
use helix_sync::queue::JobError;
use helix_sync::store::{now_ms, Backend, Store};

use crate::fake_runner::FakeRunner;
use crate::helpers::*;
use crate::lifecycle_history::{store_run, History};

const DAY: i64 = 86_400_000;

fn small_batches() -> RetentionConfig {
    RetentionConfig {
        batch_size: BatchSize(2),
        ..Default::default()
    }
}

async fn job_states(store: &Store) -> Vec<String> {
    let mut s: Vec<String> = store
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.state.as_str().to_owned())
        .collect();
    s.sort();
    s
}

#[tokio::test]
async fn events_and_jobs_go_by_age_and_state_in_batches() {
    let runner = FakeRunner::scripted(vec![
        Ok(()),
        Ok(()),
        Ok(()),
        Ok(()),
        Err(JobError::Permanent("bad data".into())),
    ]);
    let app = spawn_with(Spawn::default().runner(runner)).await;
    for i in 0..5 {
        let body = serde_json::to_vec(&push_payload(&format!("o/r{i}"), "main", "x")).unwrap();
        assert_eq!(
            app.post_github("push", &format!("d{i}"), &body)
                .await
                .status(),
            202
        );
    }
    app.run_pending_jobs().await;
    assert_eq!(
        job_states(&app.store).await,
        ["dead", "succeeded", "succeeded", "succeeded", "succeeded"]
    );
    let cfg = small_batches();

    // Nothing is old yet.
    let r = prune(&app.store, &cfg, now_ms()).await.unwrap();
    assert_eq!((r.events, r.jobs), (0, 0));
    assert_eq!(app.count("events").await, 5);

    // A month on: succeeded jobs (7 d) and their events (30 d) go, two rows per batch; the
    // dead job stays (90 d), and so does its event, which a retry would need.
    let r = prune(&app.store, &cfg, now_ms() + 31 * DAY).await.unwrap();
    assert_eq!((r.jobs, r.events), (4, 4));
    assert!(
        r.batches >= 3 + 3,
        "4 rows in batches of 2 take 3 statements per table: {r:?}"
    );
    assert_eq!(job_states(&app.store).await, ["dead"]);
    assert_eq!(app.count("events").await, 1);

    // The dead job ages out, then its event with it, and its attempt history with it.
    assert_eq!(app.count("job_attempts").await, 1);
    let r = prune(&app.store, &cfg, now_ms() + 91 * DAY).await.unwrap();
    assert_eq!((r.jobs, r.events), (1, 1));
    assert_eq!(app.count("events").await + app.count("jobs").await, 0);
    assert_eq!(app.count("job_attempts").await, 0);
}

#[tokio::test]
async fn expired_sessions_and_old_audit_entries_go() {
    let app = spawn_app().await;
    let cli = helix_sync::auth::Principal::cli();
    helix_sync::service::users::add_user(&app.state, &cli, "ada", "admin", "correct horse battery")
        .await
        .unwrap();
    let ada = app.store.user_by_name("ada").await.unwrap().unwrap();
    helix_sync::auth::session::open(&app.store, &ada.id, now_ms())
        .await
        .unwrap();
    assert_eq!(app.count("sessions").await, 1);
    let audited = app.count("audit_log").await;
    assert!(audited >= 1, "adding a user is audited");
    let cfg = small_batches();

    // A live session and a young entry stay.
    let r = prune(&app.store, &cfg, now_ms()).await.unwrap();
    assert_eq!((r.sessions, r.audit_log), (0, 0));
    // A day on, the session (12 h) has expired; the entry stays a year.
    let r = prune(&app.store, &cfg, now_ms() + DAY).await.unwrap();
    assert_eq!((r.sessions, r.audit_log), (1, 0));
    assert_eq!(app.count("audit_log").await, audited);
    let r = prune(&app.store, &cfg, now_ms() + 366 * DAY).await.unwrap();
    assert_eq!(r.audit_log, audited as u64);
    assert_eq!(
        app.count("audit_log").await + app.count("sessions").await,
        0
    );
    assert_eq!(app.count("users").await, 1, "users never age out");
}

#[tokio::test]
async fn runs_go_with_their_deliveries_unless_a_run_still_needs_them() {
    let app = spawn_app().await;
    let store = &app.store;
    let t = now_ms() - 400 * DAY;
    let done = [("discord", false)];
    let pending = [("discord", true)];
    store_run(store, "hourly-old", "schedule:hourly", t, None, &done).await;
    store_run(
        store,
        "hourly-pending",
        "schedule:hourly",
        t + 1,
        None,
        &pending,
    )
    .await;
    store_run(
        store,
        "hourly-newest",
        "schedule:hourly",
        t + 2,
        None,
        &done,
    )
    .await;
    app.seed_plain_run(PlainRun {
        id: "manual-failed-old",
        trigger: "manual",
        started_at: t + 3,
        finished_at: t + 4,
        status: "failed",
        sources_json: "{}",
        error: Some("boom"),
        targets: &[],
    })
    .await;
    app.seed_plain_run(PlainRun {
        id: "manual-failed-newest",
        trigger: "manual",
        started_at: t + 5,
        finished_at: t + 6,
        status: "failed",
        sources_json: "{}",
        error: Some("boom"),
        targets: &[],
    })
    .await;
    store_run(store, "recent", "webhook:push", now_ms(), None, &done).await;

    let r = prune(store, &small_batches(), now_ms()).await.unwrap();
    assert_eq!((r.runs, r.deliveries), (2, 1), "{r:?}");
    for gone in ["hourly-old", "manual-failed-old"] {
        assert!(
            store.get_run(gone).await.unwrap().is_none(),
            "{gone} is pruned"
        );
    }
    assert!(store
        .deliveries_for_run("hourly-old")
        .await
        .unwrap()
        .is_empty());
    for kept in [
        "hourly-pending",
        "hourly-newest",
        "manual-failed-newest",
        "recent",
    ] {
        assert!(
            store.get_run(kept).await.unwrap().is_some(),
            "{kept} is kept"
        );
    }
    let last = store
        .last_run_with_status(&["succeeded", "partial"])
        .await
        .unwrap();
    assert_eq!(last.unwrap().id, "recent");

    // Once its delivery is made, the pending run may go too.
    let mut d = store
        .get_delivery("hourly-pending", "discord")
        .await
        .unwrap()
        .unwrap();
    d.state = "succeeded".into();
    store.update_delivery(&d).await.unwrap();
    let r = prune(store, &small_batches(), now_ms()).await.unwrap();
    assert_eq!((r.runs, r.deliveries), (1, 1), "{r:?}");
    assert!(
        store.get_run("hourly-newest").await.unwrap().is_some(),
        "newest of its trigger"
    );
}

#[tokio::test]
async fn snapshot_chains_go_whole_and_never_the_one_the_next_diff_needs() {
    let app = spawn_app().await;
    let store = &app.store;
    let mut history = History::new(2, 100);
    let chain = helix_sync::store::MAX_CHAIN as usize;
    // Three chains: [0, 32) [32, 64) [64, 70); run 5's Discord delivery is still to make.
    let runs = 2 * chain + 6;
    let start = now_ms() - 200 * DAY;
    let mut jsons = Vec::new();
    for i in 0..runs {
        let json = history.next(2);
        let targets: &[(&str, bool)] = if i == 5 { &[("discord", true)] } else { &[] };
        let at = start + i as i64 * 3_600_000;
        store_run(
            store,
            &format!("s{i:03}"),
            "schedule:hourly",
            at,
            Some(&json),
            targets,
        )
        .await;
        jsons.push(json);
    }
    // Everything is past every cutoff; the middle chain is only partly past the snapshot
    // cutoff (it ends 63 hours after the start).
    let mut cfg = small_batches();
    cfg.runs.0 = std::time::Duration::from_secs(100 * 86_400);
    cfg.snapshots.0 =
        std::time::Duration::from_millis((now_ms() - (start + 40 * 3_600_000)) as u64);
    let r = prune(store, &cfg, now_ms()).await.unwrap();
    assert_eq!(
        r.snapshots, 0,
        "the first chain waits for run 5's delivery: {r:?}"
    );

    let mut d = store
        .get_delivery("s005", "discord")
        .await
        .unwrap()
        .unwrap();
    d.state = "dead".into();
    store.update_delivery(&d).await.unwrap();
    let r = prune(store, &cfg, now_ms()).await.unwrap();
    assert_eq!(
        r.snapshots, chain as u64,
        "the first chain goes whole: {r:?}"
    );
    assert_eq!(
        r.runs, chain as u64,
        "its runs follow their snapshots: {r:?}"
    );
    if store.backend() == Backend::Sqlite {
        assert!(
            r.vacuumed_pages > 0,
            "freed pages go back to the file system: {r:?}"
        );
    }

    let fresh = Store::connect(&app.state.config.database_url)
        .await
        .unwrap();
    for (i, json) in jsons.iter().enumerate() {
        let got = fresh.snapshot_json(&format!("s{i:03}")).await.unwrap();
        if i < chain {
            assert!(got.is_none(), "s{i:03} was pruned");
        } else {
            assert_eq!(got.as_ref(), Some(json), "s{i:03} still rebuilds exactly");
        }
    }

    // However old, the chain the next diff compares against stays.
    cfg.snapshots.0 = std::time::Duration::from_millis(1);
    let r = prune(store, &cfg, now_ms()).await.unwrap();
    assert_eq!(
        r.snapshots, chain as u64,
        "the middle chain goes, the newest stays: {r:?}"
    );
    let (newest, json) = fresh.latest_snapshot_json().await.unwrap().unwrap();
    assert_eq!((newest.as_str(), &json), ("s069", &jsons[runs - 1]));
    fresh.close().await;
}

#[test]
fn bad_retention_values_are_refused_at_start_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("events", "0"),
        ("jobs_dead", "-5"),
        ("runs", "\"12 parsecs\""),
        ("snapshots", "\"0d\""),
        ("batch_size", "0"),
    ] {
        let path = dir.path().join(format!("{key}.json"));
        std::fs::write(&path, format!("{{\"retention\": {{\"{key}\": {value}}}}}")).unwrap();
        let out = crate::process::helix()
            .arg("serve")
            .env_clear()
            .env("HELIX_CONFIG", &path)
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/never.db", dir.path().display()),
            )
            .output()
            .unwrap();
        assert!(!out.status.success(), "{key}={value} must not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("retention.{key}")),
            "{key}={value}: {stderr}"
        );
        assert!(!dir.path().join("never.db").exists(), "nothing was created");
    }
}

#[tokio::test]
async fn the_scheduler_fires_retention_passes_in_the_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/helix.db", dir.path().display());
    let (mut child, base) = crate::process::start_serve(&url, dir.path(), &[]).await;
    // The first pass fires at start-up; wait for its figures (bounded, not a fixed sleep).
    let mut text = String::new();
    for _ in 0..200 {
        text = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("helix_retention_pass_seconds_count") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        text.contains("helix_retention_pass_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("helix_retention_deleted_total{table=\"events\"} 0"),
        "{text}"
    );
}
