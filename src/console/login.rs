//! `GET/POST /console/login` and `POST /console/logout`.
//!
//! The login form has no session to hold a CSRF token yet, so it uses a double-submit token:
//! a random value in a `SameSite=Strict` cookie and the same value in a hidden field; a
//! cross-site form can set neither. Wrong name and wrong password read the same, and the
//! rate limit (`auth::limiter`) answers 429 without checking the password.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::context;
use serde::Deserialize;

use super::page::{render, PageError, Viewer};
use super::session::{cookie, cookie_name, secure, set_cookie, Form, LOGIN_CSRF};
use crate::auth;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::service::users::{login as check_login, LoginError};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Next {
    next: String,
}

/// Only our own console pages are followed after login (no open redirect).
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with("/console") && !next.starts_with("//") && !next.contains('\\');
    if ok && next != "/console/login" {
        next
    } else {
        "/console"
    }
}

async fn login_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    error: Option<String>,
    name: &str,
) -> Response {
    let token = auth::random_secret("");
    // A fresh install has nobody to sign in as: say how to make the first admin. A store
    // that does not answer shows no hint rather than a wrong one.
    let first_run = crate::service::users::none_yet(state)
        .await
        .unwrap_or(false);
    let ctx = context! {
        title => "Sign in",
        login_csrf => token.clone(),
        next => safe_next(next).to_owned(),
        error => error,
        username => name.to_owned(),
        first_run => first_run,
    };
    let mut res = render(status, "login.html", None::<Viewer>, ctx);
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            secure(&state.config),
            LOGIN_CSRF,
            &token,
            "/console/login",
            3600,
        ),
    );
    res
}

pub async fn form(State(state): State<AppState>, Query(q): Query<Next>) -> Response {
    login_page(&state, StatusCode::OK, &q.next, None, "").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, PageError> {
    let bytes = crate::http::error::read_body(&headers, body, 16 * 1024).await?;
    let f: LoginForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid form: {e}")))?;
    let expected = cookie(&headers, LOGIN_CSRF).unwrap_or("");
    if expected.is_empty() || !auth::same(expected, &f.csrf) {
        return Err(ApiError::Forbidden(
            "the login form's CSRF token is missing or wrong: reload the page and try again".into(),
        )
        .into());
    }
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip());
    match check_login(
        &state,
        &state.edge().logins,
        f.username.trim(),
        &f.password,
        address,
    )
    .await
    {
        Ok((_, s)) => {
            let secure = secure(&state.config);
            let mut res = Redirect::to(safe_next(&f.next)).into_response();
            let age = auth::session::LIFETIME_MS / 1000;
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(secure, cookie_name(&state.config), &s.cookie, "/", age),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(secure, LOGIN_CSRF, "", "/console/login", 0),
            );
            Ok(res)
        }
        Err(LoginError::Wrong) => Ok(login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &f.next,
            Some(LoginError::Wrong.to_string()),
            &f.username,
        )
        .await),
        Err(e @ LoginError::Limited(_)) => Ok(login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &f.next,
            Some(e.to_string()),
            &f.username,
        )
        .await),
        Err(LoginError::Service(e)) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form<Empty>,
) -> Result<Response, PageError> {
    if let Some(c) = cookie(&headers, cookie_name(&state.config)) {
        auth::session::close(&state.store, c)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    crate::service::users::audit(
        &state,
        &form.session.who,
        "logout",
        &form.session.who.name,
        None,
    )
    .await;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            secure(&state.config),
            cookie_name(&state.config),
            "",
            "/",
            0,
        ),
    );
    Ok(res)
}
