//! A fake GitHub REST API for wiremock, strict where the real one is: it requires the
//! headers GitHub requires (and the ones we promise to send), caps `per_page` at 100, pages
//! with `Link` headers, filters by `since` / `state`, answers 304 to a matching
//! `If-None-Match` (the ETag is a hash of the body, as GitHub's is), and can be switched to
//! answer 403 rate-limited or 5xx. Every request is logged for assertions.
//!
//! Shared by the integration tests and `benches/sync.rs` (through `#[path]`), so it depends
//! only on wiremock, serde_json, sha2 and chrono.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::{Request, Respond, ResponseTemplate};

#[path = "sync_fake_org.rs"]
pub mod org;

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// 403 with `x-ratelimit-remaining: 0` and this reset (unix seconds).
    RateLimited { reset: i64 },
    /// This status for everything.
    Failing(u16),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Path after `/repos/`, e.g. `o/r/commits`.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub conditional: bool,
    pub status: u16,
}

#[derive(Default)]
struct FakeRepo {
    /// Newest first.
    commits: Vec<Value>,
    /// Issues and pull requests (as GitHub lists them), by number descending.
    issues: Vec<Value>,
    pulls: Vec<Value>,
    releases: Vec<Value>,
    deployments: Vec<Value>,
    stars: u64,
    readme: bool,
    next_number: u64,
}

#[derive(Default)]
struct Inner {
    repos: BTreeMap<String, FakeRepo>,
    token: Option<String>,
    mode: Mode,
    log: Vec<Logged>,
    /// The server's own address, for absolute `Link` URLs (as GitHub sends).
    base: String,
    /// The organisation side (a GitHub App, listings, GraphQL, budgets), when enabled.
    org: Option<org::Org>,
    /// How long every answer takes (a bench's network latency).
    delay: Option<std::time::Duration>,
}

#[derive(Clone, Default)]
pub struct FakeGithub {
    inner: Arc<Mutex<Inner>>,
}

/// `2026-01-01T00:00:00Z` plus `secs`, in GitHub's format.
pub fn at(secs: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    (base + chrono::Duration::seconds(secs))
        .to_utc()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl FakeGithub {
    /// Serves every request on `server`.
    pub async fn mount(&self, server: &wiremock::MockServer) {
        self.with(|i| i.base = server.uri());
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap())
    }

    fn with_repo<T>(&self, repo: &str, f: impl FnOnce(&mut FakeRepo) -> T) -> T {
        self.with(|i| {
            f(i.repos.entry(repo.to_owned()).or_insert_with(|| FakeRepo {
                readme: true,
                next_number: 1,
                ..Default::default()
            }))
        })
    }

    pub fn add_repo(&self, repo: &str) {
        self.with_repo(repo, |_| ());
    }

    pub fn require_token(&self, token: &str) {
        self.with(|i| i.token = Some(token.to_owned()));
    }

    pub fn set_mode(&self, mode: Mode) {
        self.with(|i| i.mode = mode);
    }

    pub fn set_stars(&self, repo: &str, stars: u64) {
        self.with_repo(repo, |r| r.stars = stars);
    }

    /// Adds a commit dated `at(secs)`.
    pub fn add_commit(&self, repo: &str, sha: &str, message: &str, author: &str, secs: i64) {
        let c = commit_json(repo, sha, message, author, secs);
        self.with_repo(repo, |r| {
            r.commits.push(c);
            sort_commits(&mut r.commits);
        });
    }

    /// Adds `n` commits, one per minute from `at(start_secs)`.
    pub fn add_commits(&self, repo: &str, n: usize, start_secs: i64) {
        let commits: Vec<Value> = (0..n)
            .map(|i| {
                let sha = format!("{:040x}", (start_secs as u64) * 100_000 + i as u64);
                let message = format!("Commit {i}\n\nDetails");
                commit_json(repo, &sha, &message, "Dev", start_secs + 60 * i as i64)
            })
            .collect();
        self.with_repo(repo, |r| {
            r.commits.extend(commits);
            sort_commits(&mut r.commits);
        });
    }

    /// Adds an issue; returns its number.
    pub fn add_issue(&self, repo: &str, state: &str, secs: i64) -> u64 {
        self.with_repo(repo, |r| {
            let n = r.next_number;
            r.next_number += 1;
            r.issues.insert(0, issue_json(repo, n, state, secs, None));
            n
        })
    }

    pub fn add_issues(&self, repo: &str, n: usize, start_secs: i64) {
        for i in 0..n {
            self.add_issue(repo, "open", start_secs + 60 * i as i64);
        }
    }

    /// Closes an issue (or PR) at `at(secs)`.
    pub fn close_issue(&self, repo: &str, number: u64, secs: i64) {
        self.with_repo(repo, |r| {
            for list in [&mut r.issues, &mut r.pulls] {
                for i in list.iter_mut().filter(|i| i["number"] == number) {
                    i["state"] = json!("closed");
                    i["closed_at"] = json!(at(secs));
                    i["updated_at"] = json!(at(secs));
                }
            }
        });
    }

    /// Adds a pull request (also listed among issues, as GitHub does); returns its number.
    pub fn add_pull(&self, repo: &str, state: &str, merged: bool, secs: i64) -> u64 {
        self.with_repo(repo, |r| {
            let n = r.next_number;
            r.next_number += 1;
            r.issues.insert(0, issue_json(repo, n, state, secs, Some(json!({"url": "x"}))));
            r.pulls.insert(0, json!({
                "id": 2_000_000 + n, "number": n, "title": format!("PR {n}"), "state": state, "user": {"login": "dev"},
                "draft": false, "created_at": at(secs), "updated_at": at(secs),
                "closed_at": if state == "closed" { json!(at(secs)) } else { Value::Null },
                "merged_at": if merged { json!(at(secs)) } else { Value::Null },
                "html_url": format!("https://github.com/{repo}/pull/{n}"),
            }));
            n
        })
    }

    pub fn add_release(&self, repo: &str, id: u64, tag: &str, secs: i64) {
        self.with_repo(repo, |r| {
            r.releases.insert(0, json!({"id": id, "tag_name": tag, "name": format!("Release {tag}"),
                "draft": false, "prerelease": false, "published_at": at(secs), "created_at": at(secs),
                "html_url": format!("https://github.com/{repo}/releases/tag/{tag}")}));
        });
    }

    /// Edits release `id` at `at(secs)`: renamed, as a person would (GitHub's REST form of a
    /// release has no update time; the fake's GraphQL side reads the one recorded here).
    pub fn edit_release(&self, repo: &str, id: u64, name: &str, secs: i64) {
        self.with_repo(repo, |r| {
            for v in r.releases.iter_mut().filter(|v| v["id"] == id) {
                v["name"] = json!(name);
                v["updated_at"] = json!(at(secs));
            }
        });
    }

    pub fn add_deployment(&self, repo: &str, id: u64, env: &str, secs: i64) {
        self.with_repo(repo, |r| {
            r.deployments.insert(
                0,
                json!({"id": id, "environment": env, "ref": "main", "sha": "abc",
                "creator": {"login": "deployer"}, "created_at": at(secs), "updated_at": at(secs),
                "url": format!("https://api.github.com/repos/{repo}/deployments/{id}")}),
            );
        });
    }

    /// Serves as GitHub does for a GitHub App with id `app_id` whose public key is
    /// `public_key_pem` (and a personal token, when given): see `sync_fake_org`.
    pub fn enable_org(&self, app_id: &str, public_key_pem: &str, pat: Option<&str>) {
        self.with(|i| {
            let mut o = org::Org::new(app_id, public_key_pem);
            o.pat = pat.map(String::from);
            i.org = Some(o);
        });
    }

    /// The organisation side, to set up or inspect.
    pub fn org<T>(&self, f: impl FnOnce(&mut org::Org) -> T) -> T {
        self.with(|i| f(i.org.as_mut().expect("enable_org first")))
    }

    /// Adds installation `id` on `account` holding `repos` (each created when missing).
    pub fn add_installation(&self, id: u64, account: &str, repos: &[&str]) {
        for r in repos {
            self.add_repo(r);
        }
        self.org(|o| {
            o.installations.push(org::FakeInstallation {
                id,
                account: account.to_owned(),
                repos: repos.iter().map(|r| r.to_string()).collect(),
            })
        });
    }

    /// Every answer takes `d`.
    pub fn set_delay(&self, d: std::time::Duration) {
        self.with(|i| i.delay = Some(d));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.with(|i| i.log.clone())
    }

    pub fn clear_log(&self) {
        self.with(|i| i.log.clear());
    }
}

fn commit_json(repo: &str, sha: &str, message: &str, author: &str, secs: i64) -> Value {
    let date = at(secs);
    json!({
        "sha": sha, "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "commit": {"message": message, "author": {"name": author, "date": date},
                   "committer": {"name": author, "date": date}},
        "author": {"login": author.to_lowercase()},
    })
}

/// Newest first, as GitHub lists them.
fn sort_commits(commits: &mut [Value]) {
    commits.sort_by_cached_key(|c| std::cmp::Reverse(date_of(c, "/commit/committer/date")));
}

fn issue_json(repo: &str, n: u64, state: &str, secs: i64, pr: Option<Value>) -> Value {
    let mut v = json!({
        "id": 1_000_000 + n, "number": n, "title": format!("Issue {n}"), "state": state, "user": {"login": "reporter"},
        "labels": [{"name": "bug"}], "created_at": at(secs), "updated_at": at(secs),
        "closed_at": if state == "closed" { json!(at(secs)) } else { Value::Null },
        "html_url": format!("https://github.com/{repo}/issues/{n}"),
    });
    if let Some(pr) = pr {
        v["pull_request"] = pr;
    }
    v
}

fn date_of(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": message,
        "documentation_url": "https://docs.github.com/rest"}))
}

impl Respond for FakeGithub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut inner = self.inner.lock().unwrap();
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let Inner {
            org, repos, base, ..
        } = &mut *inner;
        let org_answer = org
            .as_mut()
            .and_then(|o| org::route(o, repos, base, req, &query));
        let (status, res) = match org_answer {
            Some(answer) => answer,
            None => {
                let (status, res) = inner.handle(req, &query);
                match inner.org.as_mut() {
                    Some(o) => org::spend_repo(o, req, status, res),
                    None => (status, res),
                }
            }
        };
        let res = match inner.delay {
            Some(d) => res.set_delay(d),
            None => res,
        };
        inner.log.push(Logged {
            path: req.url.path().trim_start_matches("/repos/").to_owned(),
            query,
            conditional: req.headers.contains_key("if-none-match"),
            status,
        });
        if inner.org.is_some() {
            return res;
        }
        res.insert_header("x-ratelimit-limit", "5000")
            .insert_header(
                "x-ratelimit-remaining",
                if matches!(inner.mode, Mode::RateLimited { .. }) {
                    "0"
                } else {
                    "4999"
                },
            )
    }
}

impl Inner {
    fn handle(&self, req: &Request, q: &BTreeMap<String, String>) -> (u16, ResponseTemplate) {
        let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
        if req.method.as_str() != "GET" {
            return (404, error(404, "Not Found"));
        }
        if header("user-agent").is_none_or(str::is_empty) {
            return (403, error(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"));
        }
        if header("accept") != Some("application/vnd.github+json") {
            return (415, error(415, "Unsupported 'Accept' header"));
        }
        if header("x-github-api-version") != Some("2022-11-28") {
            return (400, error(400, "Invalid API version"));
        }
        if let (Some(token), None) = (&self.token, &self.org) {
            if header("authorization") != Some(&format!("Bearer {token}")) {
                return (401, error(401, "Bad credentials"));
            }
        }
        match self.mode {
            Mode::Normal => {}
            Mode::RateLimited { reset } => {
                let r = error(403, "API rate limit exceeded for installation.")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str());
                return (403, r);
            }
            Mode::Failing(code) => return (code, error(code, "Server Error")),
        }
        let path = req.url.path();
        let parts: Vec<&str> = path.trim_start_matches("/repos/").split('/').collect();
        if !path.starts_with("/repos/") || parts.len() < 2 {
            return (404, error(404, "Not Found"));
        }
        let Some(repo) = self.repos.get(&format!("{}/{}", parts[0], parts[1])) else {
            return (404, error(404, "Not Found"));
        };
        let name = format!("{}/{}", parts[0], parts[1]);
        let since = q.get("since");
        let newer = |v: &&Value, p: &str| since.is_none_or(|s| date_of(v, p) >= *s);
        let state = q.get("state").map(String::as_str).unwrap_or("open");
        let in_state = |v: &&Value| state == "all" || v["state"] == state;
        let body: Value = match &parts[2..] {
            [] => {
                json!({"full_name": name, "description": "A Helix repository", "html_url": format!("https://github.com/{name}"),
                         "default_branch": "main", "stargazers_count": repo.stars, "forks_count": 2,
                         "open_issues_count": repo.issues.iter().filter(|i| i["state"] == "open").count(),
                         "pushed_at": repo.commits.first().map(|c| date_of(c, "/commit/committer/date"))})
            }
            ["languages"] => json!({"Rust": 12000, "Python": 3400}),
            ["readme"] if repo.readme => json!({"name": "README.md", "path": "README.md"}),
            ["commits"] => {
                return list(
                    &self.base,
                    req,
                    q,
                    repo.commits
                        .iter()
                        .filter(|c| newer(c, "/commit/committer/date"))
                        .collect(),
                )
            }
            ["issues"] => {
                return list(
                    &self.base,
                    req,
                    q,
                    repo.issues
                        .iter()
                        .filter(in_state)
                        .filter(|i| newer(i, "/updated_at"))
                        .collect(),
                )
            }
            ["pulls"] => {
                let mut pulls: Vec<&Value> = repo.pulls.iter().filter(in_state).collect();
                if q.get("sort").map(String::as_str) == Some("updated") {
                    pulls.sort_by_key(|p| std::cmp::Reverse(date_of(p, "/updated_at")));
                }
                return list(&self.base, req, q, pulls);
            }
            ["releases"] => return list(&self.base, req, q, repo.releases.iter().collect()),
            ["deployments"] => return list(&self.base, req, q, repo.deployments.iter().collect()),
            _ => return (404, error(404, "Not Found")),
        };
        respond_json(req, &body, None)
    }
}

/// One page of a list, with `Link` when there are more.
fn list(
    base: &str,
    req: &Request,
    q: &BTreeMap<String, String>,
    items: Vec<&Value>,
) -> (u16, ResponseTemplate) {
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
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<&Value> = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .copied()
        .collect();
    let link_to = |n: usize| {
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
            .append_pair("page", &n.to_string());
        url.to_string()
    };
    let link = (page < last).then(|| {
        format!(
            r#"<{}>; rel="next", <{}>; rel="last""#,
            link_to(page + 1),
            link_to(last)
        )
    });
    respond_json(req, &json!(slice), link)
}

fn respond_json(req: &Request, body: &Value, link: Option<String>) -> (u16, ResponseTemplate) {
    let bytes = serde_json::to_vec(body).unwrap();
    let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let matches = req
        .headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if matches {
        return (
            304,
            ResponseTemplate::new(304).insert_header("etag", etag.as_str()),
        );
    }
    let mut r = ResponseTemplate::new(200)
        .set_body_raw(bytes, "application/json; charset=utf-8")
        .insert_header("etag", etag.as_str());
    if let Some(l) = link {
        r = r.insert_header("link", l.as_str());
    }
    (200, r)
}
