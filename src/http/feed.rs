//! `GET /api/sync/latest.json`: the portal feed, readable from any origin.
//!
//! It serves the very bytes the portal publisher wrote (`EXPORT_PATH/portal/api/sync/
//! latest.json`), so the static site and the API can never disagree. The ETag is a hash of
//! those bytes and a matching `If-None-Match` gets a 304; the typed headers come from the
//! `headers` crate rather than hand parsing. CORS is `*`, preflight included, because the
//! feed is public and carries no credentials. It never reads the database.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use headers::{CacheControl, ContentType, ETag, HeaderMapExt, IfNoneMatch};
use sha2::{Digest, Sha256};
use tower_http::cors::{Any, CorsLayer};

use super::error::ApiError;
use super::AppState;
use crate::sync::publishers::portal::latest_path;

/// How long a client or CDN may reuse the feed without asking again.
const MAX_AGE: Duration = Duration::from_secs(30);

pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::HEAD])
        .allow_headers([axum::http::header::IF_NONE_MATCH])
        .expose_headers([axum::http::header::ETAG]);
    // OPTIONS needs a route of its own: the app-wide method-not-allowed fallback would
    // otherwise answer the preflight before the CORS layer sees it. The layer answers it.
    let route = get(latest).options(|| async { StatusCode::NO_CONTENT });
    Router::new().route("/api/sync/latest.json", route.layer(cors))
}

async fn latest(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let path = latest_path(&state.config);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound(
                "no sync run has been published yet".into(),
            ))
        }
        Err(e) => {
            return Err(ApiError::Internal(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let etag: ETag = format!("\"{}\"", &digest[..32])
        .parse()
        .expect("a quoted hex string is a valid ETag");
    let mut out = HeaderMap::new();
    out.typed_insert(etag.clone());
    out.typed_insert(CacheControl::new().with_public().with_max_age(MAX_AGE));
    let fresh = headers
        .typed_get::<IfNoneMatch>()
        .is_some_and(|inm| !inm.precondition_passes(&etag));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.typed_insert(ContentType::json());
    Ok((StatusCode::OK, out, bytes).into_response())
}
