//! Trend history for exporters and analytics: the UCF values and agent success rates of the
//! last N runs, oldest first.
//!
//! Read from each snapshot's small `trend` extract (see `store::trends`), so a run's cost does
//! not grow with the size of N past snapshots; a snapshot without one (older, or a crash right
//! after its commit) is decoded once and its extract saved.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::input::HistoryPoint;
use super::snapshot::Snapshot;
use crate::store::{Store, StoreError};

/// The stored extract. One written before agent success rates were added has no `agents`
/// key: it is rebuilt from its snapshot once, like a missing one.
#[derive(Serialize, Deserialize)]
struct Trend {
    at: DateTime<Utc>,
    ucf: BTreeMap<String, f64>,
    agents: Option<BTreeMap<String, f64>>,
}

/// The parts of a full snapshot a trend needs (serde skips the rest).
#[derive(Deserialize)]
struct SnapshotTrend {
    taken_at: DateTime<Utc>,
    ucf: Option<SnapshotUcf>,
    #[serde(default)]
    agents: BTreeMap<String, SnapshotAgent>,
}

#[derive(Deserialize)]
struct SnapshotUcf {
    metrics: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct SnapshotAgent {
    success_rate: Option<f64>,
}

/// Success rates of the agents that had tasks.
fn success_rates<'a>(
    agents: impl Iterator<Item = (&'a String, Option<f64>)>,
) -> BTreeMap<String, f64> {
    agents
        .filter_map(|(name, rate)| rate.map(|r| (name.clone(), r)))
        .collect()
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
        agents: Some(agent_rates(snapshot)),
    };
    serde_json::to_string(&t).expect("a trend always serializes")
}

fn agent_rates(snapshot: &Snapshot) -> BTreeMap<String, f64> {
    success_rates(snapshot.agents.iter().map(|(n, a)| (n, a.success_rate)))
}

/// A snapshot's own history point.
pub fn point(run_id: &str, snapshot: &Snapshot) -> HistoryPoint {
    HistoryPoint {
        run_id: run_id.to_owned(),
        at: snapshot.taken_at,
        ucf: ucf_metrics(snapshot),
        agents: agent_rates(snapshot),
    }
}

/// How many runs a trend covers (`exporters.html.trend_runs`, at least 1).
pub fn trend_runs(config: &crate::config::Config) -> i64 {
    i64::from(config.file.exporters.html.trend_runs.max(1))
}

/// Run `run_id`'s trend as it stood when the run was exported: the points of the
/// `trend_runs - 1` runs stored before it, then its own. Exports, the feed and the analytics of
/// a past run all read this, so making them again gives the bytes written then; newer runs do
/// not belong in its trend.
pub async fn as_of(
    store: &Store,
    config: &crate::config::Config,
    run_id: &str,
    snapshot: &Snapshot,
) -> Result<Vec<HistoryPoint>, StoreError> {
    let mut points = before(store, run_id, trend_runs(config) - 1).await?;
    points.push(point(run_id, snapshot));
    Ok(points)
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
            Some(t) if t.agents.is_some() => t,
            _ => {
                let Some(bytes) = store.snapshot_json(&run_id).await? else {
                    continue;
                };
                let Ok(s) = serde_json::from_slice::<SnapshotTrend>(&bytes) else {
                    continue;
                };
                let t = Trend {
                    at: s.taken_at,
                    ucf: s.ucf.map(|u| u.metrics).unwrap_or_default(),
                    agents: Some(success_rates(
                        s.agents.iter().map(|(n, a)| (n, a.success_rate)),
                    )),
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
            agents: trend.agents.unwrap_or_default(),
        });
    }
    Ok(out)
}
