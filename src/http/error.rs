//! The one mapping from errors to HTTP responses.
//!
//! Every error body is `{"error": code, "message": text}`. Client mistakes get their 4xx;
//! only our own failures are 5xx, and those log the cause and answer with an opaque message,
//! so no internal detail (or secret) leaks into a response. Extractor rejections go through
//! the same mapping via [`AppJson`], so a malformed JSON body is a JSON 400 too.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::ingest::IngestError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A feature whose secret is not set: 503 `not_configured`.
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    Unavailable(String),
    /// A shared limit is reached for now (503 with `Retry-After`).
    #[error("{0}")]
    Busy(String),
    /// Our fault; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotConfigured(_) | ApiError::Unavailable(_) | ApiError::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotConfigured(_) => "not_configured",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let body = Json(json!({"error": self.code(), "message": self.to_string()}));
        let mut res = (status, body).into_response();
        if matches!(self, ApiError::Busy(_)) {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let msg = e.to_string();
        match e {
            IngestError::NotConfigured(_) => ApiError::NotConfigured(msg),
            IngestError::MissingSignature(_)
            | IngestError::InvalidSignature
            | IngestError::InvalidTimestamp(_)
            | IngestError::Unauthorized => ApiError::Unauthorized(msg),
            IngestError::Forbidden(_) => ApiError::Forbidden(msg),
            IngestError::BadRequest(_) => ApiError::BadRequest(msg),
            IngestError::UnsupportedMediaType(_) => ApiError::UnsupportedMediaType(msg),
            IngestError::TooLarge(_) => ApiError::PayloadTooLarge(msg),
            IngestError::Unavailable => ApiError::Unavailable(msg),
            IngestError::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::BadRequest(m) => ApiError::BadRequest(m),
            S::NotFound(m) => ApiError::NotFound(m),
            S::Forbidden(m) => ApiError::Forbidden(m),
            S::Conflict(m) => ApiError::Conflict(m),
            S::Ingest(e) => e.into(),
            S::Store(e) => e.into(),
            S::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        let msg = e.to_string();
        match e {
            crate::auth::AuthError::NotConfigured => ApiError::NotConfigured(msg),
            crate::auth::AuthError::Unauthorized => ApiError::Unauthorized(msg),
            crate::auth::AuthError::Forbidden { .. } => ApiError::Forbidden(msg),
            crate::auth::AuthError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge(b.body_text())
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// `Json` whose rejections are `ApiError`s.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(AppJson(v))
    }
}

/// Reads a whole body up to `limit` bytes: 413 above it (checked against `Content-Length`
/// first, so an honest oversized request is refused before it is read).
pub async fn read_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    read_limited(headers, body, limit, |_| Ok(())).await
}

/// The declared `Content-Length`, when there is a readable one.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// [`read_body`], calling `admit(total)` with the running total before each chunk is kept,
/// so that a caller can refuse to hold more.
pub async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
    mut admit: impl FnMut(usize) -> Result<(), ApiError>,
) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let too_large =
        || ApiError::PayloadTooLarge(format!("body exceeds the limit of {limit} bytes"));
    if declared_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = body;
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        let total = out.len() + chunk.len();
        if total > limit {
            return Err(too_large());
        }
        admit(total)?;
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Whether the request declares a JSON body (`application/json`, parameters allowed).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    content_type(headers)
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
}

/// The raw `Content-Type`, empty when absent or not text.
pub fn content_type(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
