//! The quick numbers every target shows about a run (Discord's inline fields, the portal
//! feed's `stats`), computed once from the snapshot and change summary so the targets agree.
//! Also the one-line-per-change text rendering of a change summary. Pure; no I/O.

use serde::Serialize;

use crate::sync::exporters::report::{commit_url, compare_url, count, more_changed};
use crate::sync::snapshot::{harmony_status, ChangeSummary, Snapshot};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuickStats {
    pub github: GithubStats,
    /// `None` when the run has no UCF state.
    pub ucf: Option<UcfStats>,
    pub agents: AgentStats,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GithubStats {
    pub repos: u64,
    pub stars: u64,
    pub forks: u64,
    /// Open issues, pull requests not counted (GitHub's `open_issues_count` counts both);
    /// the same rule as the exports' "Open issues".
    pub open_issues: u64,
    pub open_pulls: u64,
    pub new_commits: u64,
    pub prs_merged: u64,
    pub new_releases: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UcfStats {
    pub harmony: Option<f64>,
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentStats {
    pub agents: u64,
    pub active: u64,
    pub tasks_total: u64,
    pub tasks_succeeded: u64,
}

impl QuickStats {
    pub fn of(snapshot: &Snapshot, changes: &ChangeSummary) -> Self {
        let mut github = GithubStats {
            repos: snapshot.repos.len() as u64,
            ..Default::default()
        };
        for repo in snapshot.repos.values() {
            if let Some(stats) = &repo.stats {
                github.stars += stats.stars;
                github.forks += stats.forks;
            }
            github.open_issues += repo.issues.iter().filter(|i| i.state == "open").count() as u64;
            github.open_pulls += repo.pulls.iter().filter(|p| p.state == "open").count() as u64;
        }
        for c in changes.repos.values() {
            github.new_commits += c.new_commits;
            github.prs_merged += c.prs_merged.len() as u64;
            github.new_releases += c.new_releases.len() as u64;
        }
        let ucf = snapshot.ucf.as_ref().map(|u| {
            let harmony = u.metrics.get("harmony").copied();
            UcfStats {
                harmony,
                status: harmony
                    .map(|h| harmony_status(h).to_owned())
                    .unwrap_or_else(|| u.status.clone()),
            }
        });
        let t = &snapshot.agent_totals;
        QuickStats {
            github,
            ucf,
            agents: AgentStats {
                agents: t.agents,
                active: t.active,
                tasks_total: t.tasks_total,
                tasks_succeeded: t.tasks_succeeded,
            },
        }
    }
}

fn numbers(prefix: &str, list: &[u64]) -> String {
    let items: Vec<String> = list.iter().map(|n| format!("#{n}")).collect();
    format!("{prefix} {}", items.join(", "))
}

/// Repositories a message spells out; the rest are counted in one line.
pub const REPOS_IN_MESSAGE: usize = 10;

/// The change summary as short Markdown lines, most important first: per repository its
/// new commits (with up to `commit_lines` of them, each linked to GitHub, and the compare
/// view), pull requests, issues and releases; then UCF movements and agent changes. Empty
/// when nothing changed. `snapshot` resolves the links.
pub fn change_lines(
    changes: &ChangeSummary,
    snapshot: &Snapshot,
    commit_lines: usize,
) -> Vec<String> {
    lines(changes, snapshot, commit_lines, usize::MAX)
}

/// [`change_lines`] for a message of at most `max_chars` characters (lines joined by
/// newlines): at most [`REPOS_IN_MESSAGE`] repositories (the busiest, the rest counted), and
/// fewer commit lines under each as the space demands, so that whole lines are dropped
/// rather than one cut in the middle. Only what still does not fit is left to the caller's
/// truncation.
pub fn change_lines_within(
    changes: &ChangeSummary,
    snapshot: &Snapshot,
    max_chars: usize,
) -> Vec<String> {
    let fits =
        |l: &[String]| l.iter().map(|s| s.chars().count() + 1).sum::<usize>() <= max_chars + 1;
    // Fewer commit lines first, then fewer repositories (the rest counted in one line).
    let attempts = [(5, REPOS_IN_MESSAGE), (1, REPOS_IN_MESSAGE)]
        .into_iter()
        .chain((1..=REPOS_IN_MESSAGE).rev().map(|repos| (0, repos)));
    let mut out = Vec::new();
    for (commit_lines, repos) in attempts {
        out = lines(changes, snapshot, commit_lines, repos);
        if fits(&out) {
            break;
        }
    }
    out
}

fn lines(
    changes: &ChangeSummary,
    snapshot: &Snapshot,
    commit_lines: usize,
    max_repos: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let (changed, left_out) = changes.changed_repos(max_repos);
    for (repo, c) in changed {
        let mut parts = Vec::new();
        if c.new_commits > 0 {
            let by = if c.authors.is_empty() {
                String::new()
            } else {
                format!(" by {}", c.authors.join(", "))
            };
            let compare = compare_url(snapshot, repo, c.new_commits)
                .map(|u| format!(" ([compare](<{u}>))"))
                .unwrap_or_default();
            parts.push(format!(
                "{}{by}{compare}",
                count(c.new_commits, "new commit")
            ));
        }
        for (label, list) in c.numbered() {
            if !list.is_empty() {
                parts.push(numbers(label, list));
            }
        }
        if !c.new_releases.is_empty() {
            parts.push(format!("released {}", c.new_releases.join(", ")));
        }
        if !c.new_deployments.is_empty() {
            parts.push(count(c.new_deployments.len() as u64, "deployment"));
        }
        out.push(format!("**{repo}**: {}", parts.join("; ")));
        for (sha, line) in c.commit_lines.iter().take(commit_lines) {
            // `<…>` keeps Discord from unfurling a preview card per commit.
            let url = commit_url(snapshot, repo, sha);
            out.push(format!("• [`{sha}`](<{url}>) {line}"));
        }
    }
    if left_out > 0 {
        out.push(format!("{}.", more_changed(left_out)));
    }
    for d in changes.ucf.iter().filter(|d| d.delta != 0.0) {
        let arrow = match d.direction.as_str() {
            "up" => "▲",
            "down" => "▼",
            _ => "=",
        };
        out.push(format!(
            "UCF {}: {:.3} → {:.3} {arrow} ({:+.3})",
            d.metric, d.before, d.after, d.delta
        ));
    }
    out.extend(changes.agent_state_lines());
    if !changes.task_deltas.is_empty() {
        let d: Vec<String> = changes
            .task_deltas
            .iter()
            .map(|(a, n)| format!("{a} {n:+}"))
            .collect();
        out.push(format!("Tasks: {}", d.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::snapshot::{RepoChanges, UcfDelta};

    #[test]
    fn lines_cover_repos_ucf_and_agents() {
        let mut c = ChangeSummary::default();
        c.repos.insert(
            "o/r".into(),
            RepoChanges {
                new_commits: 2,
                authors: vec!["ann".into()],
                commit_lines: vec![("abc1234".into(), "fix".into()), ("def".into(), "x".into())],
                prs_merged: vec![7],
                ..Default::default()
            },
        );
        c.repos.insert("o/quiet".into(), RepoChanges::default());
        c.ucf.push(UcfDelta {
            metric: "harmony".into(),
            before: 0.5,
            after: 0.75,
            delta: 0.25,
            direction: "up".into(),
        });
        c.agents_activated.push("kael".into());
        let lines = change_lines(&c, &Snapshot::empty(Default::default()), 1);
        assert_eq!(
            lines,
            [
                "**o/r**: 2 new commits by ann; PRs merged #7",
                "• [`abc1234`](<https://github.com/o/r/commit/abc1234>) fix",
                "UCF harmony: 0.500 → 0.750 ▲ (+0.250)",
                "Agents activated: kael",
            ]
        );
        assert!(change_lines(
            &ChangeSummary::default(),
            &Snapshot::empty(Default::default()),
            5
        )
        .is_empty());
    }
}
