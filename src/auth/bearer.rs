//! `Authorization: Bearer …` for `/api/*` and `/mcp`: `HELIX_API_TOKEN` (the bootstrap
//! admin) or a user's API token, which carries that user's role.
//!
//! The bootstrap token is compared first, in constant time, without touching the store; a
//! user token is found by its SHA-256 (one indexed read). With `HELIX_API_TOKEN` unset and
//! no user token presented, the answer stays what it was before users existed: 503
//! `not_configured`, so a half-configured server says what is missing.

use axum::http::HeaderMap;

use super::{secret_hash, AuthError, Principal, Role, Via};
use crate::config::Secret;
use crate::store::Store;

/// The bearer token of a request, if it carries one.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Who the request's bearer token belongs to.
pub async fn authenticate(
    store: &Store,
    bootstrap: Option<&Secret>,
    headers: &HeaderMap,
) -> Result<Principal, AuthError> {
    let refused = || match bootstrap {
        Some(_) => AuthError::Unauthorized,
        None => AuthError::NotConfigured,
    };
    let token = presented(headers).ok_or_else(refused)?;
    if bootstrap.is_some_and(|b| b.matches(token)) {
        return Ok(Principal::bootstrap());
    }
    match store.token_user(&secret_hash(token)).await? {
        Some((name, role)) => Ok(Principal {
            name,
            // A role this binary does not know (written by a newer one) gets the least.
            role: Role::parse(&role).unwrap_or(Role::Viewer),
            via: Via::Token,
        }),
        None => Err(refused()),
    }
}
