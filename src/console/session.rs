//! The console's session, its CSRF token, and the two extractors every handler uses:
//! [`Session`] (a logged-in user, else a redirect to the login page) and [`Form`] (a session
//! plus a form body whose `csrf` field matches the session's, else 403). The cookies
//! themselves (names, `Secure`, reading and writing) are `auth::cookie`'s, shared with the
//! WebSocket's login check.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::page::{PageError, Viewer, FLASH};
pub use crate::auth::cookie::{cookie, cookie_name, secure, set_cookie};
use crate::auth::{self, Principal, Role};
use crate::config::Config;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::store::now_ms;

/// Largest form body read.
const FORM_LIMIT: usize = 64 * 1024;
/// The login form's double-submit cookie (there is no session yet to hold a token).
pub const LOGIN_CSRF: &str = "helix_login";

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

impl<'a> From<&'a Session> for Viewer<'a> {
    fn from(s: &'a Session) -> Self {
        Viewer {
            name: &s.who.name,
            role: s.who.role,
            csrf: &s.csrf,
            flash: s.flash.as_deref(),
            secure: s.secure,
        }
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
