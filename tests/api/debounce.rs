//! Debounce per coalescing key: an isolated push runs at once; a burst waits for a quiet
//! period, never longer than the maximum delay; a manual trigger is never held back.

use helix_sync::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use helix_sync::store::now_ms;

use crate::helpers::*;

fn webhook_sync(repo: &str) -> JobPayload {
    JobPayload::Sync(SyncJob {
        scope: SyncScope::Repo { repo: repo.into() },
        sources: None,
        targets: None,
        trigger: Trigger::Webhook {
            event: "push".into(),
        },
    })
}

/// A burst of `events` for one key, `gap_ms` apart from t = 0, with one worker that takes
/// every due job at once and needs `run_ms` per run. Returns the start time of each run.
/// Time is the test's: the queue is driven with explicit clocks, so this is exact.
async fn simulate(app: &TestApp, events: i64, gap_ms: i64, run_ms: i64) -> Vec<i64> {
    let q = &app.state.queue;
    let t0 = now_ms();
    let mut starts = Vec::new();
    let mut running: Option<(String, i64)> = None;
    let end = t0 + events * gap_ms + 10_000;
    let mut t = t0;
    let mut next_event = 0;
    while t <= end {
        if let Some((id, done_at)) = &running {
            if *done_at <= t {
                q.complete(id, "sim", t).await.unwrap();
                running = None;
            }
        }
        if next_event < events && t >= t0 + next_event * gap_ms {
            q.enqueue(&webhook_sync("o/r"), t).await.unwrap();
            next_event += 1;
        }
        if running.is_none() {
            if let Some(job) = q.claim("sim", t).await.unwrap() {
                starts.push(t - t0);
                running = Some((job.row.id, t + run_ms));
            }
        }
        // 10 ms steps while events arrive, 100 ms after.
        t += if next_event < events { 10 } else { 100 };
    }
    starts
}

#[tokio::test]
async fn a_burst_for_one_key_gives_at_most_one_run_per_max_delay() {
    let app = spawn_app().await;
    let d = app.state.config.file.delivery.debounce.clone();
    assert_eq!(
        (d.quiet_ms, d.max_delay_ms),
        (300, 5000),
        "the documented defaults"
    );
    // 10 s of events every 20 ms, runs of 50 ms.
    let starts = simulate(&app, 500, 20, 50).await;
    let bound = 1 + 10_000 / d.max_delay_ms as usize;
    assert!(starts.len() <= bound, "{} runs: {starts:?}", starts.len());
    // The leading edge runs at once; later runs are at most max_delay apart, so nothing
    // waits longer than that; the last one covers the tail of the burst.
    assert_eq!(starts[0], 0);
    assert!(
        starts
            .windows(2)
            .all(|w| w[1] - w[0] <= d.max_delay_ms as i64 + 60),
        "{starts:?}"
    );
    assert!(*starts.last().unwrap() >= 9_980 - d.max_delay_ms as i64);
}

#[tokio::test]
async fn spaced_events_each_run_at_once() {
    let app = spawn_app().await;
    // Events 500 ms apart are not a burst (quiet period 300 ms): one immediate run each.
    let starts = simulate(&app, 5, 500, 50).await;
    assert_eq!(starts, [0, 500, 1000, 1500, 2000]);
}

#[tokio::test]
async fn webhook_pushes_in_a_burst_share_one_debounced_job_and_a_manual_sync_is_not_held() {
    let app = spawn_app().await;
    let mut jobs = Vec::new();
    for i in 0..3 {
        jobs.push(app.push_job("o/r", &format!("d-{i}")).await);
    }
    // The first push ran at once (leading edge) — it is still waiting here only because
    // no worker runs — so the next two joined it and it stays due now.
    assert!(jobs.iter().all(|j| *j == jobs[0]), "{jobs:?}");
    let first = app.store.get_job(&jobs[0]).await.unwrap().unwrap();
    assert!(first.run_at <= now_ms());
    app.run_pending_jobs().await;

    // Right after that run, a push is part of the burst: its job waits a quiet period.
    let id = app.push_job("o/r", "d-3").await;
    let later = app.store.get_job(&id).await.unwrap().unwrap();
    assert!(later.run_at > now_ms(), "debounced");
    assert!(later.run_at - later.created_at <= 300);

    // A manual sync of the same scope joins it and pulls it forward.
    let JobPayload::Sync(mut manual) = serde_json::from_str(&later.payload).unwrap() else {
        panic!("a push asks for a sync")
    };
    manual.trigger = Trigger::Manual;
    let manual = JobPayload::Sync(manual);
    let id = app.state.queue.enqueue(&manual, now_ms()).await.unwrap();
    assert_eq!(id, later.id);
    assert!(app.store.get_job(&id).await.unwrap().unwrap().run_at <= now_ms());
}

#[tokio::test]
async fn a_push_while_the_keys_job_runs_waits_a_quiet_period_on_either_enqueue_path() {
    let app = spawn_app().await;
    let q = &app.state.queue;
    let quiet = app.state.config.file.delivery.debounce.quiet_ms as i64;
    for (i, many) in [false, true].into_iter().enumerate() {
        let repo = format!("o/running-{i}");
        let t0 = now_ms() + 60_000 * i as i64;
        let enqueue = |t: i64| {
            let job = webhook_sync(&repo);
            async move {
                if many {
                    q.enqueue_many(&[job], t).await.unwrap().remove(0)
                } else {
                    q.enqueue(&job, t).await.unwrap()
                }
            }
        };
        // A key with no history runs at once, and is running 1 s later.
        let first = enqueue(t0).await;
        assert_eq!(app.store.get_job(&first).await.unwrap().unwrap().run_at, t0);
        let claimed = q.claim("w", t0 + 1_000).await.unwrap().unwrap();
        assert_eq!(claimed.row.id, first);
        // Its run is the key's latest activity (`jobs_key_updated` leaves running jobs out;
        // `running_jobs` supplies it): a push 100 ms into it is part of a burst.
        let second = enqueue(t0 + 1_100).await;
        assert_ne!(second, first);
        let run_at = app.store.get_job(&second).await.unwrap().unwrap().run_at;
        assert!(run_at >= t0 + 1_100 + quiet, "many={many}: {run_at} - {t0}");
        q.complete(&first, "w", t0 + 1_200).await.unwrap();
        let _ = q.claim("w", run_at).await.unwrap();
    }
}
