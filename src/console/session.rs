//! The console's session cookie, its CSRF token, and the two extractors every handler uses:
//! [`Session`] (a logged-in user, else a redirect to the login page) and [`Form`] (a session
//! plus a form body whose `csrf` field matches the session's, else 403).
//!
//! `Secure` is decided by `HELIX_PUBLIC_URL`: an `https://` public URL means browsers reach
//! us over TLS (usually through a proxy that terminates it), so the cookie is `Secure` and
//! takes the `__Host-` prefix (which also pins it to our host and path `/`). We do not look
//! at `X-Forwarded-Proto`: any client can send that header, and we have no list of trusted
//! proxies to tell a real one from a forged one; the operator states the public URL once.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::page::PageError;
use crate::auth::{self, Principal, Role};
use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::store::now_ms;

/// Largest form body read.
const FORM_LIMIT: usize = 64 * 1024;
/// The flash message cookie (one message, shown once on the next page).
const FLASH: &str = "helix_flash";
/// The login form's double-submit cookie (there is no session yet to hold a token).
pub const LOGIN_CSRF: &str = "helix_login";

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

/// A logged-in user, with the session's CSRF token and the pending flash message.
#[derive(Debug, Clone)]
pub struct Session {
    pub who: Principal,
    pub csrf: String,
    pub flash: Option<String>,
    /// Whether cookies are `Secure` here (see [`secure`]).
    pub secure: bool,
}

impl Session {
    pub fn can_act(&self) -> bool {
        self.who.role >= Role::Operator
    }

    pub fn is_admin(&self) -> bool {
        self.who.role >= Role::Admin
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = match cookie(&parts.headers, cookie_name(&state.config)) {
            Some(c) => auth::session::find(&state.store, c, now_ms())
                .await
                .map_err(|e| PageError::from(ApiError::Internal(e.to_string())).into_response())?,
            None => None,
        };
        let Some((who, csrf)) = found else {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/console", |p| p.as_str());
            let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
            return Err(Redirect::to(&format!("/console/login?next={next}")).into_response());
        };
        let flash = cookie(&parts.headers, FLASH).map(|v| {
            form_urlencoded::parse(format!("m={v}").as_bytes())
                .next()
                .map(|(_, m)| m.into_owned())
                .unwrap_or_default()
        });
        Ok(Session {
            who,
            csrf,
            flash,
            secure: secure(&state.config),
        })
    }
}

/// A CSRF-checked form post from a logged-in user.
pub struct Form<T> {
    pub session: Session,
    pub data: T,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct CsrfField {
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes: Bytes = crate::http::error::read_body(&parts.headers, body, FORM_LIMIT)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let token: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        if !auth::same(&token.csrf, &session.csrf) {
            tracing::warn!(user = %session.who.name, "console form with a missing or wrong CSRF token");
            return Err(PageError::from(ApiError::Forbidden(
                "the form's CSRF token is missing or wrong: reload the page and try again".into(),
            ))
            .into_response());
        }
        let data = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            PageError::from(ApiError::BadRequest(format!("invalid form: {e}"))).into_response()
        })?;
        Ok(Form { session, data })
    }
}

/// A 303 to `to` that leaves `message` for the next page.
pub fn done(config: &Config, to: &str, message: &str) -> Response {
    let encoded: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(secure(config), FLASH, &encoded, "/console", 60),
    );
    res
}

/// The `Set-Cookie` that clears the flash once shown.
pub fn clear_flash(secure: bool) -> HeaderValue {
    set_cookie(secure, FLASH, "", "/console", 0)
}
