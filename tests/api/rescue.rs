//! Fast rescue: every process registers as a node and heartbeats; the jobs of a node that
//! stopped, or of the previous incarnation of a restarted node, go back to the queue in
//! seconds instead of at lease expiry (60 s).

use std::time::{Duration, Instant};

use helix_sync::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use helix_sync::store::{now_ms, Store};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::process::start_serve;

async fn poll<T, F, Fut>(limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up after {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn sigkill_mid_job_then_restart_resumes_the_job_within_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rescue.db", dir.path().display());
    // A GitHub that takes a minute to answer: the sync is mid-job when the process dies.
    let github = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&github)
        .await;
    let github_url = github.uri();
    let env = [
        ("HELIX_SYNC_ENABLED", "false"),
        ("HELIX_NODE_NAME", "node-a"),
        ("GITHUB_REPOS", "o/r"),
        ("GITHUB_API_URL", github_url.as_str()),
        ("HELIX_API_TOKEN", API_TOKEN),
    ];
    let (mut child, base) = start_serve(&db, dir.path(), &env).await;
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/sync"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = res["job_id"].as_str().unwrap().to_owned();
    let store = Store::connect(&db).await.unwrap();
    poll(Duration::from_secs(10), || async {
        let j = store.get_job(&job_id).await.unwrap()?;
        (j.state == "running").then_some(())
    })
    .await;

    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    github.reset().await;

    let restart = Instant::now();
    let restart_ms = now_ms();
    let (mut again, _) = start_serve(&db, dir.path(), &env).await;
    let resumed_at = poll(Duration::from_secs(10), || async {
        let j = store.get_job(&job_id).await.unwrap()?;
        (j.attempts >= 2 && j.started_at? >= restart_ms).then_some(j.started_at?)
    })
    .await;
    let after = Duration::from_millis((resumed_at - restart_ms) as u64);
    assert!(
        after < Duration::from_secs(5),
        "resumed {after:?} after the restart began (lease is 60 s)"
    );
    assert!(restart.elapsed() < Duration::from_secs(15));
    again.kill().unwrap();
    again.wait().unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_node_that_stopped_heartbeating_loses_its_jobs_after_five_seconds() {
    let app = spawn_app().await;
    let (store, queue) = (&app.store, &app.state.queue);
    let t0 = now_ms();
    store
        .register_node("dead-node", "other-host:8080", t0)
        .await
        .unwrap();
    let job = JobPayload::Sync(SyncJob {
        scope: SyncScope::Full,
        sources: None,
        targets: None,
        trigger: Trigger::Manual,
    });
    let id = queue.enqueue(&job, t0).await.unwrap();
    // Claimed by a worker of the other node, with a long lease.
    let claimed = store
        .claim("dead-node/w:0", t0, t0 + 3_600_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, id);

    // Still heartbeating as far as anyone knows: left alone.
    assert_eq!(queue.rescue(t0 + 4_000).await.unwrap(), 0);
    assert_eq!(store.get_job(&id).await.unwrap().unwrap().state, "running");
    // Five seconds without a heartbeat: rescued, and the node is gone from the registry.
    assert_eq!(queue.rescue(t0 + 5_500).await.unwrap(), 1);
    let j = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(j.state, "queued");
    assert!(j.last_error.unwrap().contains("other-host:8080"));
    let nodes = store.nodes().await.unwrap();
    assert!(nodes.iter().all(|n| n.id != "dead-node"));
    // This process itself is registered and heartbeating.
    assert!(nodes.iter().any(|n| n.id == queue.node().id));
}
