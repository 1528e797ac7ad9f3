//! The per-repository part of the report: an index of every repository (one line each) and
//! a section per repository — stats, recent commits, open issues and pull requests, releases
//! and deployments, each list capped (see the `*_SHOWN` constants).
//!
//! A whole organisation is hundreds of repositories, and 500 sections is a report nobody
//! reads (and a Notion page of thousands of blocks). Past [`REPOS_IN_FULL`] repositories only
//! the most active get a section; every one keeps its line in the index, with its link and
//! counts. Sections are built only for those (a large snapshot's lists are never copied).
//! Raw text only; formats escape.

use serde::Serialize;

use super::{
    date, one_line, repo_url, COMMITS_SHOWN, DEPLOYMENTS_SHOWN, ISSUES_SHOWN, PULLS_SHOWN,
    RELEASES_SHOWN, TEXT_MAX,
};
use crate::sync::exporters::ExportInput;
use crate::sync::snapshot::{Issue, PullRequest, RepoData};

/// Past this many repositories a report opens its repository part with an index of all of
/// them and gives a section only to this many of the most active (new commits in this run,
/// then the latest push, then the name). The JSON export details every one.
pub const REPOS_IN_FULL: usize = 25;

/// One repository in a line: what the index shows and what a section opens with.
#[derive(Debug, Serialize)]
pub struct RepoSummary<'a> {
    pub name: &'a str,
    pub url: String,
    pub description: Option<String>,
    pub stars: Option<u64>,
    pub forks: Option<u64>,
    pub default_branch: Option<&'a str>,
    pub top_language: Option<&'a str>,
    pub pushed_at: Option<String>,
    /// New commits recorded by this run.
    pub new_commits: u64,
    pub commits_total: usize,
    pub open_issues_total: usize,
    pub open_pulls_total: usize,
    /// Whether the report has a section for it.
    pub detailed: bool,
}

/// A repository's section.
#[derive(Debug, Serialize)]
pub struct RepoView<'a> {
    #[serde(flatten)]
    pub about: RepoSummary<'a>,
    pub commits: Vec<CommitRow<'a>>,
    pub open_issues: Vec<IssueRow<'a>>,
    pub open_pulls: Vec<IssueRow<'a>>,
    pub releases: Vec<ReleaseRow<'a>>,
    pub releases_total: usize,
    pub deployments: Vec<DeploymentRow<'a>>,
    pub deployments_total: usize,
}

#[derive(Debug, Serialize)]
pub struct CommitRow<'a> {
    pub short: &'a str,
    pub message: String,
    pub author: &'a str,
    pub date: String,
    /// Sortable form of `date`.
    pub stamp: i64,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct IssueRow<'a> {
    pub number: u64,
    pub title: String,
    pub author: &'a str,
    pub labels: String,
    pub draft: bool,
    pub updated: String,
    pub stamp: i64,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ReleaseRow<'a> {
    pub tag: &'a str,
    pub name: String,
    pub kind: &'static str,
    pub published: String,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DeploymentRow<'a> {
    pub id: u64,
    pub environment: &'a str,
    pub git_ref: &'a str,
    pub sha: &'a str,
    pub creator: &'a str,
    pub state: &'a str,
    pub created: String,
    pub url: &'a str,
}

/// The repositories of `input`: the index (every one, in name order) and the sections (all
/// of them up to [`REPOS_IN_FULL`], else the most active; in name order too).
pub(super) fn repos_part<'a>(input: &ExportInput<'a>) -> (Vec<RepoSummary<'a>>, Vec<RepoView<'a>>) {
    let repos = &input.snapshot.repos;
    let new_commits = |name: &str| input.changes.repos.get(name).map_or(0, |c| c.new_commits);
    let detailed: std::collections::BTreeSet<&str> = if repos.len() <= REPOS_IN_FULL {
        repos.keys().map(String::as_str).collect()
    } else {
        let pushed = |r: &RepoData| r.stats.as_ref().and_then(|s| s.pushed_at);
        let mut ranked: Vec<&RepoData> = repos.values().collect();
        // Most new commits, then the latest push, then the name: one order on every machine.
        ranked.sort_by(|a, b| {
            (new_commits(&b.full_name).cmp(&new_commits(&a.full_name)))
                .then(pushed(b).cmp(&pushed(a)))
                .then(a.full_name.cmp(&b.full_name))
        });
        ranked
            .into_iter()
            .take(REPOS_IN_FULL)
            .map(|r| r.full_name.as_str())
            .collect()
    };
    let summary = |r: &'a RepoData| {
        summarise(
            r,
            new_commits(&r.full_name),
            detailed.contains(r.full_name.as_str()),
        )
    };
    let index = repos.values().map(summary).collect();
    let sections = repos
        .values()
        .filter(|r| detailed.contains(r.full_name.as_str()))
        .map(|r| repo_view(summary(r), r))
        .collect();
    (index, sections)
}

/// What the index is, said the same way by every format; empty when there is no index.
pub(super) fn index_note(listed: usize, detailed: usize) -> String {
    if listed <= REPOS_IN_FULL {
        return String::new();
    }
    format!(
        "{listed} repositories, each listed here; the {detailed} most active (new commits in \
         this run, then the latest push), marked ▸, have a section below. The JSON export \
         details every repository."
    )
}

/// The mark of a repository with a section, in the index.
pub const DETAILED_MARK: &str = "▸ ";

fn summarise(r: &RepoData, new_commits: u64, detailed: bool) -> RepoSummary<'_> {
    let stats = r.stats.as_ref();
    RepoSummary {
        name: &r.full_name,
        url: repo_url(r),
        description: stats
            .and_then(|s| s.description.as_deref())
            .map(|d| one_line(d, TEXT_MAX)),
        stars: stats.map(|s| s.stars),
        forks: stats.map(|s| s.forks),
        default_branch: stats.map(|s| s.default_branch.as_str()),
        top_language: stats.and_then(|s| {
            s.languages
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(l, _)| l.as_str())
        }),
        pushed_at: stats.and_then(|s| s.pushed_at.as_ref()).map(date),
        new_commits,
        commits_total: r.commits.len(),
        open_issues_total: open_issues(r).count(),
        open_pulls_total: open_pulls(r).count(),
        detailed,
    }
}

fn open_issues(r: &RepoData) -> impl Iterator<Item = &Issue> {
    r.issues.iter().filter(|i| i.state == "open")
}

fn open_pulls(r: &RepoData) -> impl Iterator<Item = &PullRequest> {
    r.pulls.iter().filter(|p| p.state == "open")
}

fn repo_view<'a>(about: RepoSummary<'a>, r: &'a RepoData) -> RepoView<'a> {
    RepoView {
        about,
        commits: r
            .commits
            .iter()
            .take(COMMITS_SHOWN)
            .map(|c| CommitRow {
                short: c.sha.get(..7).unwrap_or(&c.sha),
                message: one_line(&c.message, TEXT_MAX),
                author: &c.author,
                date: date(&c.date),
                stamp: c.date.timestamp(),
                url: &c.url,
            })
            .collect(),
        open_issues: open_issues(r)
            .take(ISSUES_SHOWN)
            .map(|i| IssueRow {
                number: i.number,
                title: one_line(&i.title, TEXT_MAX),
                author: &i.author,
                labels: i.labels.join(", "),
                draft: false,
                updated: date(&i.updated_at),
                stamp: i.updated_at.timestamp(),
                url: &i.url,
            })
            .collect(),
        open_pulls: open_pulls(r)
            .take(PULLS_SHOWN)
            .map(|p| IssueRow {
                number: p.number,
                title: one_line(&p.title, TEXT_MAX),
                author: &p.author,
                labels: String::new(),
                draft: p.draft,
                updated: date(&p.updated_at),
                stamp: p.updated_at.timestamp(),
                url: &p.url,
            })
            .collect(),
        releases_total: r.releases.len(),
        releases: r
            .releases
            .iter()
            .take(RELEASES_SHOWN)
            .map(|x| ReleaseRow {
                tag: &x.tag,
                name: one_line(&x.name, TEXT_MAX),
                kind: match (x.draft, x.prerelease) {
                    (true, _) => "draft",
                    (_, true) => "pre-release",
                    _ => "release",
                },
                published: date(x.published_at.as_ref().unwrap_or(&x.created_at)),
                url: &x.url,
            })
            .collect(),
        deployments_total: r.deployments.len(),
        deployments: r
            .deployments
            .iter()
            .take(DEPLOYMENTS_SHOWN)
            .map(|d| DeploymentRow {
                id: d.id,
                environment: &d.environment,
                git_ref: &d.git_ref,
                sha: d.sha.get(..7).unwrap_or(&d.sha),
                creator: &d.creator,
                state: d.state.as_deref().unwrap_or("unknown"),
                created: date(&d.created_at),
                url: &d.url,
            })
            .collect(),
    }
}
