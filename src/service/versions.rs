//! Versions: any stored run's record and the diff between any two runs, for the API
//! (`GET /api/runs/{id}`, `GET /api/runs/diff`), the CLI (`helix-sync diff`) and MCP.
//!
//! A diff is the change summary the sync cycle writes (`sync::changes::summarize`), asked of
//! two arbitrary snapshots instead of two consecutive ones: one function serves both, so "what
//! changed between A and B" reads the same as a run's own summary. Two runs are compared only
//! when their snapshots cover the same ground in the scope asked for; otherwise the answer
//! says what differs instead of reporting half the data as new.

use crate::timestamp::millis;
use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::App;
use super::{RunView, ServiceError};
use crate::store::{RunMeta, RunRow};
use crate::sync::changes::summarize;
use crate::sync::exporters::Scope;
use crate::sync::snapshot::{ChangeSummary, Snapshot};

/// A run as the diff names it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunRef {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub finished_at: Option<String>,
}

impl From<&RunRow> for RunRef {
    fn from(r: &RunRow) -> Self {
        Self {
            id: r.id.clone(),
            trigger: r.trigger.clone(),
            status: r.status.clone(),
            finished_at: r.finished_at.map(millis),
        }
    }
}

/// What changed from one run's snapshot to another's.
#[derive(Debug, Serialize)]
pub struct Diff {
    pub from: RunRef,
    pub to: RunRef,
    /// `full`, `ucf`, `agents` or `repos`: the part of the snapshots compared.
    pub scope: &'static str,
    /// The change summary from `from` to `to` (the shape of a run's `change_summary`).
    pub changes: ChangeSummary,
}

/// A run's row and its decoded snapshot: an unknown run is `NotFound` (404); a run that
/// stored no snapshot (it failed, or still runs) is `Conflict` (409) with the reason, since
/// the run exists and only its state stands in the way.
pub async fn load(app: &App, id: &str) -> Result<(RunRow, Snapshot), ServiceError> {
    let row = app
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no run {id}")))?;
    let bytes = app
        .store
        .snapshot_json(id)
        .await?
        .ok_or_else(|| no_snapshot(&row))?;
    let snapshot = serde_json::from_slice(&bytes).map_err(|e| {
        ServiceError::Conflict(format!(
            "the snapshot of run {id} does not decode with this helix-sync ({e})"
        ))
    })?;
    Ok((row, snapshot))
}

/// Why a run has no snapshot, in its own words.
fn no_snapshot(row: &RunRow) -> ServiceError {
    let why = match (row.status.as_str(), &row.error) {
        ("running", _) => "it is still running".to_owned(),
        (status, Some(e)) => format!("it {status}: {e}"),
        (status, None) => format!("it {status} without storing one"),
    };
    ServiceError::Conflict(format!("run {} has no snapshot: {why}", row.id))
}

/// The change summary from run `from` to run `to`, over `scope`.
pub async fn diff(app: &App, from: &str, to: &str, scope: Scope) -> Result<Diff, ServiceError> {
    let (from_row, mut a) = load(app, from).await?;
    let (to_row, mut b) = load(app, to).await?;
    comparable(&from_row.id, &a, &to_row.id, &b, scope)?;
    for s in [&mut a, &mut b] {
        narrow(s, scope);
    }
    Ok(Diff {
        from: (&from_row).into(),
        to: (&to_row).into(),
        scope: scope.as_str(),
        changes: summarize(Some(&a), &b),
    })
}

/// Drops what `scope` leaves out, so neither side reports it.
fn narrow(s: &mut Snapshot, scope: Scope) {
    if !scope.has_repos() {
        s.repos.clear();
    }
    if !scope.has_ucf() {
        s.ucf = None;
    }
    if !scope.has_agents() {
        s.agents.clear();
    }
}

/// Refuses, with the reason, a diff whose two sides cover different ground in `scope`.
fn comparable(
    a_id: &str,
    a: &Snapshot,
    b_id: &str,
    b: &Snapshot,
    scope: Scope,
) -> Result<(), ServiceError> {
    let refuse = |m: String| Err(ServiceError::BadRequest(m));
    if a.schema_version != b.schema_version {
        return refuse(format!(
            "runs {a_id} and {b_id} have snapshots of different schema versions ({} and {}): \
             they describe the data differently and are not compared",
            a.schema_version, b.schema_version
        ));
    }
    if scope.has_repos() {
        let names = |s: &Snapshot| s.repos.keys().cloned().collect::<BTreeSet<_>>();
        let (ra, rb) = (names(a), names(b));
        if ra != rb {
            let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
                let v: Vec<_> = x.difference(y).cloned().collect();
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join(", ")
                }
            };
            return refuse(format!(
                "runs {a_id} and {b_id} cover different repositories (only in {a_id}: {}; only in \
                 {b_id}: {}): a diff would report every item of one as new and hide the other's. \
                 Compare runs that track the same repositories, or pass scope=ucf or scope=agents",
                only(&ra, &rb),
                only(&rb, &ra)
            ));
        }
    }
    let side = |has: bool, what: &str| -> Result<(), ServiceError> {
        if has {
            return Ok(());
        }
        let (with, without) = if what == "UCF state" {
            if a.ucf.is_some() {
                (a_id, b_id)
            } else {
                (b_id, a_id)
            }
        } else if a.agents.is_empty() {
            (b_id, a_id)
        } else {
            (a_id, b_id)
        };
        refuse(format!(
            "run {with} has {what} and run {without} has none (that source was off or had not \
             run yet): there is nothing to compare it with. Pass a scope without it (full, ucf, \
             agents, repos)"
        ))
    };
    if scope.has_ucf() {
        side(a.ucf.is_some() == b.ucf.is_some(), "UCF state")?;
    }
    if scope.has_agents() {
        side(a.agents.is_empty() == b.agents.is_empty(), "agents")?;
    }
    Ok(())
}

/// A run as the API and the console read it: the history view plus its rollback facts, and
/// the Notion conflicts its delivery flagged inside its change summary (`conflicts`).
#[derive(Debug, Serialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub run: RunView,
    /// Set on a rollback run: `{to, from, by}`.
    pub rollback: Option<Value>,
}

pub async fn record(app: &App, id: &str) -> Result<RunRecord, ServiceError> {
    let row = app
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no run {id}")))?;
    let meta = app.store.run_meta(id).await?.unwrap_or_default();
    Ok(view(row, &meta))
}

/// Joins a run row and its meta into the record view.
pub fn view(row: RunRow, meta: &RunMeta) -> RunRecord {
    let mut run: RunView = row.into();
    let conflicts = meta
        .conflicts
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()));
    if let (Some(c), Some(summary)) = (conflicts, run.change_summary.as_object_mut()) {
        summary.insert("conflicts".into(), c);
    }
    let rollback = meta.rollback_to.as_ref().map(
        |to| serde_json::json!({"to": to, "from": meta.rollback_from, "by": meta.requested_by}),
    );
    RunRecord { run, rollback }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::snapshot::RepoData;

    fn snap(repos: &[&str]) -> Snapshot {
        let mut s = Snapshot::empty("2026-01-01T00:00:00Z".parse().unwrap());
        for r in repos {
            s.repos.insert((*r).into(), RepoData::default());
        }
        s
    }

    #[test]
    fn different_repositories_are_explained_unless_the_scope_leaves_them_out() {
        let (a, b) = (snap(&["o/a", "o/b"]), snap(&["o/a", "o/c"]));
        let err = comparable("A", &a, "B", &b, Scope::Full).unwrap_err();
        let m = err.to_string();
        assert!(
            m.contains("only in A: o/b") && m.contains("only in B: o/c"),
            "{m}"
        );
        assert!(comparable("A", &a, "B", &b, Scope::Agents).is_ok());
        let mut c = snap(&["o/a", "o/b"]);
        c.schema_version += 1;
        assert!(comparable("A", &a, "C", &c, Scope::Ucf)
            .unwrap_err()
            .to_string()
            .contains("schema versions"));
    }
}
