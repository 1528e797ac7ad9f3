//! Which repositories a cycle covers: the ones named in `GITHUB_REPOS`, plus those its
//! patterns find (`owner/*`, `*`), minus exclusions, archived repositories and forks (unless
//! `sources.github.include_archived` / `include_forks`).
//!
//! With a GitHub App, the App's installations are listed (`GET /app/installations`, JWT) and
//! each relevant installation's repositories (`GET /installation/repositories`, its token);
//! every repository is then read with its own installation's token. With a personal token,
//! `owner/*` lists the owner's repositories (`/orgs/{owner}/repos`, or `/users/{owner}/repos`
//! for a user) and `*` every repository the token sees (`/user/repos`). Each listing page is
//! asked for with the ETag of its last answer, kept in the store with the page, so an
//! unchanged organisation costs one free `304` per hundred repositories. A listing also says
//! each repository's `node_id`, `pushed_at` and `updated_at`, which the change markers
//! (`markers`) build on. Nothing here writes cursors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Installation;
use super::client::{Client, GithubError, Page};
use crate::config::{GithubSource as Settings, RepoSelection};
use crate::store::Store;

/// The `kv` prefix of cached listing pages.
const KV_PREFIX: &str = "github_listing:";
/// A guard against a listing that links pages forever (100 repositories a page).
const MAX_PAGES: usize = 1000;

/// A repository a cycle covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub full_name: String,
    /// The App installation whose token reads it (`None` with a personal token).
    pub installation: Option<u64>,
    /// GitHub's global id (GraphQL), when a listing said it.
    pub node_id: Option<String>,
    pub archived: bool,
    pub fork: bool,
}

/// One cached listing page: where it was, its ETag, the next page and what it listed.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    url: String,
    etag: Option<String>,
    next: Option<String>,
    repos: Vec<Found>,
}

/// The repositories `selection` covers.
pub async fn discover(
    client: &Client,
    store: &Store,
    selection: &RepoSelection,
    settings: &Settings,
    now: i64,
) -> Result<Vec<Found>, GithubError> {
    let (owners, all) = selection.owners();
    let named = selection.named();
    let mut listed: Vec<Found> = Vec::new();
    let mut installations: Vec<Installation> = Vec::new();
    if let Some(app) = client.state().auth.app() {
        installations = app.installations(now).await?;
        for i in &installations {
            let wanted = all
                || owners.iter().any(|o| o.eq_ignore_ascii_case(&i.account))
                || named
                    .iter()
                    .any(|n| owner_of(n).eq_ignore_ascii_case(&i.account));
            if wanted {
                let url = client.url(
                    "GitHub App installation repositories",
                    "/installation/repositories",
                    &[("per_page", "100")],
                )?;
                listed.extend(listing(client, store, url.as_str(), Some(i.id)).await?);
            }
        }
    } else if selection.discovers() {
        for owner in &owners {
            listed.extend(owner_repos(client, store, owner).await?);
        }
        if all {
            let url = client.url("GitHub /user/repos", "/user/repos", &[("per_page", "100")])?;
            listed.extend(listing(client, store, url.as_str(), None).await?);
        }
    }
    let is_named = |name: &str| named.iter().any(|n| n.eq_ignore_ascii_case(name));
    let mut out: Vec<Found> = Vec::new();
    for f in listed {
        let keep = is_named(&f.full_name)
            || (selection.selects(&f.full_name)
                && (settings.include_archived || !f.archived)
                && (settings.include_forks || !f.fork));
        if keep
            && !out
                .iter()
                .any(|o| o.full_name.eq_ignore_ascii_case(&f.full_name))
        {
            out.push(f);
        }
    }
    // A named repository no listing showed is still read, as configured (with the
    // installation of its owner's account, when there is one).
    for name in named {
        if !out.iter().any(|o| o.full_name.eq_ignore_ascii_case(&name)) {
            let installation = installations
                .iter()
                .find(|i| i.account.eq_ignore_ascii_case(owner_of(&name)))
                .map(|i| i.id);
            out.push(Found {
                full_name: name,
                installation,
                node_id: None,
                archived: false,
                fork: false,
            });
        }
    }
    out.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    Ok(out)
}

fn owner_of(full_name: &str) -> &str {
    full_name.split_once('/').map_or(full_name, |(o, _)| o)
}

/// An owner's repositories with a personal token: an organisation's, else a user's.
async fn owner_repos(
    client: &Client,
    store: &Store,
    owner: &str,
) -> Result<Vec<Found>, GithubError> {
    let what = format!("GitHub {owner}/* repositories");
    let org = client.url(
        &what,
        &format!("/orgs/{owner}/repos"),
        &[("per_page", "100"), ("type", "all")],
    )?;
    match listing(client, store, org.as_str(), None).await {
        Err(GithubError::Status { status: 404, .. }) => {
            let user = client.url(
                &what,
                &format!("/users/{owner}/repos"),
                &[("per_page", "100"), ("type", "owner")],
            )?;
            listing(client, store, user.as_str(), None).await
        }
        other => other,
    }
}

/// Every page of a listing from `url`, each asked for with its cached ETag.
async fn listing(
    client: &Client,
    store: &Store,
    url: &str,
    installation: Option<u64>,
) -> Result<Vec<Found>, GithubError> {
    let what = "GitHub repository listing";
    let key = format!(
        "{KV_PREFIX}{}{}",
        installation.map_or(String::new(), |i| format!("{i}:")),
        path_of(url)
    );
    let cached: Vec<CachedPage> = store
        .kv_get(&key)
        .await
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut pages: Vec<CachedPage> = Vec::new();
    let mut changed = false;
    let mut next = Some(url.to_owned());
    while let Some(page_url) = next.take() {
        if pages.len() >= MAX_PAGES {
            break;
        }
        let before = cached.get(pages.len()).filter(|p| p.url == page_url);
        let page = match client
            .get(
                what,
                &page_url,
                before.and_then(|p| p.etag.as_deref()),
                installation,
            )
            .await?
        {
            Page::NotModified => match before {
                Some(p) => CachedPage {
                    url: p.url.clone(),
                    etag: p.etag.clone(),
                    next: p.next.clone(),
                    repos: p.repos.clone(),
                },
                None => return Err(GithubError::decode(what, "304 for a page never fetched")),
            },
            Page::Fresh { body, etag, next } => {
                changed = true;
                CachedPage {
                    url: page_url,
                    etag,
                    next,
                    repos: parse(what, &body, installation)?,
                }
            }
        };
        next = page.next.clone();
        pages.push(page);
    }
    changed |= pages.len() != cached.len();
    if changed {
        // A cache: losing the write only costs the next cycle a full answer.
        let text = serde_json::to_string(&pages).expect("pages serialize");
        if let Err(e) = store.kv_set(&key, &text, crate::store::now_ms()).await {
            tracing::warn!(error = %e, "could not cache a GitHub listing page");
        }
    }
    Ok(pages.into_iter().flat_map(|p| p.repos).collect())
}

fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| format!("{}?{}", u.path(), u.query().unwrap_or("")))
        .unwrap_or_else(|_| url.to_owned())
}

/// The repositories of one listing page: an array, or `/installation/repositories`'s
/// `{"repositories": [...]}`.
fn parse(what: &str, body: &Value, installation: Option<u64>) -> Result<Vec<Found>, GithubError> {
    let items = match body {
        Value::Array(a) => a,
        other => other["repositories"]
            .as_array()
            .ok_or_else(|| GithubError::decode(what, "expected a list of repositories"))?,
    };
    items
        .iter()
        .map(|r| {
            let full_name = r["full_name"]
                .as_str()
                .ok_or_else(|| GithubError::decode(what, "a repository without full_name"))?;
            Ok(Found {
                full_name: full_name.to_owned(),
                installation,
                node_id: r["node_id"].as_str().map(String::from),
                archived: r["archived"].as_bool().unwrap_or(false),
                fork: r["fork"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_listing_shapes_parse() {
        let array = serde_json::json!([{"full_name": "o/a", "node_id": "R_1", "archived": true}]);
        let found = parse("x", &array, None).unwrap();
        assert_eq!(found[0].full_name, "o/a");
        assert!(found[0].archived && !found[0].fork);
        let wrapped = serde_json::json!({"total_count": 1, "repositories": [{"full_name": "o/b", "fork": true}]});
        let found = parse("x", &wrapped, Some(7)).unwrap();
        assert_eq!((found[0].installation, found[0].fork), (Some(7), true));
        assert!(parse("x", &serde_json::json!({"x": 1}), None).is_err());
    }
}
