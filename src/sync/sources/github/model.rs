//! GitHub's JSON shapes and their conversion into the snapshot's types.
//!
//! Only the fields we keep are declared (serde ignores the rest, so GitHub adding fields
//! never breaks a sync); a missing required field is a decode error naming the resource.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::client::GithubError;
use crate::sync::snapshot::{Commit, Deployment, Issue, PullRequest, Release, RepoStats};

/// Decodes one list endpoint's items; issues drop the pull requests GitHub lists with them.
pub(super) fn commits(what: &str, items: Vec<Value>) -> Result<Vec<Commit>, GithubError> {
    convert(what, items, commit)
}

pub(super) fn issues(what: &str, items: Vec<Value>) -> Result<Vec<Issue>, GithubError> {
    let items = items
        .into_iter()
        .filter(|v| v.get("pull_request").is_none())
        .collect();
    convert(what, items, issue)
}

pub(super) fn pulls(what: &str, items: Vec<Value>) -> Result<Vec<PullRequest>, GithubError> {
    convert(what, items, pull)
}

pub(super) fn releases(what: &str, items: Vec<Value>) -> Result<Vec<Release>, GithubError> {
    convert(what, items, release)
}

pub(super) fn deployments(what: &str, items: Vec<Value>) -> Result<Vec<Deployment>, GithubError> {
    convert(what, items, deployment)
}

pub(super) fn from_value<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, GithubError> {
    serde_json::from_value(v).map_err(|e| GithubError::decode(what, e))
}

fn convert<A: DeserializeOwned, T>(
    what: &str,
    items: Vec<Value>,
    f: fn(A) -> Option<T>,
) -> Result<Vec<T>, GithubError> {
    items
        .into_iter()
        .map(|v| {
            let a: A = from_value(what, v)?;
            f(a).ok_or_else(|| GithubError::decode(what, "an item has no date"))
        })
        .collect()
}

#[derive(Deserialize)]
struct ApiUser {
    login: String,
}

#[derive(Deserialize)]
struct ApiActor {
    name: Option<String>,
    date: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct ApiCommitInner {
    message: String,
    author: Option<ApiActor>,
    committer: Option<ApiActor>,
}

#[derive(Deserialize)]
struct ApiCommit {
    sha: String,
    html_url: String,
    commit: ApiCommitInner,
    author: Option<ApiUser>,
}

/// The committer date is the one `since` filters on, so it is the one we keep.
fn commit(c: ApiCommit) -> Option<Commit> {
    let date = c.commit.committer.as_ref().and_then(|a| a.date).or(c
        .commit
        .author
        .as_ref()
        .and_then(|a| a.date))?;
    let author = c
        .author
        .map(|u| u.login)
        .or(c.commit.author.and_then(|a| a.name))
        .unwrap_or_default();
    Some(Commit {
        sha: c.sha,
        message: c.commit.message,
        author,
        date,
        url: c.html_url,
    })
}

#[derive(Deserialize)]
struct ApiLabel {
    name: String,
}

#[derive(Deserialize)]
struct ApiIssue {
    number: u64,
    title: String,
    state: String,
    user: Option<ApiUser>,
    #[serde(default)]
    labels: Vec<ApiLabel>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    html_url: String,
}

fn issue(i: ApiIssue) -> Option<Issue> {
    Some(Issue {
        number: i.number,
        title: i.title,
        state: i.state,
        author: i.user.map(|u| u.login).unwrap_or_default(),
        labels: i.labels.into_iter().map(|l| l.name).collect(),
        created_at: i.created_at,
        updated_at: i.updated_at,
        closed_at: i.closed_at,
        url: i.html_url,
    })
}

#[derive(Deserialize)]
struct ApiPull {
    number: u64,
    title: String,
    state: String,
    user: Option<ApiUser>,
    #[serde(default)]
    draft: Option<bool>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    merged_at: Option<DateTime<Utc>>,
    html_url: String,
}

fn pull(p: ApiPull) -> Option<PullRequest> {
    Some(PullRequest {
        number: p.number,
        title: p.title,
        state: p.state,
        author: p.user.map(|u| u.login).unwrap_or_default(),
        draft: p.draft.unwrap_or(false),
        created_at: p.created_at,
        updated_at: p.updated_at,
        closed_at: p.closed_at,
        merged_at: p.merged_at,
        url: p.html_url,
    })
}

#[derive(Deserialize)]
struct ApiRelease {
    id: u64,
    tag_name: String,
    name: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    html_url: String,
}

fn release(r: ApiRelease) -> Option<Release> {
    Some(Release {
        id: r.id,
        name: r
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| r.tag_name.clone()),
        tag: r.tag_name,
        draft: r.draft,
        prerelease: r.prerelease,
        published_at: r.published_at,
        created_at: r.created_at,
        url: r.html_url,
    })
}

#[derive(Deserialize)]
struct ApiDeployment {
    id: u64,
    environment: String,
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
    creator: Option<ApiUser>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    url: String,
}

fn deployment(d: ApiDeployment) -> Option<Deployment> {
    Some(Deployment {
        id: d.id,
        environment: d.environment,
        git_ref: d.git_ref,
        sha: d.sha,
        creator: d.creator.map(|u| u.login).unwrap_or_default(),
        state: None,
        created_at: d.created_at,
        updated_at: d.updated_at,
        url: d.url,
    })
}

#[derive(Deserialize)]
pub(super) struct ApiRepo {
    description: Option<String>,
    html_url: String,
    default_branch: String,
    #[serde(default)]
    stargazers_count: u64,
    #[serde(default)]
    forks_count: u64,
    #[serde(default)]
    open_issues_count: u64,
    pub(super) pushed_at: Option<DateTime<Utc>>,
}

impl ApiRepo {
    pub(super) fn into_stats(
        self,
        languages: BTreeMap<String, u64>,
        has_readme: bool,
    ) -> RepoStats {
        RepoStats {
            description: self.description,
            html_url: self.html_url,
            default_branch: self.default_branch,
            stars: self.stargazers_count,
            forks: self.forks_count,
            open_issues: self.open_issues_count,
            languages,
            has_readme,
            pushed_at: self.pushed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commits_use_the_login_and_committer_date() {
        let v = json!({"sha": "abc", "html_url": "https://github.com/o/r/commit/abc",
            "commit": {"message": "Fix it\n\nbody", "author": {"name": "Octo", "date": "2026-01-01T00:00:00Z"},
                       "committer": {"name": "GitHub", "date": "2026-01-02T00:00:00Z"}},
            "author": {"login": "octocat"}});
        let c = convert("x", vec![v], commit).unwrap().remove(0);
        assert_eq!(c.author, "octocat");
        assert_eq!(c.date.to_rfc3339(), "2026-01-02T00:00:00+00:00");
    }

    #[test]
    fn decode_errors_name_the_resource() {
        let e = convert("GitHub o/r releases", vec![json!({"id": "x"})], release).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("GitHub o/r releases: unexpected response"),
            "{e}"
        );
    }
}
