//! The GitHub REST client: the required headers, conditional requests, `Link` paging,
//! rate-limit detection and error classification.
//!
//! It knows nothing about cursors or resources: callers pass a URL and an optional ETag and
//! get a page, `NotModified`, or a [`GithubError`] that already names the repo and resource
//! and knows whether retrying can help. Concurrency is capped by a semaphore because GitHub
//! treats bursts of parallel requests from one client as abuse (secondary rate limits).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::config::Secret;
use crate::queue::JobError;
use crate::store::now_ms;

/// Requests in flight at once, across all repositories of a run.
const MAX_IN_FLIGHT: usize = 4;
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
        }
    }

    pub fn retry_at(&self) -> Option<i64> {
        match self {
            GithubError::RateLimited { retry_at, .. } => Some(*retry_at),
            _ => None,
        }
    }

    /// 401, 403 (bad credentials, no access), 404 and other 4xx will fail the same way
    /// again; 408, 5xx and network errors may not.
    pub fn job_error(&self) -> JobError {
        let message = self.to_string();
        match self {
            GithubError::RateLimited { retry_at, .. } => JobError::RateLimited {
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
    token: Option<Secret>,
    permits: Arc<Semaphore>,
    requests: AtomicU64,
    not_modified: AtomicU64,
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str, token: Option<Secret>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        }
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

    /// One GET. `404` is returned as an error like any other status; callers that expect it
    /// (README presence) match on it.
    pub async fn get(
        &self,
        what: &str,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Page, GithubError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut req = self
            .http
            .get(url)
            .header(
                USER_AGENT,
                concat!("helix-sync/", env!("CARGO_PKG_VERSION")),
            )
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
        }
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let res = req.send().await.map_err(|e| GithubError::Transport {
            what: what.to_owned(),
            message: e.to_string(),
        })?;
        let status = res.status();
        let headers = res.headers().clone();
        if let Some(left) = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
        {
            metrics::gauge!("helix_github_rate_limit_remaining").set(left);
        }
        if status == StatusCode::NOT_MODIFIED {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Page::NotModified);
        }
        let text = res.text().await.map_err(|e| GithubError::Transport {
            what: what.to_owned(),
            message: e.to_string(),
        })?;
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

    /// A list endpoint, following `rel="next"` while `more(page_items)` says so. Only page 1
    /// is conditional: its ETag stands for the whole list.
    pub async fn list(
        &self,
        what: &str,
        url: &Url,
        etag: Option<&str>,
        mut more: impl FnMut(&[Value]) -> bool,
    ) -> Result<Option<Listed>, GithubError> {
        let mut out = Listed::default();
        let mut next = Some(url.to_string());
        let mut pages = 0;
        while let Some(page_url) = next.take() {
            let conditional = if pages == 0 { etag } else { None };
            let (body, tag, link) = match self.get(what, &page_url, conditional).await? {
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

/// The URL of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
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
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn rate_limits_are_recognised_with_their_reset_time() {
        let now = 1_000_000;
        let s403 = StatusCode::FORBIDDEN;
        let reset = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2000"),
        ]);
        let e = status_error("GitHub o/r commits", s403, &reset, "{}", now);
        assert_eq!(e.retry_at(), Some(2_000_000));
        assert!(
            e.to_string()
                .starts_with("GitHub o/r commits: GitHub rate limit"),
            "{e}"
        );
        assert!(matches!(
            e.job_error(),
            JobError::RateLimited {
                retry_at: 2_000_000,
                ..
            }
        ));
        let after = headers(&[("retry-after", "30")]);
        assert_eq!(
            status_error("x", s403, &after, "", now).retry_at(),
            Some(now + 30_000)
        );
        let bare429 = status_error(
            "x",
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            "",
            now,
        );
        assert_eq!(bare429.retry_at(), Some(now + 60_000));
    }

    #[test]
    fn other_statuses_are_classified() {
        let h = HeaderMap::new();
        let bad_creds = status_error(
            "GitHub o/r issues",
            StatusCode::FORBIDDEN,
            &h,
            r#"{"message":"Bad credentials"}"#,
            0,
        );
        assert_eq!(
            bad_creds.to_string(),
            "GitHub o/r issues: HTTP 403: Bad credentials"
        );
        assert!(matches!(bad_creds.job_error(), JobError::Permanent(_)));
        for (code, permanent) in [
            (401, true),
            (404, true),
            (422, true),
            (408, false),
            (500, false),
            (502, false),
        ] {
            let e = status_error("x", StatusCode::from_u16(code).unwrap(), &h, "", 0);
            assert_eq!(
                matches!(e.job_error(), JobError::Permanent(_)),
                permanent,
                "{code}"
            );
        }
    }

    #[test]
    fn next_link_is_taken_from_the_link_header() {
        let h = r#"<https://api.github.com/repositories/1/commits?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/commits?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/commits?per_page=100&page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }
}
