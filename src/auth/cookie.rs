//! The session cookie: its name, its attributes, and reading it back. Shared by the console
//! (login, every page) and the HTTP edge's WebSocket, which accepts a console session too.
//!
//! `Secure` is decided by `HELIX_PUBLIC_URL`: an `https://` public URL means browsers reach
//! us over TLS (usually through a proxy that terminates it), so the cookie is `Secure` and
//! takes the `__Host-` prefix (which also pins it to our host and path `/`). We do not look
//! at `X-Forwarded-Proto`: any client can send that header, and we have no list of trusted
//! proxies to tell a real one from a forged one; the operator states the public URL once.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::config::Config;

/// Whether cookies are `Secure` (see the module docs).
pub fn secure(config: &Config) -> bool {
    config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

/// The session cookie's name.
pub fn cookie_name(config: &Config) -> &'static str {
    if secure(config) {
        "__Host-helix_session"
    } else {
        "helix_session"
    }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` when [`secure`].
pub fn set_cookie(secure: bool, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&v).expect("cookie values are base64url or percent-encoded")
}

/// A cookie's value from the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
