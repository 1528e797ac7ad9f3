//! Trend history for exporters: the UCF values of the last N runs, oldest first.
//!
//! Read from each snapshot's small `trend` extract (see `store::trends`), so a run's cost does
//! not grow with the size of N past snapshots; a snapshot without one (older, or a crash right
//! after its commit) is decoded once and its extract saved.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::exporters::HistoryPoint;
use super::snapshot::Snapshot;
use crate::store::{Store, StoreError};

/// The stored extract.
#[derive(Serialize, Deserialize)]
struct Trend {
    at: DateTime<Utc>,
    ucf: BTreeMap<String, f64>,
}

/// The parts of a full snapshot a trend needs (serde skips the rest).
#[derive(Deserialize)]
struct SnapshotTrend {
    taken_at: DateTime<Utc>,
    ucf: Option<SnapshotUcf>,
}

#[derive(Deserialize)]
struct SnapshotUcf {
    metrics: BTreeMap<String, f64>,
}

/// The UCF metrics a history point carries (none when the snapshot has no UCF state).
fn ucf_metrics(snapshot: &Snapshot) -> BTreeMap<String, f64> {
    snapshot
        .ucf
        .as_ref()
        .map(|u| u.metrics.clone())
        .unwrap_or_default()
}

/// A snapshot's trend extract, as stored.
pub fn trend_json(snapshot: &Snapshot) -> String {
    let t = Trend {
        at: snapshot.taken_at,
        ucf: ucf_metrics(snapshot),
    };
    serde_json::to_string(&t).expect("a trend always serializes")
}

pub fn point(run_id: &str, snapshot: &Snapshot) -> HistoryPoint {
    HistoryPoint {
        run_id: run_id.to_owned(),
        at: snapshot.taken_at,
        ucf: ucf_metrics(snapshot),
    }
}

/// The last `n` stored runs, oldest first. Undecodable entries are skipped.
pub async fn recent(store: &Store, n: i64) -> Result<Vec<HistoryPoint>, StoreError> {
    points(store, store.recent_trends(n.max(0)).await?).await
}

/// The `n` runs stored before run `run_id`, oldest first: the points the sync cycle had
/// when it exported that run (so a past run's exports can be made again byte for byte).
pub async fn before(store: &Store, run_id: &str, n: i64) -> Result<Vec<HistoryPoint>, StoreError> {
    points(store, store.trends_before(run_id, n.max(0)).await?).await
}

/// Trend points of `rows` (`(run id, stored extract)`), rebuilding a missing extract.
async fn points(
    store: &Store,
    rows: Vec<(String, Option<String>)>,
) -> Result<Vec<HistoryPoint>, StoreError> {
    let mut out = Vec::new();
    for (run_id, trend) in rows {
        let stored = trend.and_then(|t| serde_json::from_str::<Trend>(&t).ok());
        let trend = match stored {
            Some(t) => t,
            None => {
                let Some(bytes) = store.snapshot_json(&run_id).await? else {
                    continue;
                };
                let Ok(s) = serde_json::from_slice::<SnapshotTrend>(&bytes) else {
                    continue;
                };
                let t = Trend {
                    at: s.taken_at,
                    ucf: s.ucf.map(|u| u.metrics).unwrap_or_default(),
                };
                let text = serde_json::to_string(&t).expect("a trend always serializes");
                if let Err(e) = store.set_snapshot_trend(&run_id, &text).await {
                    tracing::warn!(run_id, error = %e, "could not save a trend extract");
                }
                t
            }
        };
        out.push(HistoryPoint {
            run_id,
            at: trend.at,
            ucf: trend.ucf,
        });
    }
    Ok(out)
}
