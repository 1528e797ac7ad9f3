//! The fake GitHub's organisation side: a GitHub App with installations, a personal token's
//! listings, GraphQL, and rate budgets, strict where the real API is.
//!
//! - `/app/*` takes only a JWT signed RS256 by the App's key (checked with its public key):
//!   `iss` must be the App's id, `iat` not in the future and `exp` after now and at most 10
//!   minutes after `iat`, by the fake's own clock (which a test can set off ours); a refused
//!   JWT is a 401 with GitHub's messages and a `Date` header.
//! - An installation token lives `token_life_secs` (a test makes it short to exercise
//!   renewal) and opens only its installation's repositories (others are 404, as GitHub
//!   hides them); `lag_first_use` makes a fresh token's first use a 401, as replication lag.
//! - Every served answer spends one request of its token's budget (`x-ratelimit-*`, per
//!   resource); a `304` spends none; an empty budget answers 403 rate-limited.
//! - `POST /graphql` answers the change-marker query's `nodes(ids:)` for the ids the token
//!   may see, at one point of the GraphQL budget; an id it cannot resolve is a null node
//!   with a `NOT_FOUND` error beside the data, as GitHub answers.
//!
//! A module of `sync_fake` (its repositories are the fake's): shared with `benches/org.rs`.

// A refusal is the response itself; it is made once per refused request of a fake.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::{Request, ResponseTemplate};

use super::{date_of, error, respond_json, FakeRepo};

/// One installation of the App.
#[derive(Debug, Clone)]
pub struct FakeInstallation {
    pub id: u64,
    pub account: String,
    /// Its repositories (full names).
    pub repos: Vec<String>,
}

struct Issued {
    installation: u64,
    /// By the fake's clock (unix seconds).
    expires_at: i64,
    used: bool,
}

/// The organisation side's state.
pub struct Org {
    pub app_id: String,
    pub public_key_pem: String,
    pub installations: Vec<FakeInstallation>,
    /// Archived and fork flags per repository (lowercase full name).
    pub flags: BTreeMap<String, (bool, bool)>,
    /// A personal token that may read everything (`None`: App only).
    pub pat: Option<String>,
    pub token_life_secs: i64,
    /// Added to our clock to give the fake's.
    pub clock_offset_secs: i64,
    pub lag_first_use: bool,
    /// Requests per budget window (`x-ratelimit-limit`).
    pub budget_limit: u64,
    pub minted: u64,
    /// Repositories (lowercase full names) whose global id no longer resolves, as after a
    /// deletion between the listing and the change-marker query.
    pub unresolvable: BTreeSet<String>,
    tokens: HashMap<String, Issued>,
    spent: HashMap<(String, &'static str), u64>,
}

impl Org {
    pub fn new(app_id: &str, public_key_pem: &str) -> Self {
        Self {
            app_id: app_id.to_owned(),
            public_key_pem: public_key_pem.to_owned(),
            installations: Vec::new(),
            flags: BTreeMap::new(),
            pat: None,
            token_life_secs: 3600,
            clock_offset_secs: 0,
            lag_first_use: false,
            budget_limit: 5000,
            minted: 0,
            unresolvable: BTreeSet::new(),
            tokens: HashMap::new(),
            spent: HashMap::new(),
        }
    }

    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset_secs
    }

    /// When every budget refills: the next full hour of the fake's clock.
    fn reset(&self) -> i64 {
        (self.now() / 3600 + 1) * 3600
    }

    /// The installation a repository belongs to.
    pub fn installation_of(&self, repo: &str) -> Option<u64> {
        self.installations
            .iter()
            .find(|i| i.repos.iter().any(|r| r.eq_ignore_ascii_case(repo)))
            .map(|i| i.id)
    }

    /// Requests of `token`'s `resource` budget spent so far.
    pub fn spent(&self, budget: &str, resource: &'static str) -> u64 {
        self.spent
            .get(&(budget.to_owned(), resource))
            .copied()
            .unwrap_or(0)
    }

    /// Spends `n` of a budget now (a test empties one this way).
    pub fn spend(&mut self, budget: &str, resource: &'static str, n: u64) {
        *self.spent.entry((budget.to_owned(), resource)).or_default() += n;
    }

    fn date_header(&self) -> String {
        chrono::DateTime::from_timestamp(self.now(), 0)
            .unwrap()
            .to_rfc2822()
    }
}

/// Who a request is, to the organisation side.
pub enum Caller {
    /// The App itself (a valid JWT).
    App,
    /// An installation token of installation `id`.
    Installation(u64),
    /// The personal token.
    Pat,
}

impl Caller {
    fn budget(&self) -> String {
        match self {
            Caller::App => "app".into(),
            Caller::Installation(id) => format!("installation:{id}"),
            Caller::Pat => "token".into(),
        }
    }
}

/// Who is asking, or the refusal.
pub fn authenticate(org: &mut Org, req: &Request) -> Result<Caller, (u16, ResponseTemplate)> {
    let bearer = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    if req.url.path().starts_with("/app/") {
        return check_jwt(org, &bearer).map(|()| Caller::App);
    }
    if org.pat.as_deref() == Some(bearer.as_str()) {
        return Ok(Caller::Pat);
    }
    let now = org.now();
    let lag = org.lag_first_use;
    match org.tokens.get_mut(&bearer) {
        Some(t) if t.expires_at > now => {
            if lag && !t.used {
                t.used = true;
                return Err((401, error(401, "Bad credentials")));
            }
            t.used = true;
            Ok(Caller::Installation(t.installation))
        }
        _ => Err((401, error(401, "Bad credentials"))),
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: Value,
}

fn check_jwt(org: &Org, jwt: &str) -> Result<(), (u16, ResponseTemplate)> {
    let refuse = |m: &str| {
        Err((
            401,
            error(401, m).insert_header("date", org.date_header().as_str()),
        ))
    };
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(org.public_key_pem.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let Ok(data) = jsonwebtoken::decode::<Claims>(jwt, &key, &v) else {
        return refuse("A JSON web token could not be decoded");
    };
    let c = data.claims;
    let iss = match &c.iss {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if iss != org.app_id {
        return refuse("'Issuer' claim ('iss') must be the app's id");
    }
    let now = org.now();
    if c.iat > now {
        return refuse(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
        );
    }
    if c.exp <= now {
        return refuse("'Expiration time' claim ('exp') is in the past");
    }
    if c.exp - c.iat > 600 {
        return refuse("'Expiration time' claim ('exp') is too far in the future");
    }
    Ok(())
}

/// Serves an organisation route, or `None` when `path` is a repository route.
pub(super) fn route(
    org: &mut Org,
    repos: &BTreeMap<String, FakeRepo>,
    base: &str,
    req: &Request,
    q: &BTreeMap<String, String>,
) -> Option<(u16, ResponseTemplate)> {
    let path = req.url.path().to_owned();
    let repo_route = path.starts_with("/repos/");
    let caller = match authenticate(org, req) {
        Ok(c) => c,
        Err(refused) => return Some(refused),
    };
    if repo_route {
        // Only the installation's own repositories exist for its token.
        if let Caller::Installation(id) = caller {
            let name: Vec<&str> = path.trim_start_matches("/repos/").splitn(3, '/').collect();
            let full = format!("{}/{}", name[0], name.get(1).unwrap_or(&""));
            if org.installation_of(&full) != Some(id) {
                return Some((404, error(404, "Not Found")));
            }
        }
        return None;
    }
    let resource = if path == "/graphql" {
        "graphql"
    } else {
        "core"
    };
    let budget = caller.budget();
    if org.spent(&budget, resource) >= org.budget_limit {
        let r = error(403, "API rate limit exceeded for installation.")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", org.reset().to_string().as_str());
        return Some((403, r));
    }
    let answer = match (req.method.as_str(), path.as_str(), &caller) {
        ("GET", "/app/installations", Caller::App) => {
            let list: Vec<Value> = org
                .installations
                .iter()
                .map(|i| json!({"id": i.id, "account": {"login": i.account}}))
                .collect();
            respond_json(req, &json!(list), None)
        }
        ("POST", p, Caller::App)
            if p.starts_with("/app/installations/") && p.ends_with("/access_tokens") =>
        {
            let id: u64 = p
                .trim_start_matches("/app/installations/")
                .trim_end_matches("/access_tokens")
                .parse()
                .unwrap_or(0);
            if !org.installations.iter().any(|i| i.id == id) {
                return Some((404, error(404, "Not Found")));
            }
            // Longer than the classic 40 characters, as GitHub's newer tokens are.
            let token = format!(
                "ghs_{id}_{}",
                hex::encode(Sha256::digest(format!("{id}-{}", org.minted)))
            );
            let expires_at = org.now() + org.token_life_secs;
            org.tokens.insert(
                token.clone(),
                Issued {
                    installation: id,
                    expires_at,
                    used: false,
                },
            );
            org.minted += 1;
            let expires = chrono::DateTime::from_timestamp(expires_at, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            (
                201,
                ResponseTemplate::new(201)
                    .set_body_json(json!({"token": token, "expires_at": expires})),
            )
        }
        ("GET", "/installation/repositories", Caller::Installation(id)) => {
            let mine = org
                .installations
                .iter()
                .find(|i| i.id == *id)
                .map(|i| i.repos.clone())
                .unwrap_or_default();
            let items: Vec<Value> = mine.iter().map(|r| listing_json(org, repos, r)).collect();
            // GitHub wraps this one listing in an object.
            let body = json!({"total_count": items.len(), "repositories": page_of(q, &items)});
            respond_json(req, &body, link_of(base, req, q, items.len()))
        }
        ("GET", p, Caller::Pat) if p.starts_with("/orgs/") || p.starts_with("/users/") => {
            let owner = p.split('/').nth(2).unwrap_or("");
            let items: Vec<Value> = repos
                .keys()
                .filter(|r| {
                    r.split('/')
                        .next()
                        .is_some_and(|o| o.eq_ignore_ascii_case(owner))
                })
                .map(|r| listing_json(org, repos, r))
                .collect();
            if items.is_empty() {
                return Some((404, error(404, "Not Found")));
            }
            super::list(base, req, q, items.iter().collect())
        }
        ("GET", "/user/repos", Caller::Pat) => {
            let items: Vec<Value> = repos.keys().map(|r| listing_json(org, repos, r)).collect();
            super::list(base, req, q, items.iter().collect())
        }
        ("POST", "/graphql", Caller::Installation(_) | Caller::Pat) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let ids: Vec<&str> = body["variables"]["ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let nodes: Vec<Value> = ids
                .iter()
                .map(|id| {
                    repos
                        .iter()
                        .filter(|(name, _)| match &caller {
                            Caller::Installation(i) => org.installation_of(name) == Some(*i),
                            _ => true,
                        })
                        .filter(|(name, _)| !org.unresolvable.contains(&name.to_ascii_lowercase()))
                        .find(|(name, _)| node_id(name) == *id)
                        .map_or(Value::Null, |(name, r)| marker_json(name, r))
                })
                .collect();
            // As GitHub answers: a node it cannot resolve is null, with an error naming it.
            let errors: Vec<Value> = ids
                .iter()
                .zip(&nodes)
                .enumerate()
                .filter(|(_, (_, node))| node.is_null())
                .map(|(i, (id, _))| {
                    json!({"type": "NOT_FOUND", "path": ["nodes", i],
                    "message": format!("Could not resolve to a node with the global id of '{id}'")})
                })
                .collect();
            let mut body = json!({"data": {"nodes": nodes}});
            if !errors.is_empty() {
                body["errors"] = json!(errors);
            }
            (200, ResponseTemplate::new(200).set_body_json(body))
        }
        _ => (404, error(404, "Not Found")),
    };
    Some(spend(org, &budget, resource, answer.0, answer.1))
}

/// Spends one request of a served answer's budget (a `304` costs nothing) and says so.
fn spend(
    org: &mut Org,
    budget: &str,
    resource: &'static str,
    status: u16,
    res: ResponseTemplate,
) -> (u16, ResponseTemplate) {
    if (200..300).contains(&status) {
        org.spend(budget, resource, 1);
    }
    let left = org.budget_limit.saturating_sub(org.spent(budget, resource));
    let res = res
        .insert_header("x-ratelimit-limit", org.budget_limit.to_string().as_str())
        .insert_header("x-ratelimit-remaining", left.to_string().as_str())
        .insert_header("x-ratelimit-reset", org.reset().to_string().as_str())
        .insert_header("x-ratelimit-resource", resource);
    (status, res)
}

/// A repository route's budget headers (the repository routes are served by `sync_fake`).
pub(super) fn spend_repo(
    org: &mut Org,
    req: &Request,
    status: u16,
    res: ResponseTemplate,
) -> (u16, ResponseTemplate) {
    let budget = match authenticate_quiet(org, req) {
        Some(b) => b,
        None => return (status, res),
    };
    spend(org, &budget, "core", status, res)
}

/// The budget of a request already let through.
fn authenticate_quiet(org: &Org, req: &Request) -> Option<String> {
    let bearer = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    if org.pat.as_deref() == Some(bearer) {
        return Some("token".into());
    }
    org.tokens
        .get(bearer)
        .map(|t| format!("installation:{}", t.installation))
}

/// GitHub's global id of a repository (stable, opaque).
pub fn node_id(full_name: &str) -> String {
    format!(
        "R_{}",
        &hex::encode(Sha256::digest(full_name.to_ascii_lowercase()))[..16]
    )
}

fn listing_json(org: &Org, repos: &BTreeMap<String, FakeRepo>, name: &str) -> Value {
    let (archived, fork) = org
        .flags
        .get(&name.to_ascii_lowercase())
        .copied()
        .unwrap_or_default();
    let pushed = repos
        .get(name)
        .and_then(|r| r.commits.first())
        .map(|c| date_of(c, "/commit/committer/date"));
    json!({"full_name": name, "node_id": node_id(name), "archived": archived, "fork": fork,
           "private": false, "pushed_at": pushed, "html_url": format!("https://github.com/{name}")})
}

/// The change-marker fields GraphQL answers for one repository.
fn marker_json(name: &str, r: &FakeRepo) -> Value {
    // As GitHub answers the query: issues and pull requests by their newest update (one
    // node), releases and deployments the newest 100 by creation, each with its count.
    let newest = |items: &[Value], pointer: &str| {
        let nodes: Vec<Value> = items
            .iter()
            .max_by_key(|v| date_of(v, pointer))
            .map(|v| json!({"updatedAt": date_of(v, pointer)}))
            .into_iter()
            .collect();
        json!({"totalCount": items.len(), "nodes": nodes})
    };
    let first_100 = |items: &[Value], node: &dyn Fn(&Value) -> Value| {
        let nodes: Vec<Value> = items.iter().take(100).map(node).collect();
        json!({"totalCount": items.len(), "nodes": nodes})
    };
    let issues: Vec<Value> = r
        .issues
        .iter()
        .filter(|i| i.get("pull_request").is_none())
        .cloned()
        .collect();
    json!({
        "nameWithOwner": name,
        "pushedAt": r.commits.first().map(|c| date_of(c, "/commit/committer/date")),
        "updatedAt": format!("stars:{}", r.stars),
        "issues": newest(&issues, "/updated_at"),
        "pullRequests": newest(&r.pulls, "/updated_at"),
        // A release's REST form has no update time; an edit here records one.
        "releases": first_100(&r.releases, &|v| json!({
            "updatedAt": v.get("updated_at").unwrap_or(&v["created_at"])
        })),
        // The fake keeps no deployment statuses.
        "deployments": first_100(&r.deployments, &|v| json!({
            "updatedAt": v["updated_at"], "latestStatus": null,
        })),
    })
}

fn page_of(q: &BTreeMap<String, String>, items: &[Value]) -> Vec<Value> {
    let (per_page, page) = paging(q);
    items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect()
}

fn paging(q: &BTreeMap<String, String>) -> (usize, usize) {
    let per_page: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    (per_page, page)
}

fn link_of(
    base: &str,
    req: &Request,
    q: &BTreeMap<String, String>,
    total: usize,
) -> Option<String> {
    let (per_page, page) = paging(q);
    let last = total.div_ceil(per_page).max(1);
    (page < last).then(|| {
        let mut url = wiremock::http::Url::parse(&format!("{base}{}", req.url.path())).unwrap();
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "page")
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", &(page + 1).to_string());
        format!(r#"<{url}>; rel="next""#)
    })
}
