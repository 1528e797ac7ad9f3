//! Several replicas on one PostgreSQL queue: two `helix-sync serve` processes share the
//! database, 2,000 signed webhooks are spread over both, one process is SIGKILLed mid-way.
//! Every acknowledged event is processed, no job's sync commits twice, and every cron firing
//! is enqueued once. Runs on the PostgreSQL pass only (`HELIX_TEST_BACKEND=postgres`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helix_sync::store::{now_ms, Store};

use crate::helpers::*;
use crate::process::start_serve;

const EVENTS: usize = 2000;
const REPOS: usize = 40;

#[tokio::test]
async fn two_replicas_one_killed_lose_nothing_and_run_nothing_twice() {
    if std::env::var("HELIX_TEST_BACKEND").as_deref() != Ok("postgres") {
        eprintln!("SKIP: the multi-replica test needs PostgreSQL (HELIX_TEST_BACKEND=postgres and HELIX_TEST_DATABASE_URL)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = test_database_url(dir.path()).await;
    let config = dir.path().join("sync_config.json");
    // Short leases so the killed replica's jobs are rescued quickly; a 2 s interval schedule
    // so both replicas race on many firings.
    std::fs::write(
        &config,
        r#"{"sync_schedule": {"hourly": false, "daily": null},
            "queue": {"lease_secs": 2, "backoff_base_secs": 1, "backoff_cap_secs": 2}}"#,
    )
    .unwrap();
    let env = [
        ("HELIX_CONFIG", config.to_str().unwrap()),
        ("HELIX_SYNC_INTERVAL", "2"),
        ("HELIX_WORKERS", "2"),
    ];
    let (mut a, base_a) = start_serve(&db, dir.path(), &env).await;
    let (mut b, base_b) = start_serve(&db, dir.path(), &env).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (acked, base_a, base_b) = (acked.clone(), base_a.clone(), base_b.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in (t..EVENTS).step_by(8) {
                let repo = format!("replica/r{}", i % REPOS);
                let body = serde_json::to_vec(&push_payload(&repo, "main", "x")).unwrap();
                let id = format!("rep-{i}");
                // Odd events go to replica A while it lives; when it is gone, to B.
                for base in if i % 2 == 1 {
                    [&base_a, &base_b]
                } else {
                    [&base_b, &base_b]
                } {
                    let sent = client
                        .post(format!("{base}/webhooks/github"))
                        .header("content-type", "application/json")
                        .header("x-github-event", "push")
                        .header("x-github-delivery", &id)
                        .header(
                            "x-hub-signature-256",
                            github_signature(GITHUB_SECRET, &body),
                        )
                        .body(body.clone())
                        .send()
                        .await;
                    if let Ok(r) = sent {
                        assert_eq!(r.status(), 202);
                        acked.lock().unwrap().push(id.clone());
                        break;
                    }
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < EVENTS / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill().unwrap();
    a.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), EVENTS, "B took over A's share");

    // Let B drain everything, including A's rescued jobs.
    let store = Store::connect(&db).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = store.queue_stats(now_ms()).await.unwrap();
        let busy = s.by_state["queued"] + s.by_state["running"] + s.by_state["failed"];
        if busy == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queue did not drain: {:?}",
            s.by_state
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.kill().unwrap();
    b.wait().unwrap();

    // Every acknowledged event is stored and its job succeeded.
    let events: HashMap<String, Option<String>> = store
        .delivery_jobs("github")
        .await
        .unwrap()
        .into_iter()
        .collect();
    let jobs: HashMap<String, String> = store
        .list_jobs(None, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.state))
        .collect();
    for id in &acked {
        let job = events
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged {id} was lost"))
            .as_ref()
            .expect("a push has a job");
        assert_eq!(jobs[job], "succeeded", "job of {id}");
    }
    // No job committed a sync twice.
    let mut committed: BTreeMap<String, usize> = BTreeMap::new();
    for run in store.list_runs(1_000_000).await.unwrap() {
        if matches!(run.status.as_str(), "succeeded" | "partial") {
            *committed.entry(run.job_id.unwrap_or_default()).or_default() += 1;
        }
    }
    assert!(
        committed.values().all(|n| *n == 1),
        "a job's sync committed twice: {committed:?}"
    );
    // Each firing was enqueued once (the key makes it so) and its job ran.
    let firings = store.firings().await.unwrap();
    assert!(
        firings.len() >= 2,
        "the interval schedule fired: {firings:?}"
    );
    for (_, _, job) in &firings {
        assert!(
            matches!(jobs[job].as_str(), "succeeded"),
            "firing job {job}: {}",
            jobs[job]
        );
    }
}
