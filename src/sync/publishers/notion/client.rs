//! A thin Notion API client: headers, the client-side rate limiter, and the mapping of
//! Notion's answers to [`PublishError`].
//!
//! Every request goes through one token bucket per (API base, integration key) for the
//! whole process, because Notion's limit (3 requests/s on average) is per integration, not
//! per delivery. Errors keep Notion's `code` and `message` and nothing else of the body
//! ([`ApiError`], which the publisher may inspect before it becomes a [`PublishError`]);
//! the key is only ever written into the `Authorization` header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::super::limits::truncate;
use super::super::PublishError;
use crate::config::Secret;
use crate::store::now_ms;

/// The API version whose data-sources model we speak.
pub const NOTION_VERSION: &str = "2025-09-03";

/// A token bucket: `rate` tokens a second, holding at most `burst`. A caller that finds it
/// empty reserves the next token (the count goes negative) and sleeps until it is due, so
/// concurrent callers queue in order and the long-run average never exceeds `rate`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            3.0
        };
        let burst = burst.max(1.0);
        Self {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        if let Some(w) = self.reserve(Instant::now()) {
            tokio::time::sleep(w).await;
        }
    }

    /// Takes a token at `now`; returns how long to wait before using it.
    fn reserve(&self, now: Instant) -> Option<Duration> {
        let mut guard = self.state.lock().expect("limiter lock is never poisoned");
        let (tokens, last) = &mut *guard;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now.max(*last);
        *tokens -= 1.0;
        (*tokens < 0.0).then(|| Duration::from_secs_f64(-*tokens / self.rate))
    }

    /// The process-wide limiter of one integration.
    fn shared(base: &str, key: &Secret, rate: f64) -> Arc<RateLimiter> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<RateLimiter>>>> = OnceLock::new();
        let digest = hex::encode(Sha256::digest(key.expose().as_bytes()));
        let id = format!("{base}|{}|{rate}", &digest[..16]);
        let mut map = ALL
            .get_or_init(Default::default)
            .lock()
            .expect("limiter map lock is never poisoned");
        map.entry(id)
            .or_insert_with(|| Arc::new(RateLimiter::new(rate, rate.clamp(1.0, 3.0))))
            .clone()
    }
}

/// An authenticated client for one integration.
pub struct NotionClient<'a> {
    http: &'a reqwest::Client,
    base: String,
    key: &'a Secret,
    limiter: Arc<RateLimiter>,
}

impl<'a> NotionClient<'a> {
    pub fn new(http: &'a reqwest::Client, base: &str, key: &'a Secret, rate: f64) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        let limiter = RateLimiter::shared(&base, key, rate);
        Self {
            http,
            base,
            key,
            limiter,
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// One request after the limiter allows it; non-2xx answers become errors.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        self.limiter.acquire().await;
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Notion-Version", NOTION_VERSION);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| {
            ApiError::unanswered(&format!("{method} {path}"), &e.without_url().to_string())
        })?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        Err(ApiError::answer(
            status,
            retry_after,
            &answer,
            &format!("{method} {path}"),
        ))
    }
}

/// A failed request: Notion's answer (status, `code`, `message`) or a transport failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// `None` when no answer arrived (connection, timeout).
    pub status: Option<u16>,
    pub code: String,
    /// Notion's message, cut to 300 characters (never the whole body).
    pub message: String,
    retry_after: Option<f64>,
    /// `METHOD path`, for the error text.
    what: String,
}

impl ApiError {
    /// Keeps the `code` and `message` of an error answer and nothing else of the body.
    pub fn answer(status: u16, retry_after: Option<f64>, body: &Value, what: &str) -> Self {
        let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
        let code = Some(field("code")).filter(|c| !c.is_empty());
        Self {
            status: Some(status),
            code: code.unwrap_or("unknown").to_owned(),
            message: truncate(field("message"), 300),
            retry_after,
            what: what.to_owned(),
        }
    }

    /// A request that got no usable answer (connection, timeout, an answer missing what it
    /// must hold): worth another attempt.
    pub fn unanswered(what: &str, message: &str) -> Self {
        Self {
            status: None,
            code: String::new(),
            message: message.to_owned(),
            retry_after: None,
            what: what.to_owned(),
        }
    }

    /// Notion refused a property by name or type ("X is not a property that exists.",
    /// "Could not find property with name or id: X", "X is expected to be select."): the
    /// database's schema changed under us, so a fresh schema may fix it.
    pub fn is_property_rejection(&self) -> bool {
        let m = self.message.to_lowercase();
        self.code == "validation_error"
            && (m.contains("property") || m.contains(" is expected to be "))
    }
}

/// Maps a failed request to what the queue should do.
impl From<ApiError> for PublishError {
    fn from(e: ApiError) -> Self {
        let Some(status) = e.status else {
            return PublishError::Retryable(format!("Notion {}: {}", e.what, e.message));
        };
        let text = format!(
            "Notion {} answered {status} {}: {}",
            e.what, e.code, e.message
        );
        match status {
            429 | 529 => PublishError::RateLimited {
                message: text,
                retry_at: now_ms() + (e.retry_after.unwrap_or(1.0).max(0.0) * 1000.0).ceil() as i64,
            },
            408 | 409 | 500..=599 => PublishError::Retryable(text),
            _ => PublishError::Permanent(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limiter_keeps_the_average_rate() {
        let l = RateLimiter::new(3.0, 3.0);
        let t0 = Instant::now();
        // A full bucket lets 3 through at once; the next ones are spaced by 1/3 s.
        let waits: Vec<f64> = (0..6)
            .map(|_| l.reserve(t0).map_or(0.0, |d| d.as_secs_f64()))
            .collect();
        let expect = [0.0, 0.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];
        for (w, e) in waits.iter().zip(expect) {
            assert!((w - e).abs() < 1e-9, "{waits:?}");
        }
        // After 10 idle seconds the bucket is full again, never fuller.
        let later = t0 + Duration::from_secs(10);
        assert!((0..3).all(|_| l.reserve(later).is_none()));
        assert!(l.reserve(later).is_some());
    }

    fn classify(status: u16, retry_after: Option<f64>, body: &Value, what: &str) -> PublishError {
        ApiError::answer(status, retry_after, body, what).into()
    }

    #[test]
    fn property_rejections_are_recognised() {
        let e = |code: &str, message: &str| {
            ApiError::answer(400, None, &json!({"code": code, "message": message}), "x")
        };
        assert!(
            e("validation_error", "Scope is not a property that exists.").is_property_rejection()
        );
        assert!(e("validation_error", "Status is expected to be select.").is_property_rejection());
        assert!(
            !e("validation_error", "body.children.length should be ≤ 100").is_property_rejection()
        );
        assert!(!e("object_not_found", "no property here").is_property_rejection());
    }

    #[test]
    fn errors_keep_code_and_message_only() {
        let body = json!({"object": "error", "status": 400, "code": "validation_error",
                          "message": "Foo is not a property that exists.", "request_id": "r-1"});
        let e = classify(400, None, &body, "POST /v1/pages");
        assert!(matches!(&e, PublishError::Permanent(m)
            if m.contains("validation_error") && m.contains("Foo is not") && !m.contains("r-1")));
        assert!(matches!(
            classify(529, Some(2.0), &Value::Null, "x"),
            PublishError::RateLimited { .. }
        ));
        assert!(classify(409, None, &Value::Null, "x").is_retryable());
        assert!(classify(503, None, &Value::Null, "x").is_retryable());
        assert!(!classify(404, None, &Value::Null, "x").is_retryable());
    }
}
