//! What a repository sync's own webhook events already tell us, so we need not ask.
//!
//! A push to the default branch lists its commits: they stand in for the commits request.
//! That is only safe when the list is complete, so a forced push, a push whose list may be
//! truncated (GitHub sends at most 2048 commits) or a payload we cannot read makes us fall
//! back to the API. The commits cursor does not move for push-fed commits: the next full
//! sync re-checks the list with its own ETag, so nothing can be skipped.
//! `deployment_status` events give the latest state of a deployment, which the list lacks.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::resources::parse_time;
use crate::store::EventRow;
use crate::sync::snapshot::Commit;

/// GitHub's cap on the commits listed in one push payload.
const PUSH_COMMIT_CAP: usize = 2048;

#[derive(Debug, Default, PartialEq)]
pub struct FromEvents {
    /// Commits pushed to the default branch; `Some` replaces the commits request.
    pub commits: Option<Vec<Commit>>,
    /// Latest state per deployment id.
    pub deployment_states: BTreeMap<u64, String>,
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    forced: bool,
    repository: PushRepo,
    #[serde(default)]
    commits: Vec<PushCommit>,
}

#[derive(Deserialize)]
struct PushRepo {
    default_branch: String,
}

#[derive(Deserialize)]
struct PushCommit {
    id: String,
    message: String,
    timestamp: String,
    url: String,
    author: PushAuthor,
}

#[derive(Deserialize)]
struct PushAuthor {
    name: Option<String>,
    username: Option<String>,
}

/// The App installation the job's webhook events came through (`installation.id`, which an
/// organisation-level webhook of a GitHub App carries): the token that reads the repository.
pub fn installation(events: &[EventRow]) -> Option<u64> {
    events
        .iter()
        .rev()
        .filter(|e| e.source == "github")
        .find_map(|e| {
            serde_json::from_str::<Value>(&e.payload).ok()?["installation"]["id"].as_u64()
        })
}

/// Reads the events of a job (oldest first) for `repo`.
pub fn from_events(repo: &str, events: &[EventRow]) -> FromEvents {
    let mine = |e: &&EventRow| {
        e.source == "github"
            && e.repo
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(repo))
    };
    let mut out = FromEvents::default();
    let pushes: Vec<&EventRow> = events
        .iter()
        .filter(mine)
        .filter(|e| e.event_type == "push")
        .collect();
    if !pushes.is_empty() {
        out.commits = pushes
            .iter()
            .map(|e| push_commits(&e.payload))
            .collect::<Option<Vec<_>>>()
            .map(|lists| lists.into_iter().flatten().collect());
    }
    for e in events
        .iter()
        .filter(mine)
        .filter(|e| e.event_type == "deployment_status")
    {
        let Ok(v) = serde_json::from_str::<Value>(&e.payload) else {
            continue;
        };
        let id = v.pointer("/deployment/id").and_then(Value::as_u64);
        let state = v
            .pointer("/deployment_status/state")
            .and_then(Value::as_str);
        if let (Some(id), Some(state)) = (id, state) {
            out.deployment_states.insert(id, state.to_owned());
        }
    }
    out
}

/// The default-branch commits of one push; `None` when the payload cannot be trusted.
fn push_commits(payload: &str) -> Option<Vec<Commit>> {
    let p: Push = serde_json::from_str(payload).ok()?;
    if p.forced || p.commits.len() >= PUSH_COMMIT_CAP {
        return None;
    }
    if p.git_ref != format!("refs/heads/{}", p.repository.default_branch) {
        return Some(Vec::new());
    }
    p.commits
        .into_iter()
        .map(|c| {
            Some(Commit {
                date: parse_time(&c.timestamp)?,
                author: c.author.username.or(c.author.name).unwrap_or_default(),
                sha: c.id,
                message: c.message,
                url: c.url,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, payload: Value) -> EventRow {
        EventRow {
            id: "e".into(),
            source: "github".into(),
            delivery_id: "d".into(),
            event_type: kind.into(),
            hook_id: None,
            repo: Some("o/r".into()),
            headers: "{}".into(),
            payload: payload.to_string(),
            received_at: 0,
            job_id: None,
        }
    }

    fn push(branch: &str, forced: bool) -> Value {
        json!({"ref": format!("refs/heads/{branch}"), "forced": forced,
               "repository": {"full_name": "o/r", "default_branch": "main"},
               "commits": [{"id": "abc", "message": "Add x", "timestamp": "2026-11-20T10:00:00-08:00",
                            "url": "https://github.com/o/r/commit/abc",
                            "author": {"name": "Octo Cat", "username": "octocat"}}]})
    }

    #[test]
    fn default_branch_pushes_give_commits() {
        let f = from_events(
            "O/R",
            &[
                event("push", push("main", false)),
                event("push", push("dev", false)),
            ],
        );
        let commits = f.commits.unwrap();
        assert_eq!(commits.len(), 1);
        assert_eq!(commits[0].author, "octocat");
        assert_eq!(commits[0].date.to_rfc3339(), "2026-11-20T18:00:00+00:00");
    }

    #[test]
    fn untrustworthy_pushes_fall_back_to_the_api() {
        assert_eq!(
            from_events("o/r", &[event("push", push("main", true))]).commits,
            None
        );
        assert_eq!(
            from_events("o/r", &[event("push", json!({"ref": 1}))]).commits,
            None
        );
        assert_eq!(
            from_events("o/r", &[event("issues", json!({}))]).commits,
            None
        );
        assert_eq!(
            from_events("x/y", &[event("push", push("main", false))]).commits,
            None
        );
    }

    #[test]
    fn deployment_statuses_keep_the_latest() {
        let s = |state: &str| {
            event(
                "deployment_status",
                json!({"deployment": {"id": 7}, "deployment_status": {"state": state}}),
            )
        };
        let f = from_events("o/r", &[s("pending"), s("success")]);
        assert_eq!(f.deployment_states[&7], "success");
    }
}
