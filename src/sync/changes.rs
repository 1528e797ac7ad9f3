//! The change summary: what differs between the previous stored snapshot and this run's.
//!
//! Set semantics throughout: a commit is new when its sha was not in the previous snapshot,
//! an issue is opened when its number was not there, closed when it is closed now and was
//! open (or absent) before. With no previous snapshot everything present is new; that is
//! the honest answer to "what changed since we last looked". Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::snapshot::{
    AgentData, ChangeSummary, RepoChanges, RepoData, Snapshot, UcfDelta, UCF_METRICS,
};

/// Commit lines kept per repository in a summary.
const COMMIT_LINES: usize = 20;
/// Differences smaller than this are float noise, not a change.
const EPSILON: f64 = 1e-9;

pub fn summarize(prev: Option<&Snapshot>, next: &Snapshot) -> ChangeSummary {
    let empty = RepoData::default();
    let repos = next
        .repos
        .iter()
        .map(|(name, repo)| {
            let before = prev.and_then(|p| p.repos.get(name)).unwrap_or(&empty);
            (name.clone(), repo_changes(before, repo))
        })
        .collect();
    let ucf = match (prev.and_then(|p| p.ucf.as_ref()), next.ucf.as_ref()) {
        (Some(b), Some(a)) => UCF_METRICS
            .iter()
            .filter_map(|m| {
                let (before, after) = (*b.metrics.get(*m)?, *a.metrics.get(*m)?);
                let delta = after - before;
                let direction = if delta > EPSILON {
                    "up"
                } else if delta < -EPSILON {
                    "down"
                } else {
                    "same"
                };
                Some(UcfDelta {
                    metric: (*m).to_owned(),
                    before,
                    after,
                    delta: if direction == "same" {
                        0.0
                    } else {
                        round(delta)
                    },
                    direction: direction.to_owned(),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let no_agents = BTreeMap::new();
    let before_agents = prev.map(|p| &p.agents).unwrap_or(&no_agents);
    let was_active = |name: &str| {
        before_agents
            .get(name)
            .is_some_and(|a: &AgentData| a.active)
    };
    let mut summary = ChangeSummary {
        repos,
        ucf,
        ..ChangeSummary::default()
    };
    for (name, a) in &next.agents {
        if a.active && !was_active(name) {
            summary.agents_activated.push(name.clone());
        }
        if !a.active && was_active(name) {
            summary.agents_deactivated.push(name.clone());
        }
        let before = before_agents.get(name).map_or(0, |b| b.tasks_total as i64);
        let delta = a.tasks_total as i64 - before;
        if delta != 0 {
            summary.task_deltas.insert(name.clone(), delta);
        }
    }
    summary
}

fn repo_changes(before: &RepoData, after: &RepoData) -> RepoChanges {
    let mut c = RepoChanges::default();
    let old_shas: HashSet<&str> = before.commits.iter().map(|c| c.sha.as_str()).collect();
    let new_commits: Vec<_> = after
        .commits
        .iter()
        .filter(|c| !old_shas.contains(c.sha.as_str()))
        .collect();
    c.new_commits = new_commits.len() as u64;
    c.authors = new_commits
        .iter()
        .map(|c| c.author.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    c.commit_lines = new_commits
        .iter()
        .take(COMMIT_LINES)
        .map(|c| {
            let short: String = c.sha.chars().take(7).collect();
            (short, c.message.lines().next().unwrap_or("").to_owned())
        })
        .collect();

    let old_issues: BTreeMap<u64, &str> = before
        .issues
        .iter()
        .map(|i| (i.number, i.state.as_str()))
        .collect();
    for i in &after.issues {
        let was = old_issues.get(&i.number);
        if was.is_none() {
            c.issues_opened.push(i.number);
        }
        if i.state == "closed" && was.is_none_or(|s| *s != "closed") {
            c.issues_closed.push(i.number);
        }
    }
    let old_pulls: BTreeMap<u64, (&str, bool)> = before
        .pulls
        .iter()
        .map(|p| (p.number, (p.state.as_str(), p.merged_at.is_some())))
        .collect();
    for p in &after.pulls {
        let was = old_pulls.get(&p.number);
        if was.is_none() {
            c.prs_opened.push(p.number);
        }
        let newly_closed = p.state == "closed" && was.is_none_or(|(s, _)| *s != "closed");
        if p.merged_at.is_some() && was.is_none_or(|(_, merged)| !merged) {
            c.prs_merged.push(p.number);
        } else if newly_closed && p.merged_at.is_none() {
            c.prs_closed.push(p.number);
        }
    }
    let old_releases: HashSet<u64> = before.releases.iter().map(|r| r.id).collect();
    c.new_releases = after
        .releases
        .iter()
        .filter(|r| !old_releases.contains(&r.id))
        .map(|r| r.tag.clone())
        .collect();
    let old_deploys: HashSet<u64> = before.deployments.iter().map(|d| d.id).collect();
    c.new_deployments = after
        .deployments
        .iter()
        .filter(|d| !old_deploys.contains(&d.id))
        .map(|d| d.id)
        .collect();
    c
}

/// A difference of two decimal inputs without the binary noise of the subtraction
/// (`0.8 - 0.5` is `0.30000000000000004`): nine decimals is far below any metric's precision.
fn round(delta: f64) -> f64 {
    (delta * 1e9).round() / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::snapshot::{Commit, PullRequest, UcfState};
    use chrono::{DateTime, Utc};

    fn t() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn commit(sha: &str, author: &str) -> Commit {
        Commit {
            sha: sha.into(),
            message: format!("Subject {sha}\n\nbody"),
            author: author.into(),
            date: t(),
            url: String::new(),
        }
    }

    fn pull(n: u64, state: &str, merged: bool) -> PullRequest {
        PullRequest {
            number: n,
            title: String::new(),
            state: state.into(),
            author: "a".into(),
            draft: false,
            created_at: t(),
            updated_at: t(),
            closed_at: None,
            merged_at: merged.then(t),
            url: String::new(),
        }
    }

    fn ucf(h: f64, z: f64) -> UcfState {
        UcfState {
            metrics: [("harmony".to_owned(), h), ("zoom".to_owned(), z)].into(),
            status: String::new(),
            timestamp: None,
            phase: None,
            origin: "file".into(),
            extra: Default::default(),
        }
    }

    #[test]
    fn commits_prs_ucf_and_agents() {
        let mut before = Snapshot::empty(t());
        let mut after = Snapshot::empty(t());
        before.repos.insert(
            "o/r".into(),
            RepoData {
                commits: vec![commit("aaaaaaaaa", "x")],
                pulls: vec![pull(1, "open", false), pull(2, "open", false)],
                ..Default::default()
            },
        );
        after.repos.insert(
            "o/r".into(),
            RepoData {
                commits: vec![
                    commit("bbbbbbbbb", "z"),
                    commit("ccccccccc", "y"),
                    commit("aaaaaaaaa", "x"),
                ],
                pulls: vec![
                    pull(1, "closed", true),
                    pull(2, "closed", false),
                    pull(3, "open", false),
                ],
                ..Default::default()
            },
        );
        before.ucf = Some(ucf(0.5, 1.0));
        after.ucf = Some(ucf(0.75, 1.0));
        before.agents.insert(
            "Kael".into(),
            AgentData {
                active: true,
                tasks_total: 3,
                ..Default::default()
            },
        );
        after.agents.insert(
            "Kael".into(),
            AgentData {
                active: false,
                tasks_total: 5,
                ..Default::default()
            },
        );
        after.agents.insert(
            "Vega".into(),
            AgentData {
                active: true,
                ..Default::default()
            },
        );

        let s = summarize(Some(&before), &after);
        let r = &s.repos["o/r"];
        assert_eq!(r.new_commits, 2);
        assert_eq!(r.authors, ["y", "z"]);
        assert_eq!(
            r.commit_lines[0],
            ("bbbbbbb".to_owned(), "Subject bbbbbbbbb".to_owned())
        );
        assert_eq!(
            (
                r.prs_opened.clone(),
                r.prs_merged.clone(),
                r.prs_closed.clone()
            ),
            (vec![3], vec![1], vec![2])
        );
        assert_eq!(s.ucf[0].direction, "up");
        assert!((s.ucf[0].delta - 0.25).abs() < 1e-12);
        assert_eq!(round(0.8 - 0.5), 0.3, "no binary noise");
        assert_eq!(serde_json::to_string(&round(0.8 - 0.5)).unwrap(), "0.3");
        assert_eq!(
            (s.ucf[1].metric.as_str(), s.ucf[1].direction.as_str()),
            ("zoom", "same")
        );
        assert_eq!(s.agents_activated, ["Vega"]);
        assert_eq!(s.agents_deactivated, ["Kael"]);
        assert_eq!(s.task_deltas.get("Kael"), Some(&2));
        assert!(!s.is_empty());
        assert!(summarize(Some(&after), &after).is_empty());
    }
}
