//! The change-summary part of the report: what changed since the previous run, with every
//! issue, pull request and commit resolved to a link (from the snapshot when it knows the
//! item, else built from the repository URL). Raw text only; formats escape.

use serde::Serialize;

use super::{count, number, one_line, repo_url, signed, TEXT_MAX};
use crate::sync::exporters::ExportInput;
use crate::sync::snapshot::Snapshot;

/// Repositories whose changes a report spells out; past this, the busiest are shown (most
/// new commits and events, then the name) and the rest counted. The JSON export has all.
pub const CHANGED_REPOS_SHOWN: usize = 25;

#[derive(Debug, Default, Serialize)]
pub struct ChangesView<'a> {
    pub empty: bool,
    /// The changed repositories spelt out, in name order (at most [`CHANGED_REPOS_SHOWN`]).
    pub repos: Vec<RepoChangeView<'a>>,
    /// Changed repositories left out of `repos`.
    pub more_repos: usize,
    /// The sentence that counts them (empty when none is left out).
    pub more_note: String,
    pub ucf: Vec<UcfDeltaRow<'a>>,
    pub activated: &'a [String],
    pub deactivated: &'a [String],
    /// `(agent, "+3")`.
    pub task_deltas: Vec<(&'a str, String)>,
}

#[derive(Debug, Serialize)]
pub struct RepoChangeView<'a> {
    pub repo: &'a str,
    pub new_commits: u64,
    /// `1 new commit`, `3 new commits`.
    pub new_commits_text: String,
    pub authors: String,
    pub commits: Vec<Link>,
    /// GitHub's compare view of the new commits, when the previous head is known.
    pub compare: Option<String>,
    /// `(what, links)`, e.g. `("Issues opened", [#12])`; empty groups left out.
    pub refs: Vec<(&'static str, Vec<Link>)>,
    pub releases: &'a [String],
    pub deployments: &'a [u64],
}

/// A reference to something on GitHub: `label` (`#12`, `abc1234`), optional text and URL.
#[derive(Debug, Serialize)]
pub struct Link {
    pub label: String,
    pub text: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct UcfDeltaRow<'a> {
    pub metric: &'a str,
    pub before: String,
    pub after: String,
    pub delta: String,
    pub direction: &'a str,
}

/// `…and 3 more repositories changed` (after a list cut to the busiest).
pub fn more_changed(n: usize) -> String {
    match n {
        1 => "…and 1 more repository changed".into(),
        n => format!("…and {n} more repositories changed"),
    }
}

/// The repository's web URL: from the snapshot, else github.com.
fn base_url(snapshot: &Snapshot, repo: &str) -> String {
    snapshot
        .repos
        .get(repo)
        .map(repo_url)
        .unwrap_or_else(|| format!("https://github.com/{repo}"))
}

/// The GitHub page of commit `sha` (short or full) of `repo`: the snapshot's own URL for it
/// when the snapshot has the commit, else built from the repository URL.
pub fn commit_url(snapshot: &Snapshot, repo: &str, sha: &str) -> String {
    snapshot
        .repos
        .get(repo)
        .and_then(|d| d.commits.iter().find(|c| c.sha.starts_with(sha)))
        .map_or_else(
            || format!("{}/commit/{sha}", base_url(snapshot, repo)),
            |c| c.url.clone(),
        )
}

/// GitHub's compare view from the head before the `new_commits` newest commits to the
/// newest one; `None` when the snapshot does not reach back that far.
pub fn compare_url(snapshot: &Snapshot, repo: &str, new_commits: u64) -> Option<String> {
    let commits = &snapshot.repos.get(repo)?.commits;
    let n = usize::try_from(new_commits).ok().filter(|n| *n > 0)?;
    let (before, head) = (commits.get(n)?, commits.first()?);
    Some(format!(
        "{}/compare/{}...{}",
        base_url(snapshot, repo),
        before.sha,
        head.sha
    ))
}

pub(super) fn changes_view<'a>(input: &ExportInput<'a>) -> ChangesView<'a> {
    let c = input.changes;
    let (changed, more_repos) = c.changed_repos(CHANGED_REPOS_SHOWN);
    let repos = changed
        .into_iter()
        .map(|(name, rc)| {
            let data = input.snapshot.repos.get(name);
            let base = data
                .map(repo_url)
                .unwrap_or_else(|| format!("https://github.com/{name}"));
            let issue_url = |n: u64| {
                data.and_then(|d| d.issues.iter().find(|i| i.number == n))
                    .map_or_else(|| format!("{base}/issues/{n}"), |i| i.url.clone())
            };
            let pull_url = |n: u64| {
                data.and_then(|d| d.pulls.iter().find(|p| p.number == n))
                    .map_or_else(|| format!("{base}/pull/{n}"), |p| p.url.clone())
            };
            let links = |ns: &[u64], url: &dyn Fn(u64) -> String| -> Vec<Link> {
                ns.iter()
                    .map(|n| Link {
                        label: format!("#{n}"),
                        text: String::new(),
                        url: url(*n),
                    })
                    .collect()
            };
            let refs = [
                ("Issues opened", links(&rc.issues_opened, &issue_url)),
                ("Issues closed", links(&rc.issues_closed, &issue_url)),
                ("Pull requests opened", links(&rc.prs_opened, &pull_url)),
                ("Pull requests merged", links(&rc.prs_merged, &pull_url)),
                ("Pull requests closed", links(&rc.prs_closed, &pull_url)),
            ]
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .collect();
            let commits = rc
                .commit_lines
                .iter()
                .map(|(short, line)| Link {
                    label: short.clone(),
                    text: one_line(line, TEXT_MAX),
                    url: commit_url(input.snapshot, name, short),
                })
                .collect();
            RepoChangeView {
                repo: name,
                new_commits: rc.new_commits,
                new_commits_text: count(rc.new_commits, "new commit"),
                compare: compare_url(input.snapshot, name, rc.new_commits),
                authors: rc.authors.join(", "),
                commits,
                refs,
                releases: &rc.new_releases,
                deployments: &rc.new_deployments,
            }
        })
        .collect();
    ChangesView {
        empty: c.is_empty(),
        repos,
        more_repos,
        more_note: match more_repos {
            0 => String::new(),
            n => format!("{}; the JSON export lists every change.", more_changed(n)),
        },
        ucf: c
            .ucf
            .iter()
            .map(|d| UcfDeltaRow {
                metric: &d.metric,
                before: number(d.before),
                after: number(d.after),
                delta: signed(d.delta),
                direction: &d.direction,
            })
            .collect(),
        activated: &c.agents_activated,
        deactivated: &c.agents_deactivated,
        task_deltas: c
            .task_deltas
            .iter()
            .map(|(k, v)| (k.as_str(), format!("{v:+}")))
            .collect(),
    }
}
