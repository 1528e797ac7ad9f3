//! The portal feed: static JSON files under `EXPORT_PATH/portal/api/sync/` that the portal
//! site (and `GET /api/sync/latest.json`) serve: `latest.json` (the newest run with its
//! quick stats, UCF, change summary, analytics and export files) and `history.json` (the last N runs).
//!
//! Files are written to a temporary name and renamed, so a reader never sees half a file.
//! The same run always produces the same bytes (no "generated at" stamp), so a retry is a
//! no-op for readers and ETags stay stable; and a late retry of an older run never replaces
//! the feed of a newer one. After writing, the optional `rebuild_hook` is POSTed.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};

use super::stats::QuickStats;
use super::{PublishContext, PublishError, Publisher, Receipt};
use crate::config::Config;
use crate::store::RunRow;
use crate::sync::analytics::{self, Analytics};
use crate::sync::exporters::{ExportFile, ExportInput, Scope};
use crate::sync::history;
use crate::sync::narrate::Narration;
use crate::sync::snapshot::{ChangeSummary, SourceStatus, SCHEMA_VERSION};
use crate::timestamp::millis;

/// Feed directory relative to `EXPORT_PATH`.
pub const FEED_DIR: &str = "portal/api/sync";

/// The lock file that orders writers of `latest.json`, relative to `EXPORT_PATH` (outside
/// the feed directory, which the portal serves).
pub const FEED_LOCK: &str = ".portal-feed.lock";

/// Where `latest.json` lives.
pub fn latest_path(config: &Config) -> PathBuf {
    config.export_path.join(FEED_DIR).join("latest.json")
}

pub struct Portal;

#[async_trait]
impl Publisher for Portal {
    fn name(&self) -> &'static str {
        "portal"
    }

    fn unconfigured(&self, config: &Config) -> Option<String> {
        (!config.file.publishers.portal.enabled)
            .then(|| "switched off (publishers.portal.enabled = false)".into())
    }

    async fn publish(&self, cx: &PublishContext<'_>) -> Result<Receipt, PublishError> {
        let config = cx.config();
        let past = history::as_of(&cx.deps.store, config, &cx.run.id, &cx.snapshot).await?;
        let input = ExportInput {
            run: &cx.run,
            snapshot: &cx.snapshot,
            changes: &cx.changes,
            history: &past,
        };
        let analytics = analytics::compute(&input, Scope::Full);
        let latest =
            serde_json::to_vec_pretty(&latest_feed(cx, analytics)).expect("feed serializes");
        let limit = i64::from(config.file.publishers.portal.history.max(1));
        let runs = cx.deps.store.list_runs(limit + 10).await?;
        let history = serde_json::to_vec_pretty(&history_feed(&runs, limit as usize))
            .expect("feed serializes");
        let dir = config.export_path.join(FEED_DIR);
        let lock = config.export_path.join(FEED_LOCK);
        let row = cx.row.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            std::fs::create_dir_all(&dir)?;
            let written = write_latest_if_newest(&dir, &lock, &row, &latest)?;
            write_atomic(&dir.join("history.json"), &history)?;
            Ok(written)
        })
        .await
        .map_err(|e| PublishError::Retryable(format!("portal writer stopped: {e}")))?
        .map_err(|e| PublishError::Retryable(format!("cannot write the portal feed: {e}")))?;
        if !written {
            tracing::info!(run_id = %cx.run.id, "portal feed already shows a newer run; kept it");
        }
        if let Some(hook) = &config.file.publishers.portal.rebuild_hook {
            rebuild(cx, hook).await?;
        }
        Ok(Receipt {
            external_id: Some(format!("{FEED_DIR}/latest.json")),
        })
    }
}

#[derive(Serialize)]
struct RunHeader<'a> {
    id: &'a str,
    trigger: &'a str,
    status: &'a str,
    started_at: String,
    finished_at: Option<String>,
    duration_seconds: Option<f64>,
}

impl<'a> From<&'a RunRow> for RunHeader<'a> {
    fn from(r: &'a RunRow) -> Self {
        Self {
            id: &r.id,
            trigger: &r.trigger,
            status: &r.status,
            started_at: millis(r.started_at),
            finished_at: r.finished_at.map(millis),
            duration_seconds: r.duration_ms.map(|d| d as f64 / 1000.0),
        }
    }
}

#[derive(Serialize)]
struct Latest<'a> {
    schema_version: u32,
    run: RunHeader<'a>,
    stats: QuickStats,
    ucf: Value,
    sources: &'a std::collections::BTreeMap<String, SourceStatus>,
    changes: &'a ChangeSummary,
    /// Paths are relative to `EXPORT_PATH`.
    exports: &'a [ExportFile],
    /// Trends and predictions (`schemas/analytics.schema.json`).
    analytics: Analytics,
    /// The model-written paragraph (`kind: generated`) or the warning of why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_summary: Option<&'a Narration>,
    /// On a rollback run: `{to, from, by}` (the feed then shows run `to`'s state).
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback: Option<Value>,
}

fn latest_feed<'a>(cx: &'a PublishContext<'_>, analytics: Analytics) -> Latest<'a> {
    let ucf = cx.snapshot.ucf.as_ref().map_or(Value::Null, |u| {
        json!({"metrics": u.metrics, "status": u.status, "timestamp": u.timestamp, "phase": u.phase})
    });
    Latest {
        schema_version: SCHEMA_VERSION,
        run: (&cx.row).into(),
        stats: QuickStats::of(&cx.snapshot, &cx.changes),
        ucf,
        sources: &cx.snapshot.sources,
        changes: &cx.changes,
        exports: &cx.exports,
        analytics,
        generated_summary: cx.run.generated_summary.as_ref(),
        rollback: cx
            .meta
            .rollback_to
            .as_ref()
            .map(|to| json!({"to": to, "from": cx.meta.rollback_from, "by": cx.meta.requested_by})),
    }
}

/// The last `limit` finished runs, newest first, from their stored rows.
fn history_feed(runs: &[RunRow], limit: usize) -> Value {
    let entries: Vec<Value> = runs
        .iter()
        .filter(|r| r.status != "running")
        .take(limit)
        .map(|r| {
            let changes: ChangeSummary =
                serde_json::from_str(&r.change_summary).unwrap_or_default();
            let ucf: serde_json::Map<String, Value> = changes
                .ucf
                .iter()
                .map(|d| (d.metric.clone(), json!(d.after)))
                .collect();
            let new_commits: u64 = changes.repos.values().map(|c| c.new_commits).sum();
            json!({"run": RunHeader::from(r), "new_commits": new_commits, "ucf": ucf})
        })
        .collect();
    json!({"schema_version": SCHEMA_VERSION, "runs": entries})
}

/// True when the feed on disk is of a run started after `run` (a late retry must not
/// move the feed backwards).
fn newest_is_newer(path: &Path, run: &RunRow) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(feed) = serde_json::from_slice::<Value>(&bytes) else {
        return false;
    };
    let at = |k: &str| {
        feed.pointer(&format!("/run/{k}"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    match (at("started_at"), at("id")) {
        (Some(started), Some(id)) => (started, id) > (millis(run.started_at), run.id.clone()),
        _ => false,
    }
}

/// Replaces `dir/latest.json` with `bytes` (the feed of `run`) unless the file on disk is of
/// a newer run; returns whether it wrote.
///
/// The comparison and the rename happen under an exclusive lock on the file `lock`, so
/// "is a newer run on disk?" and "put mine there" cannot interleave: two publish jobs of one
/// process (the lock is per open file, so threads exclude each other too), of two processes,
/// or of replicas sharing the export volume, all queue on the same lock, and whichever goes
/// last sees the other's file and keeps the newer. The lock is held only for a read and a
/// rename; the bytes are written and synced to a temporary file before it is taken. Replicas
/// that do not share the volume do not share the file either, so there is nothing to race.
pub fn write_latest_if_newest(
    dir: &Path,
    lock: &Path,
    run: &RunRow,
    bytes: &[u8],
) -> std::io::Result<bool> {
    let path = dir.join("latest.json");
    let tmp = write_temp(&path, bytes)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)?;
    lock.lock()?;
    let result = if newest_is_newer(&path, run) {
        std::fs::remove_file(&tmp).map(|()| false)
    } else {
        std::fs::rename(&tmp, &path).map(|()| true)
    };
    drop(lock);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `bytes` in a synced temporary file beside `path`, for a rename onto it.
fn write_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("feed");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::now_v7()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Tells the portal to rebuild. The URL may carry a token: it never enters an error.
async fn rebuild(cx: &PublishContext<'_>, hook: &str) -> Result<(), PublishError> {
    let body = json!({"run_id": cx.run.id, "status": cx.run.status, "feed": format!("{FEED_DIR}/latest.json")});
    let res = cx
        .deps
        .http
        .post(hook)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            PublishError::Retryable(format!("portal rebuild hook: {}", e.without_url()))
        })?;
    let status = res.status().as_u16();
    let text = format!("portal rebuild hook answered {status}");
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(PublishError::Retryable(text)),
        _ => Err(PublishError::Permanent(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, started_at: i64, status: &str) -> RunRow {
        RunRow {
            id: id.into(),
            job_id: None,
            trigger: "manual".into(),
            started_at,
            finished_at: Some(started_at + 1500),
            duration_ms: Some(1500),
            status: status.into(),
            sources: "{}".into(),
            change_summary: r#"{"repos":{},"ucf":[{"metric":"harmony","before":0.5,"after":0.6,"delta":0.1,"direction":"up"}],"agents_activated":[],"agents_deactivated":[],"task_deltas":{}}"#.into(),
            exports: "[]".into(),
            error: None,
        }
    }

    #[test]
    fn history_skips_running_runs_and_keeps_the_limit() {
        let runs = [
            row("c", 3, "running"),
            row("b", 2, "succeeded"),
            row("a", 1, "failed"),
        ];
        let h = history_feed(&runs, 1);
        let list = h["runs"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["run"]["id"], "b");
        assert_eq!(list[0]["ucf"]["harmony"], 0.6);
    }

    #[test]
    fn the_newest_run_wins_however_publishes_interleave() {
        // Publishers of runs 0..N start together, in every order the scheduler picks; the
        // feed must end on the newest run every time.
        const RUNS: i64 = 12;
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let lock = dir.path().join(FEED_LOCK);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(RUNS as usize));
            let threads: Vec<_> = (0..RUNS)
                .map(|i| {
                    let (dir, barrier) = (dir.path().to_owned(), barrier.clone());
                    let lock = lock.clone();
                    std::thread::spawn(move || {
                        let r = row(&format!("run-{i:02}"), 1_000 + i, "succeeded");
                        let feed = json!({"run": RunHeader::from(&r)}).to_string();
                        barrier.wait();
                        write_latest_if_newest(&dir, &lock, &r, feed.as_bytes()).unwrap();
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            let feed: Value =
                serde_json::from_slice(&std::fs::read(dir.path().join("latest.json")).unwrap())
                    .unwrap();
            assert_eq!(
                feed["run"]["id"],
                format!("run-{:02}", RUNS - 1),
                "round {round}"
            );
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".tmp"))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }

    #[test]
    fn an_older_run_never_replaces_a_newer_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latest.json");
        assert!(!newest_is_newer(&path, &row("a", 1, "succeeded")));
        let feed = json!({"run": RunHeader::from(&row("b", 2_000, "succeeded"))});
        write_atomic(&path, feed.to_string().as_bytes()).unwrap();
        assert!(newest_is_newer(&path, &row("a", 1_000, "succeeded")));
        assert!(!newest_is_newer(&path, &row("b", 2_000, "succeeded")));
        assert!(!newest_is_newer(&path, &row("c", 3_000, "succeeded")));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
