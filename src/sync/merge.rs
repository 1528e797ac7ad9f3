//! Merging what the sources fetched into the previous snapshot.
//!
//! Sources fetch incrementally, so a run's snapshot is the previous one with the fetched
//! items upserted (by sha, number or id) and re-sorted into the documented order. What a run
//! did not fetch (a 304, a failed or skipped source, other repositories of a repository-scoped
//! sync) is carried over unchanged. Pure: no I/O, the same inputs give the same snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::snapshot::{
    AgentData, AgentTotals, RepoData, Snapshot, SourceStatus, UcfState, RECENT_COMMITS,
    SCHEMA_VERSION,
};
use super::sources::github::RepoFetch;

/// Which repositories the new snapshot holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoSet {
    /// Exactly these (a full sync: repositories no longer configured are dropped).
    Exactly(Vec<String>),
    /// The previous ones plus whatever was fetched (a repository-scoped or github-less sync).
    Previous,
}

/// Everything one run collected.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub repos: BTreeMap<String, RepoFetch>,
    pub ucf: Option<UcfState>,
    pub agents: Option<(BTreeMap<String, AgentData>, AgentTotals)>,
    pub sources: BTreeMap<String, SourceStatus>,
}

pub fn merge(
    prev: Option<&Snapshot>,
    collected: Collected,
    repo_set: &RepoSet,
    taken_at: DateTime<Utc>,
) -> Snapshot {
    let mut repos: BTreeMap<String, RepoData> = match repo_set {
        RepoSet::Exactly(names) => names
            .iter()
            .filter_map(|n| Some((n.clone(), prev?.repos.get(n)?.clone())))
            .collect(),
        RepoSet::Previous => prev.map(|p| p.repos.clone()).unwrap_or_default(),
    };
    for (name, fetch) in collected.repos {
        let wanted = match repo_set {
            RepoSet::Exactly(names) => names.contains(&name),
            RepoSet::Previous => true,
        };
        if !wanted || (!repos.contains_key(&name) && fetch_is_empty(&fetch)) {
            continue;
        }
        let repo = repos.entry(name.clone()).or_insert_with(|| RepoData {
            full_name: name,
            ..RepoData::default()
        });
        merge_repo(repo, fetch);
    }
    let (agents, agent_totals) = match (collected.agents, prev) {
        (Some(a), _) => a,
        (None, Some(p)) => (p.agents.clone(), p.agent_totals.clone()),
        (None, None) => Default::default(),
    };
    Snapshot {
        schema_version: SCHEMA_VERSION,
        taken_at,
        repos,
        ucf: collected.ucf.or_else(|| prev.and_then(|p| p.ucf.clone())),
        agents,
        agent_totals,
        sources: collected.sources,
    }
}

fn fetch_is_empty(f: &RepoFetch) -> bool {
    f.stats.is_none()
        && f.commits.is_none()
        && f.issues.is_none()
        && f.pulls.is_none()
        && f.releases.is_none()
        && f.deployments.is_none()
}

fn merge_repo(repo: &mut RepoData, f: RepoFetch) {
    if let Some(stats) = f.stats {
        repo.stats = Some(stats);
    }
    if let Some(new) = f.commits {
        upsert(&mut repo.commits, new, |c| c.sha.clone());
        repo.commits
            .sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.sha.cmp(&b.sha)));
        repo.commits.truncate(RECENT_COMMITS);
    }
    if let Some(new) = f.issues {
        upsert(&mut repo.issues, new, |i| i.number);
        repo.issues.sort_by_key(|i| std::cmp::Reverse(i.number));
    }
    if let Some(new) = f.pulls {
        upsert(&mut repo.pulls, new, |p| p.number);
        repo.pulls.sort_by_key(|p| std::cmp::Reverse(p.number));
    }
    if let Some(new) = f.releases {
        upsert(&mut repo.releases, new, |r| r.id);
        repo.releases
            .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    }
    if let Some(mut new) = f.deployments {
        // The list carries no state; keep what a webhook told an earlier run.
        for d in &mut new {
            if d.state.is_none() {
                d.state = repo
                    .deployments
                    .iter()
                    .find(|old| old.id == d.id)
                    .and_then(|old| old.state.clone());
            }
        }
        upsert(&mut repo.deployments, new, |d| d.id);
        repo.deployments
            .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    }
    for d in &mut repo.deployments {
        if let Some(state) = f.deployment_states.get(&d.id) {
            d.state = Some(state.clone());
        }
    }
}

/// Replaces items with the same key and adds the rest (order is restored by the caller).
fn upsert<T, K: Ord>(items: &mut Vec<T>, new: Vec<T>, key: impl Fn(&T) -> K) {
    let mut by_key: BTreeMap<K, T> = items.drain(..).map(|i| (key(&i), i)).collect();
    for n in new {
        by_key.insert(key(&n), n);
    }
    items.extend(by_key.into_values());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::snapshot::{Commit, Deployment, Issue};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn commit(sha: &str, day: u32) -> Commit {
        Commit {
            sha: sha.into(),
            message: format!("commit {sha}"),
            author: "a".into(),
            date: t(&format!("2026-01-{day:02}T00:00:00Z")),
            url: String::new(),
        }
    }

    fn issue(n: u64, state: &str) -> Issue {
        Issue {
            number: n,
            title: format!("#{n}"),
            state: state.into(),
            author: "a".into(),
            labels: vec![],
            created_at: t("2026-01-01T00:00:00Z"),
            updated_at: t("2026-01-01T00:00:00Z"),
            closed_at: None,
            url: String::new(),
        }
    }

    fn prev() -> Snapshot {
        let mut s = Snapshot::empty(t("2026-01-01T00:00:00Z"));
        s.repos.insert(
            "o/a".into(),
            RepoData {
                full_name: "o/a".into(),
                commits: vec![commit("c2", 2), commit("c1", 1)],
                issues: vec![issue(2, "open"), issue(1, "open")],
                ..Default::default()
            },
        );
        s.repos.insert(
            "o/gone".into(),
            RepoData {
                full_name: "o/gone".into(),
                ..Default::default()
            },
        );
        s
    }

    #[test]
    fn upserts_sorts_and_keeps_what_was_not_fetched() {
        let mut c = Collected::default();
        c.repos.insert(
            "o/a".into(),
            RepoFetch {
                commits: Some(vec![commit("c3", 3), commit("c2", 2)]),
                issues: Some(vec![issue(1, "closed"), issue(3, "open")]),
                ..Default::default()
            },
        );
        let set = RepoSet::Exactly(vec!["o/a".into()]);
        let s = merge(Some(&prev()), c, &set, t("2026-01-05T00:00:00Z"));
        let a = &s.repos["o/a"];
        let shas: Vec<_> = a.commits.iter().map(|c| c.sha.as_str()).collect();
        assert_eq!(shas, ["c3", "c2", "c1"]);
        let issues: Vec<_> = a
            .issues
            .iter()
            .map(|i| (i.number, i.state.as_str()))
            .collect();
        assert_eq!(issues, [(3, "open"), (2, "open"), (1, "closed")]);
        assert!(
            !s.repos.contains_key("o/gone"),
            "unconfigured repos are dropped"
        );
        let kept = merge(
            Some(&prev()),
            Collected::default(),
            &RepoSet::Previous,
            t("2026-01-05T00:00:00Z"),
        );
        assert_eq!(kept.repos, prev().repos);
    }

    #[test]
    fn commits_are_capped_newest_first() {
        let many: Vec<Commit> = (0..RECENT_COMMITS + 5)
            .map(|i| Commit {
                date: t("2026-01-01T00:00:00Z") + chrono::Duration::seconds(i as i64),
                ..commit(&format!("s{i}"), 1)
            })
            .collect();
        let mut c = Collected::default();
        c.repos.insert(
            "o/b".into(),
            RepoFetch {
                commits: Some(many),
                ..Default::default()
            },
        );
        let s = merge(None, c, &RepoSet::Previous, t("2026-01-05T00:00:00Z"));
        let commits = &s.repos["o/b"].commits;
        assert_eq!(commits.len(), RECENT_COMMITS);
        assert_eq!(commits[0].sha, format!("s{}", RECENT_COMMITS + 4));
    }

    #[test]
    fn deployment_state_survives_a_refetch_and_webhooks_update_it() {
        let d = |state: Option<&str>| Deployment {
            id: 9,
            environment: "prod".into(),
            git_ref: "main".into(),
            sha: "x".into(),
            creator: "a".into(),
            state: state.map(String::from),
            created_at: t("2026-01-01T00:00:00Z"),
            updated_at: t("2026-01-01T00:00:00Z"),
            url: String::new(),
        };
        let mut repo = RepoData {
            deployments: vec![d(Some("success"))],
            ..Default::default()
        };
        merge_repo(
            &mut repo,
            RepoFetch {
                deployments: Some(vec![d(None)]),
                ..Default::default()
            },
        );
        assert_eq!(repo.deployments[0].state.as_deref(), Some("success"));
        let mut f = RepoFetch::default();
        f.deployment_states.insert(9, "failure".into());
        merge_repo(&mut repo, f);
        assert_eq!(repo.deployments[0].state.as_deref(), Some("failure"));
    }
}
