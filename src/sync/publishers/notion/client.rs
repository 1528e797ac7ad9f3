//! A thin Notion API client: headers, pacing, and the mapping of Notion's answers to
//! [`PublishError`].
//!
//! Every request first takes a token from the `notion` lane's bucket in the store, shared by
//! every worker and replica, because Notion's limit (3 requests/s on average) is per
//! integration, not per delivery or per process. Errors keep Notion's `code` and `message` and nothing else of the body
//! ([`ApiError`], which the publisher may inspect before it becomes a [`PublishError`]);
//! the key is only ever written into the `Authorization` header.

use reqwest::header::RETRY_AFTER;
use reqwest::Method;
use serde_json::Value;

use super::super::limits::truncate;
use super::super::PublishError;
use crate::config::Secret;
use crate::store::{now_ms, Store};

/// The API version whose data-sources model we speak.
pub const NOTION_VERSION: &str = "2025-09-03";

/// An authenticated client for one integration.
pub struct NotionClient<'a> {
    http: &'a reqwest::Client,
    base: String,
    key: &'a Secret,
    store: &'a Store,
    rate: f64,
}

/// The lane (see `store::lanes`) whose token bucket paces every Notion request.
const LANE: &str = "notion";

impl<'a> NotionClient<'a> {
    pub fn new(
        http: &'a reqwest::Client,
        base: &str,
        key: &'a Secret,
        store: &'a Store,
        rate: f64,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            store,
            rate,
        }
    }

    /// Takes a request token from the store's bucket, shared by every worker and replica.
    /// A wait longer than a moment goes back to the queue as a rate-limited retry (the
    /// delivery's saved progress makes it resume), so no worker sleeps on Notion's limit.
    async fn acquire(&self, what: &str) -> Result<(), ApiError> {
        let burst = self.rate.clamp(1.0, 3.0);
        let due = self
            .store
            .take_token(LANE, self.rate, burst, now_ms())
            .await
            .map_err(|e| ApiError::unanswered(what, &format!("store: {e}")))?;
        match due {
            None => Ok(()),
            Some(at) => super::super::sit_out(at)
                .await
                .map_err(|at| ApiError::paced(what, at)),
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
        let what = format!("{method} {path}");
        self.acquire(&what).await?;
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

    /// Our own pacing (the shared token bucket) says: not before `at` (unix ms).
    pub fn paced(what: &str, at: i64) -> Self {
        Self {
            status: Some(429),
            code: "paced".into(),
            message: "waiting for the shared request budget (3 requests/s)".into(),
            retry_after: Some((at - now_ms()).max(0) as f64 / 1000.0),
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
