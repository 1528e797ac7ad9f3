//! Admin pages: users (add, change role or password, remove), API tokens (create, shown
//! once; revoke) and the audit log.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use super::events::query;
use super::page::{ok, PageError};
use super::session::{done, Form, Session};
use crate::auth::Role;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::service::users as service;

/// Audit entries per page.
const AUDIT_PAGE: i64 = 100;

fn admin(session: &Session) -> Result<(), PageError> {
    session
        .who
        .require(Role::Admin)
        .map_err(|e| ApiError::from(e).into())
}

pub async fn users(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    admin(&session)?;
    let ctx = context! {
        title => "Users and tokens",
        nav => "users",
        users => Serde(&service::users(&state).await?),
        tokens => Serde(&service::tokens(&state).await?),
        roles => Serde(Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
    };
    Ok(ok("users.html", &session, ctx))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewUser {
    username: String,
    role: String,
    password: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    form: Form<NewUser>,
) -> Result<Response, PageError> {
    let f = &form.data;
    service::add_user(
        &state,
        &form.session.who,
        f.username.trim(),
        &f.role,
        &f.password,
    )
    .await?;
    Ok(done(
        &state.config,
        "/console/users",
        &format!("User {} added.", f.username.trim()),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpdateUser {
    username: String,
    role: String,
    password: String,
}

pub async fn update_user(
    State(state): State<AppState>,
    form: Form<UpdateUser>,
) -> Result<Response, PageError> {
    let f = &form.data;
    let pass = Some(f.password.as_str()).filter(|p| !p.is_empty());
    let role = Some(f.role.as_str()).filter(|r| !r.is_empty());
    if pass.is_none() && role.is_none() {
        return Err(ApiError::BadRequest("give a new role or a new password".into()).into());
    }
    service::change_user(&state, &form.session.who, &f.username, pass, role).await?;
    Ok(done(
        &state.config,
        "/console/users",
        &format!("User {} changed.", f.username),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Named {
    username: String,
}

pub async fn remove_user(
    State(state): State<AppState>,
    form: Form<Named>,
) -> Result<Response, PageError> {
    if form.data.username == form.session.who.name {
        return Err(ApiError::Conflict("you cannot remove yourself".into()).into());
    }
    service::remove_user(&state, &form.session.who, &form.data.username).await?;
    Ok(done(
        &state.config,
        "/console/users",
        &format!("User {} removed.", form.data.username),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewToken {
    username: String,
    name: String,
}

/// Creates a token and shows it, once, on the answer itself (never stored, never redirected).
pub async fn create_token(
    State(state): State<AppState>,
    form: Form<NewToken>,
) -> Result<Response, PageError> {
    let f = &form.data;
    let token = service::create_token(&state, &form.session.who, &f.username, &f.name).await?;
    let ctx = context! {
        title => "New API token",
        nav => "users",
        token => token,
        username => f.username.clone(),
        name => f.name.trim().to_owned(),
    };
    Ok(ok("token.html", &form.session, ctx))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenId {
    id: String,
}

pub async fn revoke_token(
    State(state): State<AppState>,
    form: Form<TokenId>,
) -> Result<Response, PageError> {
    service::revoke_token(&state, &form.session.who, &form.data.id).await?;
    Ok(done(&state.config, "/console/users", "Token revoked."))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    before: String,
}

pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    admin(&session)?;
    let before = Some(q.before.trim()).filter(|b| !b.is_empty());
    let entries = service::audit_page(&state, &session.who, before, AUDIT_PAGE).await?;
    let next = (entries.len() as i64 == AUDIT_PAGE)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    let ctx = context! {
        title => "Audit log",
        nav => "audit",
        entries => Serde(&entries),
        next => next,
    };
    Ok(ok("audit.html", &session, ctx))
}
