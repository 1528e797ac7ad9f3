//! The GitHub client: the required headers, the credential of each request (a personal token
//! or the installation token of the repository's App installation, see `auth`), conditional
//! requests, `Link` paging, GraphQL, the rate budget of each token, rate-limit detection and
//! error classification.
//!
//! It knows nothing about cursors or resources: callers pass a URL, an optional ETag and the
//! installation the repository belongs to, and get a page, `NotModified`, or a [`GithubError`]
//! that already names the repo and resource and knows whether retrying can help. Concurrency
//! is capped (`sources.github.max_in_flight`) because GitHub treats bursts of parallel
//! requests from one client as abuse (secondary rate limits). A request a budget cannot
//! afford is not made (`budget`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::GithubState;
use crate::queue::JobError;
use crate::store::now_ms;

/// How often a 401 on a token minted a moment ago is retried, and how long apart.
const FRESH_RETRIES: u32 = 3;
const FRESH_RETRY_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);
/// Largest page GitHub serves.
pub const PER_PAGE: &str = "100";
/// A guard against a server that links pages forever.
const MAX_PAGES: usize = 1000;
/// The wait when GitHub says "rate limited" without saying until when.
const DEFAULT_RATE_LIMIT_WAIT_MS: i64 = 60_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum GithubError {
    #[error("{what}: GitHub rate limit reached ({detail}); retry at {}", crate::timestamp::millis(*retry_at))]
    RateLimited {
        what: String,
        detail: String,
        retry_at: i64,
    },
    #[error("{what}: HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: request failed: {message}")]
    Transport { what: String, message: String },
    #[error("{what}: unexpected response: {message}")]
    Decode { what: String, message: String },
    /// The token's budget is down to the reserve: the request was not made.
    #[error("{what}: GitHub rate budget of {token} ({resource}) is down to {remaining} of {limit}, the reserve kept for everything else; it refills at {}", crate::timestamp::millis(*reset_at))]
    Budget {
        what: String,
        token: String,
        resource: String,
        remaining: u64,
        limit: u64,
        reset_at: i64,
    },
}

impl GithubError {
    /// The same error with any secret the upstream quoted back scrubbed.
    pub fn redacted(self, r: &crate::config::Redactor) -> Self {
        match self {
            GithubError::RateLimited {
                what,
                detail,
                retry_at,
            } => GithubError::RateLimited {
                what: r.redact(&what),
                detail: r.redact(&detail),
                retry_at,
            },
            GithubError::Status {
                what,
                status,
                message,
            } => GithubError::Status {
                what: r.redact(&what),
                status,
                message: r.redact(&message),
            },
            GithubError::Transport { what, message } => GithubError::Transport {
                what: r.redact(&what),
                message: r.redact(&message),
            },
            GithubError::Decode { what, message } => GithubError::Decode {
                what: r.redact(&what),
                message: r.redact(&message),
            },
            b @ GithubError::Budget { .. } => b,
        }
    }

    pub fn retry_at(&self) -> Option<i64> {
        match self {
            GithubError::RateLimited { retry_at, .. } => Some(*retry_at),
            GithubError::Budget { reset_at, .. } => Some(*reset_at),
            _ => None,
        }
    }

    /// Whether this is the budget reserve stopping a request (not GitHub refusing one).
    pub fn is_budget(&self) -> bool {
        matches!(self, GithubError::Budget { .. })
    }

    /// 401, 403 (bad credentials, no access), 404 and other 4xx will fail the same way
    /// again; 408, 5xx and network errors may not.
    pub fn job_error(&self) -> JobError {
        let message = self.to_string();
        match self {
            GithubError::RateLimited { retry_at, .. }
            | GithubError::Budget {
                reset_at: retry_at, ..
            } => JobError::RateLimited {
                message,
                retry_at: *retry_at,
            },
            GithubError::Status { status, .. } if (400..500).contains(status) && *status != 408 => {
                JobError::Permanent(message)
            }
            _ => JobError::Retryable(message),
        }
    }

    pub(super) fn decode(what: &str, message: impl ToString) -> Self {
        GithubError::Decode {
            what: what.to_owned(),
            message: message.to_string(),
        }
    }
}

/// One response page.
#[derive(Debug)]
pub enum Page {
    /// 304: what we hold is current.
    NotModified,
    Fresh {
        body: Value,
        etag: Option<String>,
        next: Option<String>,
    },
}

/// A list fetched page by page: `None` when page 1 answered 304.
#[derive(Debug, Default)]
pub struct Listed {
    pub items: Vec<Value>,
    /// ETag of page 1.
    pub etag: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    state: Arc<GithubState>,
    /// Requests each budget keeps unspent (`sources.github.rate_reserve`).
    reserve: u64,
    permits: Arc<Semaphore>,
    requests: AtomicU64,
    not_modified: AtomicU64,
}

impl Client {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        state: Arc<GithubState>,
        max_in_flight: usize,
        reserve: u64,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            state,
            reserve,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        }
    }

    /// The process-wide GitHub state (authentication, budgets).
    pub fn state(&self) -> &GithubState {
        &self.state
    }

    /// `{base}{path}` with `query`; `path` starts with `/`.
    pub fn url(&self, what: &str, path: &str, query: &[(&str, &str)]) -> Result<Url, GithubError> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| GithubError::decode(what, format!("bad GITHUB_API_URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Requests made and how many were answered 304.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.not_modified.load(Ordering::Relaxed),
        )
    }

    /// One GET about a repository of `installation` (the App's; `None` with a personal
    /// token). `404` is returned as an error like any other status; callers that expect it
    /// (README presence) match on it.
    pub async fn get(
        &self,
        what: &str,
        url: &str,
        etag: Option<&str>,
        installation: Option<u64>,
    ) -> Result<Page, GithubError> {
        let (status, headers, text) = self
            .send(what, "core", installation, |http| {
                let req = http.get(url);
                match etag {
                    Some(tag) => req.header(IF_NONE_MATCH, tag),
                    None => req,
                }
            })
            .await?;
        if status == StatusCode::NOT_MODIFIED {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Page::NotModified);
        }
        if !status.is_success() {
            return Err(status_error(what, status, &headers, &text, now_ms()));
        }
        let body = serde_json::from_str(&text).map_err(|e| GithubError::decode(what, e))?;
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        Ok(Page::Fresh {
            body,
            etag: header(ETAG).map(String::from),
            next: header(LINK).and_then(next_link),
        })
    }

    /// One GraphQL query (`POST /graphql`) as `installation`; its `data`, or its first error.
    pub async fn graphql(
        &self,
        what: &str,
        query: &str,
        variables: Value,
        installation: Option<u64>,
    ) -> Result<Value, GithubError> {
        let url = graphql_url(&self.base);
        let body = serde_json::json!({ "query": query, "variables": variables });
        let (status, headers, text) = self
            .send(what, "graphql", installation, |http| {
                http.post(url.as_str()).json(&body)
            })
            .await?;
        if !status.is_success() {
            return Err(status_error(what, status, &headers, &text, now_ms()));
        }
        let mut answer: Value =
            serde_json::from_str(&text).map_err(|e| GithubError::decode(what, e))?;
        if let Some(e) = answer["errors"].as_array().and_then(|e| e.first()) {
            let message = e["message"].as_str().unwrap_or("GraphQL error").to_owned();
            // GitHub answers what it could beside its errors (a repository deleted since the
            // listing is a null node): the caller gets that part; an answer without data fails.
            if answer["data"].is_object() {
                tracing::warn!(what, error = %message, "GitHub answered the query in part");
                return Ok(answer["data"].take());
            }
            return Err(GithubError::Status {
                what: what.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        Ok(answer["data"].take())
    }

    /// Sends one request (built by `build` on the shared client) with the credential of
    /// `installation`, within the concurrency cap and the budget; notes the budget GitHub
    /// reports. A 401 on an installation token minted a moment ago is GitHub's replication
    /// lag: tried again after a second, a few times.
    async fn send(
        &self,
        what: &str,
        resource: &str,
        installation: Option<u64>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, String), GithubError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut tries = 0;
        loop {
            let now = now_ms();
            let credential = self.state.auth.credential(installation, now).await?;
            if let Err(b) = self
                .state
                .budgets
                .take(&credential.budget, resource, self.reserve, now)
            {
                return Err(GithubError::Budget {
                    what: what.to_owned(),
                    token: b.token,
                    resource: b.resource,
                    remaining: b.remaining,
                    limit: b.limit,
                    reset_at: b.reset_at,
                });
            }
            let mut req = build(&self.http)
                .header(
                    USER_AGENT,
                    concat!("helix-sync/", env!("CARGO_PKG_VERSION")),
                )
                .header(ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(t) = &credential.token {
                req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let budgets = &self.state.budgets;
            let res = match req.send().await {
                Ok(res) => res,
                Err(e) => {
                    budgets.settle(&credential.budget, resource, None, now);
                    return Err(GithubError::Transport {
                        what: what.to_owned(),
                        message: e.without_url().to_string(),
                    });
                }
            };
            let status = res.status();
            let headers = res.headers().clone();
            // A refusal (a 403/429 rate limit) is handled as a wait of its own (the job runs
            // again at the reset); every other answer says what is left to spend.
            let limited = matches!(status.as_u16(), 403 | 429);
            let figures = (!limited).then_some(&headers);
            budgets.settle(&credential.budget, resource, figures, now);
            if status == StatusCode::UNAUTHORIZED
                && tries < FRESH_RETRIES
                && self
                    .state
                    .auth
                    .retry_401(&credential, installation, now_ms())
            {
                tries += 1;
                tokio::time::sleep(FRESH_RETRY_WAIT).await;
                continue;
            }
            let text = if status == StatusCode::NOT_MODIFIED {
                String::new()
            } else {
                res.text().await.map_err(|e| GithubError::Transport {
                    what: what.to_owned(),
                    message: e.without_url().to_string(),
                })?
            };
            return Ok((status, headers, text));
        }
    }

    /// A list endpoint, following `rel="next"` while `more(page_items)` says so. Only page 1
    /// is conditional: its ETag stands for the whole list.
    pub async fn list(
        &self,
        what: &str,
        url: &Url,
        etag: Option<&str>,
        installation: Option<u64>,
        mut more: impl FnMut(&[Value]) -> bool,
    ) -> Result<Option<Listed>, GithubError> {
        let mut out = Listed::default();
        let mut next = Some(url.to_string());
        let mut pages = 0;
        while let Some(page_url) = next.take() {
            let conditional = if pages == 0 { etag } else { None };
            let (body, tag, link) = match self
                .get(what, &page_url, conditional, installation)
                .await?
            {
                Page::NotModified if pages == 0 => return Ok(None),
                Page::NotModified => return Err(GithubError::decode(what, "304 on a later page")),
                Page::Fresh { body, etag, next } => (body, etag, next),
            };
            let Value::Array(items) = body else {
                return Err(GithubError::decode(what, "expected a JSON array"));
            };
            if pages == 0 {
                out.etag = tag;
            }
            pages += 1;
            if more(&items) && pages < MAX_PAGES {
                next = link;
            }
            out.items.extend(items);
        }
        Ok(Some(out))
    }
}

/// The client as one repository's requests see it: with that repository's installation.
pub struct RepoClient<'a> {
    client: &'a Client,
    installation: Option<u64>,
}

impl Client {
    /// Requests about a repository of `installation` (`None` with a personal token).
    pub fn repo(&self, installation: Option<u64>) -> RepoClient<'_> {
        RepoClient {
            client: self,
            installation,
        }
    }
}

impl RepoClient<'_> {
    pub fn url(&self, what: &str, path: &str, query: &[(&str, &str)]) -> Result<Url, GithubError> {
        self.client.url(what, path, query)
    }

    pub async fn get(
        &self,
        what: &str,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Page, GithubError> {
        self.client.get(what, url, etag, self.installation).await
    }

    pub async fn list(
        &self,
        what: &str,
        url: &Url,
        etag: Option<&str>,
        more: impl FnMut(&[Value]) -> bool,
    ) -> Result<Option<Listed>, GithubError> {
        self.client
            .list(what, url, etag, self.installation, more)
            .await
    }
}

/// GitHub's GraphQL endpoint for a REST base: `https://api.github.com/graphql`, and on GitHub
/// Enterprise Server (`https://host/api/v3`) `https://host/api/graphql`.
fn graphql_url(base: &str) -> String {
    match base.strip_suffix("/v3") {
        Some(api) => format!("{api}/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// The URL of `rel="next"` in a `Link` header.
pub(super) fn next_link(header: &str) -> Option<String> {
    parse_link_header::parse_with_rel(header)
        .ok()?
        .remove("next")
        .map(|l| l.raw_uri)
}

/// Classifies a non-2xx answer. A 403 or 429 is a rate limit when it carries `retry-after`
/// or `x-ratelimit-remaining: 0` (a 429 always is); otherwise it is what its status says.
fn status_error(
    what: &str,
    status: StatusCode,
    h: &HeaderMap,
    body: &str,
    now: i64,
) -> GithubError {
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| body.chars().take(200).collect());
    if matches!(status.as_u16(), 403 | 429) {
        let retry_after = header("retry-after").and_then(|v| v.parse::<i64>().ok());
        let exhausted = header("x-ratelimit-remaining") == Some("0");
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
        let retry_at = match (retry_after, exhausted, reset) {
            (Some(secs), _, _) => Some(now + secs.max(0) * 1000),
            (None, true, Some(reset)) => Some((reset * 1000).max(now)),
            (None, true, None) => Some(now + DEFAULT_RATE_LIMIT_WAIT_MS),
            _ if status.as_u16() == 429 => Some(now + DEFAULT_RATE_LIMIT_WAIT_MS),
            _ => None,
        };
        if let Some(retry_at) = retry_at {
            return GithubError::RateLimited {
                what: what.to_owned(),
                detail: format!("HTTP {}: {message}", status.as_u16()),
                retry_at,
            };
        }
    }
    GithubError::Status {
        what: what.to_owned(),
        status: status.as_u16(),
        message,
    }
}

#[cfg(test)]
mod tests;
