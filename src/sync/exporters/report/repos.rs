//! The per-repository part of the report: stats, recent commits, open issues and pull
//! requests, releases and deployments, each list capped (see the `*_SHOWN` constants).
//! Raw text only; formats escape.

use serde::Serialize;

use super::{
    date, one_line, repo_url, COMMITS_SHOWN, DEPLOYMENTS_SHOWN, ISSUES_SHOWN, PULLS_SHOWN,
    RELEASES_SHOWN, TEXT_MAX,
};
use crate::sync::snapshot::RepoData;

#[derive(Debug, Serialize)]
pub struct RepoView<'a> {
    pub name: &'a str,
    pub url: String,
    pub description: Option<String>,
    pub stars: Option<u64>,
    pub forks: Option<u64>,
    pub default_branch: Option<&'a str>,
    pub top_language: Option<&'a str>,
    pub pushed_at: Option<String>,
    pub commits: Vec<CommitRow<'a>>,
    pub commits_total: usize,
    pub open_issues: Vec<IssueRow<'a>>,
    pub open_issues_total: usize,
    pub open_pulls: Vec<IssueRow<'a>>,
    pub open_pulls_total: usize,
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

pub(super) fn repo_view(r: &RepoData) -> RepoView<'_> {
    let stats = r.stats.as_ref();
    let open_issues: Vec<_> = r.issues.iter().filter(|i| i.state == "open").collect();
    let open_pulls: Vec<_> = r.pulls.iter().filter(|p| p.state == "open").collect();
    RepoView {
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
        commits_total: r.commits.len(),
        open_issues_total: open_issues.len(),
        open_issues: open_issues
            .iter()
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
        open_pulls_total: open_pulls.len(),
        open_pulls: open_pulls
            .iter()
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
