//! Console sessions: a random cookie value whose SHA-256 is the session's key in the store,
//! with a fixed lifetime and its own CSRF token (the synchronizer token every console form
//! carries back).

use super::{random_secret, secret_hash, AuthError, Principal, Role, Via};
use crate::store::Store;

/// How long a session lasts from login (a working day).
pub const LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// A new session's cookie value and CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
}

/// Opens a session for user `user_id`.
pub async fn open(store: &Store, user_id: &str, now: i64) -> Result<NewSession, AuthError> {
    let cookie = random_secret("");
    let csrf = random_secret("");
    store
        .insert_session(
            &secret_hash(&cookie),
            user_id,
            &csrf,
            now,
            now + LIFETIME_MS,
        )
        .await?;
    Ok(NewSession { cookie, csrf })
}

/// The live session behind a cookie value: its principal and CSRF token.
pub async fn find(
    store: &Store,
    cookie: &str,
    now: i64,
) -> Result<Option<(Principal, String)>, AuthError> {
    Ok(store.session(&secret_hash(cookie), now).await?.map(|s| {
        let principal = Principal {
            name: s.username,
            role: Role::parse(&s.role).unwrap_or(Role::Viewer),
            via: Via::Session,
        };
        (principal, s.csrf)
    }))
}

/// Ends the session behind a cookie value.
pub async fn close(store: &Store, cookie: &str) -> Result<(), AuthError> {
    Ok(store.delete_session(&secret_hash(cookie)).await?)
}
