//! One repository resource at a time: how each is fetched incrementally, and how GitHub's
//! JSON becomes the snapshot's types.
//!
//! Two strategies, as the API allows:
//! - `since` lists (commits, issues): ask for what changed since the cursor. A stored ETag is
//!   only valid for the exact URL it came from, so when the cursor moves we make one more
//!   (small) request at the new `since` to hold the ETag of the URL the next run will send;
//!   that is what makes a no-change run a single 304 per resource.
//! - stop lists (pulls by `updated`, releases, deployments): a fixed URL whose page 1 is
//!   ETag-polled; later pages are read only while every item is newer than the cursor.
//!
//! Repository stats are one conditional request; languages and README presence are read only
//! when the repository object changed (a push changes `pushed_at`, hence its ETag).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::client::{Client, GithubError, Page, PER_PAGE};
use crate::store::CursorRow;
use crate::sync::snapshot::{Commit, Deployment, Issue, PullRequest, Release, RepoStats};

/// The resources `sources.github.include` can name, with their cursor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Commits,
    Issues,
    Prs,
    Releases,
    Deployments,
    Stats,
}

impl Resource {
    pub const ALL: [Resource; 6] = [
        Resource::Commits,
        Resource::Issues,
        Resource::Prs,
        Resource::Releases,
        Resource::Deployments,
        Resource::Stats,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Commits => "commits",
            Resource::Issues => "issues",
            Resource::Prs => "prs",
            Resource::Releases => "releases",
            Resource::Deployments => "deployments",
            Resource::Stats => "stats",
        }
    }
}

/// Freshly fetched items of one resource.
#[derive(Debug, Clone)]
pub enum Fetched {
    Commits(Vec<Commit>),
    Issues(Vec<Issue>),
    Pulls(Vec<PullRequest>),
    Releases(Vec<Release>),
    Deployments(Vec<Deployment>),
    Stats(RepoStats),
}

impl Fetched {
    pub fn len(&self) -> usize {
        match self {
            Fetched::Commits(v) => v.len(),
            Fetched::Issues(v) => v.len(),
            Fetched::Pulls(v) => v.len(),
            Fetched::Releases(v) => v.len(),
            Fetched::Deployments(v) => v.len(),
            Fetched::Stats(_) => 1,
        }
    }
}

/// `None` = not modified (304): nothing to merge, cursor unchanged.
pub type ResourceResult = Option<(Fetched, CursorRow)>;

/// Where the cursor will stand: the position the next URL is built from and its ETag.
struct Position {
    at: Option<DateTime<Utc>>,
    etag: Option<String>,
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn date_at(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    parse_time(v.pointer(pointer)?.as_str()?)
}

/// Fetches one resource of `repo` from its cursor.
pub async fn fetch(
    client: &Client,
    repo: &str,
    resource: Resource,
    cursor: Option<&CursorRow>,
    now: i64,
) -> Result<ResourceResult, GithubError> {
    let what = format!("GitHub {repo} {}", resource.name());
    let base = format!("/repos/{repo}");
    let start = Position {
        at: cursor
            .and_then(|c| c.position.as_deref())
            .and_then(parse_time),
        etag: cursor.and_then(|c| c.etag.clone()),
    };
    let per_page = ("per_page", PER_PAGE);
    let listed = match resource {
        Resource::Stats => return stats(client, &what, &base, start, repo, now).await,
        Resource::Commits => {
            let path = format!("{base}/commits");
            since_list(
                client,
                &what,
                &path,
                &[per_page],
                "/commit/committer/date",
                start,
            )
            .await?
        }
        Resource::Issues => {
            let path = format!("{base}/issues");
            let q = [("state", "all"), per_page];
            since_list(client, &what, &path, &q, "/updated_at", start).await?
        }
        Resource::Prs => {
            let path = format!("{base}/pulls");
            let q = [
                ("state", "all"),
                ("sort", "updated"),
                ("direction", "desc"),
                per_page,
            ];
            stop_list(client, &what, &path, &q, "/updated_at", start).await?
        }
        Resource::Releases => {
            let path = format!("{base}/releases");
            stop_list(client, &what, &path, &[per_page], "/created_at", start).await?
        }
        Resource::Deployments => {
            let path = format!("{base}/deployments");
            stop_list(client, &what, &path, &[per_page], "/created_at", start).await?
        }
    };
    let Some((items, pos)) = listed else {
        return Ok(None);
    };
    let items = dedupe(items);
    let fetched = match resource {
        Resource::Commits => Fetched::Commits(convert(&what, items, commit)?),
        Resource::Issues => Fetched::Issues(convert(
            &what,
            items
                .into_iter()
                .filter(|v| v.get("pull_request").is_none())
                .collect(),
            issue,
        )?),
        Resource::Prs => Fetched::Pulls(convert(&what, items, pull)?),
        Resource::Releases => Fetched::Releases(convert(&what, items, release)?),
        Resource::Deployments => Fetched::Deployments(convert(&what, items, deployment)?),
        Resource::Stats => unreachable!("handled above"),
    };
    Ok(Some((fetched, cursor_row(repo, resource, pos, now))))
}

fn cursor_row(repo: &str, resource: Resource, pos: Position, now: i64) -> CursorRow {
    CursorRow {
        repo: repo.to_owned(),
        resource: resource.name().to_owned(),
        position: pos.at.map(format_time),
        etag: pos.etag,
        updated_at: now,
    }
}

/// A `since` list (see the module docs).
async fn since_list(
    client: &Client,
    what: &str,
    path: &str,
    query: &[(&str, &str)],
    date: &str,
    start: Position,
) -> Result<Option<(Vec<Value>, Position)>, GithubError> {
    let url = |since: Option<DateTime<Utc>>| {
        let since = since.map(format_time);
        let mut q = query.to_vec();
        if let Some(s) = &since {
            q.push(("since", s));
        }
        client.url(what, path, &q)
    };
    let Some(first) = client
        .list(what, &url(start.at)?, start.etag.as_deref(), |_| true)
        .await?
    else {
        return Ok(None);
    };
    let mut items = first.items;
    let mut pos = Position {
        at: start.at,
        etag: first.etag,
    };
    let newest = items.iter().filter_map(|v| date_at(v, date)).max();
    if let Some(newest) = newest.filter(|n| start.at.is_none_or(|s| *n > s)) {
        // The ETag just received belongs to the old `since`; fetch the new URL once so the
        // next run can ask it conditionally. Anything new in it is merged too.
        let settled = client
            .list(what, &url(Some(newest))?, None, |_| true)
            .await?
            .unwrap_or_default();
        items.extend(settled.items);
        pos = Position {
            at: Some(newest),
            etag: settled.etag,
        };
    }
    Ok(Some((items, pos)))
}

/// A stop list (see the module docs).
async fn stop_list(
    client: &Client,
    what: &str,
    path: &str,
    query: &[(&str, &str)],
    date: &str,
    start: Position,
) -> Result<Option<(Vec<Value>, Position)>, GithubError> {
    let cursor = start.at;
    let all_newer = |page: &[Value]| {
        cursor.is_none_or(|c| page.iter().all(|v| date_at(v, date).is_none_or(|d| d > c)))
    };
    let url = client.url(what, path, query)?;
    let Some(listed) = client
        .list(what, &url, start.etag.as_deref(), all_newer)
        .await?
    else {
        return Ok(None);
    };
    let newest = listed.items.iter().filter_map(|v| date_at(v, date)).max();
    let at = match (cursor, newest) {
        (Some(c), Some(n)) => Some(c.max(n)),
        (c, n) => c.or(n),
    };
    Ok(Some((
        listed.items,
        Position {
            at,
            etag: listed.etag,
        },
    )))
}

/// The repository object, and when it changed, its languages and README presence.
async fn stats(
    client: &Client,
    what: &str,
    base: &str,
    start: Position,
    repo: &str,
    now: i64,
) -> Result<ResourceResult, GithubError> {
    let url = client.url(what, base, &[])?;
    let (body, etag) = match client
        .get(what, url.as_str(), start.etag.as_deref())
        .await?
    {
        Page::NotModified => return Ok(None),
        Page::Fresh { body, etag, .. } => (body, etag),
    };
    let r: ApiRepo = from_value(what, body)?;
    let what_lang = format!("{what} (languages)");
    let url = client.url(&what_lang, &format!("{base}/languages"), &[])?;
    let languages: BTreeMap<String, u64> = match client.get(&what_lang, url.as_str(), None).await? {
        Page::Fresh { body, .. } => from_value(&what_lang, body)?,
        Page::NotModified => BTreeMap::new(),
    };
    let what_readme = format!("{what} (readme)");
    let url = client.url(&what_readme, &format!("{base}/readme"), &[])?;
    let has_readme = match client.get(&what_readme, url.as_str(), None).await {
        Ok(_) => true,
        Err(GithubError::Status { status: 404, .. }) => false,
        Err(e) => return Err(e),
    };
    let stats = RepoStats {
        description: r.description,
        html_url: r.html_url,
        default_branch: r.default_branch,
        stars: r.stargazers_count,
        forks: r.forks_count,
        open_issues: r.open_issues_count,
        languages,
        has_readme,
        pushed_at: r.pushed_at,
    };
    let pos = Position {
        at: r.pushed_at,
        etag,
    };
    Ok(Some((
        Fetched::Stats(stats),
        cursor_row(repo, Resource::Stats, pos, now),
    )))
}

/// Drops repeated items (a settle request re-reads the boundary), keeping the later copy.
fn dedupe(items: Vec<Value>) -> Vec<Value> {
    let key = |v: &Value| {
        ["sha", "number", "id"]
            .iter()
            .find_map(|k| v.get(*k))
            .map(Value::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Value> = items
        .into_iter()
        .rev()
        .filter(|v| seen.insert(key(v)))
        .collect();
    out.reverse();
    out
}

fn from_value<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, GithubError> {
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
struct ApiRepo {
    description: Option<String>,
    html_url: String,
    default_branch: String,
    #[serde(default)]
    stargazers_count: u64,
    #[serde(default)]
    forks_count: u64,
    #[serde(default)]
    open_issues_count: u64,
    pushed_at: Option<DateTime<Utc>>,
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
        assert_eq!(format_time(c.date), "2026-01-02T00:00:00Z");
    }

    #[test]
    fn dedupe_keeps_the_later_copy_in_order() {
        let items = vec![
            json!({"id": 1, "v": "old"}),
            json!({"id": 2}),
            json!({"id": 1, "v": "new"}),
        ];
        let out = dedupe(items);
        assert_eq!(out, vec![json!({"id": 2}), json!({"id": 1, "v": "new"})]);
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
