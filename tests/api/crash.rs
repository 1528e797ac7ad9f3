//! The real binary under load: SIGKILL loses no acknowledged event; SIGTERM drains and exits 0.

use std::collections::HashSet;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helix_sync::store::{Compressed, NewEvent, Store};

use crate::helpers::*;
use crate::process::start_serve;

/// Starts `helix-sync serve` on its own SQLite file in `dir`.
async fn start_binary(dir: &std::path::Path) -> (Child, String) {
    let db = format!("sqlite://{}/crash.db", dir.display());
    start_serve(&db, dir, &[("HELIX_SYNC_ENABLED", "false")]).await
}

async fn post(client: &reqwest::Client, base: &str, delivery: &str, body: &[u8]) -> Option<u16> {
    let res = client
        .post(format!("{base}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", github_signature(GITHUB_SECRET, body))
        .body(body.to_vec())
        .send()
        .await
        .ok()?;
    Some(res.status().as_u16())
}

#[tokio::test]
async fn sigkill_under_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = start_binary(dir.path()).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let body = serde_json::to_vec(&push_payload("o/r", "main", "load")).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (acked, base, body) = (acked.clone(), base.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let id = format!("t{t}-{i}");
                match post(&client, &base, &id, &body).await {
                    Some(202) => acked.lock().unwrap().push(id),
                    Some(other) => panic!("unexpected status {other}"),
                    None => return, // the server is gone
                }
            }
        }));
    }
    // Kill it mid-stream, once a good number of events were acknowledged.
    while acked.lock().unwrap().len() < 500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    let store = Store::connect(&format!("sqlite://{}/crash.db", dir.path().display()))
        .await
        .unwrap();
    let stored: HashSet<String> = store
        .delivery_jobs("github")
        .await
        .unwrap()
        .into_iter()
        .map(|(delivery, _)| delivery)
        .collect();
    let missing: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    store.close().await;

    // And it starts again on the same database, with every event still there.
    let (mut again, base) = start_binary(dir.path()).await;
    let client = reqwest::Client::new();
    assert_eq!(post(&client, &base, &acked[0], &body).await, Some(202));
    again.kill().unwrap();
    again.wait().unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start_binary(dir.path()).await;
    let body = serde_json::to_vec(&push_payload("o/r", "main", "x")).unwrap();
    let client = reqwest::Client::new();
    assert_eq!(post(&client, &base, "before-term", &body).await, Some(202));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "graceful exit");
}

/// Back-to-back write batches never leave SQLite a moment to restart its WAL by itself; the
/// checkpointer must, or the WAL grows with every event ever written. (Two runtime threads:
/// the checkpointer runs beside the writes, as in the server.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_back_to_back_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/wal.db", dir.path().display()))
        .await
        .unwrap();
    // Random hex: payloads are stored compressed, and this one halves at best (~3.6 KB).
    let hex: String = (0..219)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let payload = Compressed::new(&format!("{{\"x\":\"{hex}\"}}"));
    let wal = dir.path().join("wal.db-wal");
    let mut largest = 0;
    // ~50 MB stored: a dozen times the WAL cap.
    for batch in 0..140 {
        let events: Vec<_> = (0..100)
            .map(|i| NewEvent {
                id: uuid::Uuid::now_v7().to_string(),
                source: "github",
                delivery_id: format!("{batch}-{i}"),
                event_type: "push".into(),
                hook_id: None,
                repo: None,
                headers: "{}".into(),
                payload: payload.clone(),
                received_at: batch,
                job: None,
            })
            .collect();
        store.insert_events(events).await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    assert_eq!(store.count_events().await.unwrap(), 14_000);
    assert!(
        largest < 40 * 1024 * 1024,
        "the WAL grew to {largest} bytes for 50 MB written"
    );
}
