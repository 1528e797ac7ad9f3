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

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::client::{GithubError, Page, RepoClient, PER_PAGE};
use super::model::{self, from_value, ApiRepo};
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

    /// The field that identifies an item of this resource. Each resource has its own: a
    /// deployment also carries a `sha` (the commit it deployed), which two deployments of one
    /// commit share, so a key common to all resources merged them into one.
    fn key(self) -> &'static str {
        match self {
            Resource::Commits => "sha",
            Resource::Issues | Resource::Prs => "number",
            Resource::Releases | Resource::Deployments | Resource::Stats => "id",
        }
    }

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

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    crate::timestamp::parse(s)
}

fn date_at(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    parse_time(v.pointer(pointer)?.as_str()?)
}

/// Fetches one resource of `repo` from its cursor.
pub async fn fetch(
    client: &RepoClient<'_>,
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
    let items = dedupe(items, resource.key());
    let fetched = match resource {
        Resource::Commits => Fetched::Commits(model::commits(&what, items)?),
        Resource::Issues => Fetched::Issues(model::issues(&what, items)?),
        Resource::Prs => Fetched::Pulls(model::pulls(&what, items)?),
        Resource::Releases => Fetched::Releases(model::releases(&what, items)?),
        Resource::Deployments => Fetched::Deployments(model::deployments(&what, items)?),
        Resource::Stats => unreachable!("handled above"),
    };
    Ok(Some((fetched, cursor_row(repo, resource, pos, now))))
}

fn cursor_row(repo: &str, resource: Resource, pos: Position, now: i64) -> CursorRow {
    CursorRow {
        repo: repo.to_owned(),
        resource: resource.name().to_owned(),
        position: pos.at.map(crate::timestamp::secs),
        etag: pos.etag,
        updated_at: now,
    }
}

/// A `since` list (see the module docs).
async fn since_list(
    client: &RepoClient<'_>,
    what: &str,
    path: &str,
    query: &[(&str, &str)],
    date: &str,
    start: Position,
) -> Result<Option<(Vec<Value>, Position)>, GithubError> {
    let url = |since: Option<DateTime<Utc>>| {
        let since = since.map(crate::timestamp::secs);
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
    client: &RepoClient<'_>,
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
    client: &RepoClient<'_>,
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
    let pos = Position {
        at: r.pushed_at,
        etag,
    };
    let stats = r.into_stats(languages, has_readme);
    Ok(Some((
        Fetched::Stats(stats),
        cursor_row(repo, Resource::Stats, pos, now),
    )))
}

/// Drops repeated items (a settle request re-reads the boundary), keeping the later copy.
fn dedupe(items: Vec<Value>, key: &str) -> Vec<Value> {
    let key = |v: &Value| {
        v.get(key)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dedupe_keeps_the_later_copy_in_order() {
        let items = vec![
            json!({"id": 1, "v": "old"}),
            json!({"id": 2}),
            json!({"id": 1, "v": "new"}),
        ];
        let out = dedupe(items, "id");
        assert_eq!(out, vec![json!({"id": 2}), json!({"id": 1, "v": "new"})]);
        // Two deployments of one commit are two deployments.
        let deployments = vec![
            json!({"id": 88, "sha": "abc"}),
            json!({"id": 1, "sha": "abc"}),
        ];
        assert_eq!(
            dedupe(deployments.clone(), Resource::Deployments.key()),
            deployments
        );
    }
}
