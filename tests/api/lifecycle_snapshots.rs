//! Compact snapshots: stored as deltas, rebuilt byte for byte for any run of a long history,
//! by a process that never saw them written; snapshots stored before compaction still read.

use helix_sync::store::{gzip, Store, MAX_CHAIN};
use sha2::{Digest, Sha256};

use crate::helpers::*;
use crate::lifecycle_history::{store_run, History};

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[tokio::test]
async fn a_snapshot_in_the_middle_of_a_long_history_rebuilds_exactly() {
    let app = spawn_app().await;
    let mut history = History::new(3, 200);
    let changes = history.items() / 100;
    let runs = 3 * MAX_CHAIN as usize + 7;
    let mut digests = Vec::new();
    let mut full_gzip = 0;
    for i in 0..runs {
        let json = history.next(changes);
        full_gzip += gzip(&json).len();
        digests.push(digest(&json));
        let at = history.taken_at(i as u64).timestamp_millis();
        store_run(
            &app.store,
            &format!("run-{i:04}"),
            "schedule:hourly",
            at,
            Some(&json),
            &[],
        )
        .await;
    }
    // A second process on the same database: nothing cached, every snapshot rebuilt from rows.
    let fresh = Store::connect(&app.state.config.database_url)
        .await
        .unwrap();
    let middle = runs / 2;
    for i in [
        middle,
        0,
        MAX_CHAIN as usize - 1,
        MAX_CHAIN as usize,
        runs - 1,
    ] {
        let rebuilt = fresh
            .snapshot_json(&format!("run-{i:04}"))
            .await
            .unwrap()
            .expect("every run's snapshot is there");
        assert_eq!(
            digest(&rebuilt),
            digests[i],
            "run {i} rebuilds byte for byte"
        );
    }
    let (latest, json) = fresh.latest_snapshot_json().await.unwrap().unwrap();
    assert_eq!(latest, format!("run-{:04}", runs - 1));
    assert_eq!(digest(&json), digests[runs - 1]);
    let stored = fresh.snapshot_stored_bytes().await.unwrap() as usize;
    assert!(
        stored * 5 < full_gzip,
        "deltas take a fraction of whole snapshots: {stored} bytes stored vs {full_gzip} as whole gzip"
    );
    fresh.close().await;
}

#[tokio::test]
async fn a_snapshot_stored_before_compaction_reads_and_serves_as_a_base() {
    let app = spawn_app().await;
    let mut history = History::new(2, 100);
    let old = history.next(0);
    // A row as migration 0012 found it: whole, gzip, no chain columns set.
    let pool = sqlx::AnyPool::connect(&app.state.config.database_url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO snapshots (run_id, schema_version, created_at, data) VALUES ('legacy', 1, 1, $1)",
    )
    .bind(gzip(&old))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let newer = history.next(4);
    store_run(&app.store, "after", "manual", 2, Some(&newer), &[]).await;

    let fresh = Store::connect(&app.state.config.database_url)
        .await
        .unwrap();
    assert_eq!(fresh.snapshot_json("legacy").await.unwrap().unwrap(), old);
    assert_eq!(fresh.snapshot_json("after").await.unwrap().unwrap(), newer);
    fresh.close().await;
}
