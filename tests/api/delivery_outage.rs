//! A target's outage costs time, never data: the per-target retry schedule, the circuit
//! breaker (probes, in-order drain), and what `/health` and `/metrics` say meanwhile.
//!
//! The outage test runs the real delivery path against the Discord fake with a real clock.
//! A 2-minute outage against a schedule in minutes would take minutes, so both are scaled
//! by [`SCALE`]: the outage lasts `OUTAGE_SECS / SCALE` seconds and every delay of the
//! schedule and the probe interval is divided by the same factor — the logic is identical.

use std::time::{Duration, Instant};

use helix_sync::config::STANDARD_SCHEDULE_SECS;
use helix_sync::store::{now_ms, Transition};
use serde_json::json;

use crate::publish_support::*;

/// The outage being simulated, in real seconds.
const OUTAGE_SECS: f64 = 120.0;
/// Time compression of the test: 40× (a 2-minute outage takes 3 s).
const SCALE: f64 = 40.0;

fn scaled_discord_policy() -> serde_json::Value {
    let schedule: Vec<f64> = STANDARD_SCHEDULE_SECS.iter().map(|s| s / SCALE).collect();
    json!({"targets": {"discord": {
        "retry_schedule_secs": schedule,
        "breaker_failures": 5,
        "probe_interval_secs": 60.0 / SCALE,
    }}})
}

/// Runs due jobs every 20 ms until `done` or `limit` passes.
async fn drive_until<F, Fut>(h: &Harness, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "not settled within {limit:?}");
        h.run_pending().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_outage_shorter_than_the_schedule_delivers_every_run_once_and_in_order() {
    let h = harness(Setup {
        notion: false,
        delivery: scaled_discord_policy(),
        ..Setup::default()
    })
    .await;
    let outage = Duration::from_secs_f64(OUTAGE_SECS / SCALE);
    h.discord.down_for(outage);
    let started = Instant::now();
    let runs = ["run-1", "run-2", "run-3"];
    for (i, id) in runs.iter().enumerate() {
        h.seed_run(id, now_ms() + i as i64, &changes(), &["discord"])
            .await;
    }

    // Until the breaker opens: attempts follow the schedule.
    drive_until(&h, Duration::from_secs(5), || async {
        h.app
            .store
            .lanes()
            .await
            .unwrap()
            .iter()
            .any(|l| l.name == "discord" && l.breaker == "open")
    })
    .await;
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(d.state, "failed");
    assert!(d.next_attempt_at.is_some(), "the next attempt is visible");

    // Open: /health is degraded with discord in error; metrics show the circuit and backlog.
    let health: serde_json::Value = h.app.get_json("/health").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["targets"]["discord"], "error");
    assert!(
        health["metrics"]["last_error"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{health}"
    );
    let metrics = h.app.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"helix_target_breaker_open{target="discord"} 1"#),
        "{metrics}"
    );
    assert!(metrics
        .lines()
        .any(|l| l.starts_with(r#"helix_target_backlog{target="discord"}"#) && !l.ends_with(" 0")));
    let attempts_when_open: i64 = {
        let mut n = 0;
        for id in runs {
            n += h.delivery(id, "discord").await.attempts;
        }
        n
    };

    drive_until(&h, Duration::from_secs(20), || async {
        let mut all = true;
        for id in runs {
            all &= h.delivery(id, "discord").await.state == "succeeded";
        }
        all
    })
    .await;
    assert!(
        started.elapsed() >= outage,
        "nothing got through during the outage"
    );

    // Every run exactly once, in the order the runs were made.
    let messages = h.discord.messages();
    let order: Vec<&str> = messages
        .iter()
        .map(|m| {
            *runs
                .iter()
                .find(|r| m.to_string().contains(*r))
                .expect("names its run")
        })
        .collect();
    assert_eq!(order, runs, "each run once, in order");
    // While open, the waiting deliveries used no attempts (only probes went out).
    let mut attempts_after = 0;
    for id in runs {
        attempts_after += h.delivery(id, "discord").await.attempts;
    }
    assert!(
        attempts_after <= attempts_when_open + runs.len() as i64,
        "{attempts_when_open} -> {attempts_after}"
    );
    let lane = h
        .app
        .store
        .lanes()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.name == "discord")
        .unwrap();
    assert_eq!((lane.breaker.as_str(), lane.failures), ("closed", 0));
    let health: serde_json::Value = h.app.get_json("/health").await;
    assert_eq!(health["targets"]["discord"], "ok", "{health}");
}

#[tokio::test]
async fn a_delivery_whose_schedule_runs_out_is_dead_and_health_says_so() {
    let h = harness(Setup {
        notion: false,
        // Two retries, and a breaker that never opens within them.
        delivery: json!({"targets": {"discord": {"retry_schedule_secs": [0.0, 0.0], "breaker_failures": 100}}}),
        ..Setup::default()
    })
    .await;
    h.discord.down_for(Duration::from_secs(600));
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    for _ in 0..5 {
        h.run_pending().await;
    }
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(
        (d.state.as_str(), d.attempts),
        ("dead", 3),
        "1 + 2 scheduled retries"
    );
    let job = &h.app.store.list_jobs(None, 1).await.unwrap()[0];
    assert_eq!(
        (job.state.as_str(), job.attempts, job.max_attempts),
        ("dead", 3, 3)
    );
    assert!(job
        .last_error
        .as_deref()
        .unwrap()
        .contains("retry schedule is exhausted"));
    let health: serde_json::Value = h.app.get_json("/health").await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["targets"]["discord"], "error");
    assert!(
        health["metrics"]["last_error"]
            .as_str()
            .unwrap()
            .contains("1 dead deliveries"),
        "{health}"
    );
}

#[tokio::test]
async fn the_job_api_and_queue_list_show_the_next_attempt() {
    let h = harness(Setup {
        notion: false,
        ..Setup::default()
    })
    .await;
    h.discord.down_for(Duration::from_secs(600));
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    h.run_pending().await;
    let job = &h.app.store.list_jobs(None, 1).await.unwrap()[0];
    // The first retry of the Standard Webhooks schedule: 5 s.
    let wait = job.run_at - now_ms();
    assert!((3_000..=5_000).contains(&wait), "{wait}");
    let detail: serde_json::Value = h
        .app
        .get_authed(&format!("/api/sync/jobs/{}", job.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["state"], "failed");
    assert!(detail["next_attempt_at"].is_string(), "{detail}");
    assert_eq!(detail["deliveries"][0]["target"], "discord");
    assert_eq!(
        detail["deliveries"][0]["next_attempt_at"],
        detail["next_attempt_at"]
    );
    // `queue list` has a NEXT ATTEMPT column with the same time.
    let table = crate::queue::cli(&h.app.state.config.database_url, &["queue", "list"]);
    let table = String::from_utf8(table).unwrap();
    assert!(
        table.lines().next().unwrap().contains("NEXT ATTEMPT"),
        "{table}"
    );
    let line = table.lines().find(|l| l.starts_with(&job.id)).unwrap();
    assert!(
        line.contains(detail["next_attempt_at"].as_str().unwrap()),
        "{line}"
    );
    let page = h.app.get_text("/").await;
    assert!(
        page.contains("title=\"next attempt\""),
        "the status page shows it"
    );
}

#[tokio::test]
async fn the_breaker_reports_each_transition_once() {
    let h = harness(Setup::default()).await;
    let store = &h.app.store;
    let now = now_ms();
    for i in 0..2 {
        assert_eq!(
            store
                .breaker_failure("discord", 3, 1000, now + i)
                .await
                .unwrap(),
            Transition::None
        );
    }
    assert_eq!(
        store
            .breaker_failure("discord", 3, 1000, now + 2)
            .await
            .unwrap(),
        Transition::Opened { failures: 3 }
    );
    assert_eq!(
        store
            .breaker_failure("discord", 3, 1000, now + 3)
            .await
            .unwrap(),
        Transition::None
    );
    // One probe per interval.
    use helix_sync::store::Admission;
    assert_eq!(
        store
            .breaker_admit("discord", 1000, now + 10)
            .await
            .unwrap(),
        Admission::Wait(now + 1002)
    );
    assert_eq!(
        store
            .breaker_admit("discord", 1000, now + 1002)
            .await
            .unwrap(),
        Admission::Probe { next: now + 2002 }
    );
    assert_eq!(
        store
            .breaker_admit("discord", 1000, now + 1003)
            .await
            .unwrap(),
        Admission::Wait(now + 2002)
    );
    assert!(matches!(
        store.breaker_success("discord", now + 1004).await.unwrap(),
        Transition::Closed { .. }
    ));
    assert_eq!(
        store.breaker_success("discord", now + 1005).await.unwrap(),
        Transition::None
    );
    assert_eq!(
        store
            .breaker_admit("discord", 1000, now + 1006)
            .await
            .unwrap(),
        Admission::Go
    );
}
