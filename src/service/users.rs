//! Users, API tokens, logins and the audit log: the operations the console's admin pages and
//! the `helix-sync user` commands share (the CLI acting as `cli:<user>`, an admin).
//!
//! Every change is written to the audit log with the acting [`Principal`]; a password or a
//! token never is (nor is it ever returned after the one answer that creates a token).

use crate::timestamp::millis;
use std::net::IpAddr;

use serde::Serialize;

use super::App;
use super::ServiceError;
use crate::auth::{self, password, Principal, Role};
use crate::store::{now_ms, AuditRow, UserRow};

/// Longest user name.
pub const NAME_MAX: usize = 64;

/// A user as lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub username: String,
    pub role: String,
    pub created_at: String,
}

/// A token as lists show it (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: String,
    pub username: String,
    pub name: String,
    pub created_at: String,
}

/// An audit entry as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
}

/// Appends to the audit log. A failure to write it is logged, not raised: the action it
/// describes has already happened.
pub async fn audit(app: &App, who: &Principal, action: &str, target: &str, detail: Option<String>) {
    let row = AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        at: now_ms(),
        actor: who.actor(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    };
    tracing::info!(actor = %row.actor, action, target, "audit");
    if let Err(e) = app.store.insert_audit(&row).await {
        tracing::error!(error = %e, action, target, "could not write the audit log");
    }
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "a user name is 1-{NAME_MAX} characters of letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

fn parse_role(role: &str) -> Result<Role, ServiceError> {
    Role::parse(role).ok_or_else(|| {
        ServiceError::BadRequest(format!(
            "unknown role {role:?}; valid: viewer, operator, admin"
        ))
    })
}

pub async fn add_user(
    app: &App,
    who: &Principal,
    name: &str,
    role: &str,
    pass: &str,
) -> Result<(), ServiceError> {
    who.require(Role::Admin)?;
    check_name(name)?;
    let role = parse_role(role)?;
    password::check(pass).map_err(ServiceError::BadRequest)?;
    let now = now_ms();
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        username: name.to_owned(),
        role: role.as_str().to_owned(),
        password_hash: password::hash(pass.to_owned()).await,
        created_at: now,
        updated_at: now,
    };
    if !app.store.insert_user(&row).await? {
        return Err(ServiceError::Conflict(format!("user {name} exists")));
    }
    audit(
        app,
        who,
        "user.add",
        name,
        Some(format!("role {}", role.as_str())),
    )
    .await;
    Ok(())
}

/// Whether nobody can sign in yet: no user exists (a fresh install).
pub async fn none_yet(app: &App) -> Result<bool, ServiceError> {
    Ok(!app.store.has_users().await?)
}

pub async fn users(app: &App) -> Result<Vec<UserView>, ServiceError> {
    Ok(app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| UserView {
            username: u.username,
            role: u.role,
            created_at: millis(u.created_at),
        })
        .collect())
}

pub async fn remove_user(app: &App, who: &Principal, name: &str) -> Result<(), ServiceError> {
    who.require(Role::Admin)?;
    if !app.store.delete_user(name).await? {
        return Err(ServiceError::NotFound(format!("no user {name}")));
    }
    audit(app, who, "user.remove", name, None).await;
    Ok(())
}

/// Sets a user's password (ending their sessions) and/or role.
pub async fn change_user(
    app: &App,
    who: &Principal,
    name: &str,
    pass: Option<&str>,
    role: Option<&str>,
) -> Result<(), ServiceError> {
    who.require(Role::Admin)?;
    let role = role.map(parse_role).transpose()?;
    if let Some(p) = pass {
        password::check(p).map_err(ServiceError::BadRequest)?;
    }
    let hash = match pass {
        Some(p) => Some(password::hash(p.to_owned()).await),
        None => None,
    };
    let found = app
        .store
        .update_user(name, hash.as_deref(), role.map(Role::as_str), now_ms())
        .await?;
    if !found {
        return Err(ServiceError::NotFound(format!("no user {name}")));
    }
    if pass.is_some() {
        audit(app, who, "user.password", name, None).await;
    }
    if let Some(r) = role {
        audit(
            app,
            who,
            "user.role",
            name,
            Some(format!("role {}", r.as_str())),
        )
        .await;
    }
    Ok(())
}

/// Creates an API token for `username`; returns it (the only time it is ever shown).
pub async fn create_token(
    app: &App,
    who: &Principal,
    username: &str,
    label: &str,
) -> Result<String, ServiceError> {
    who.require(Role::Admin)?;
    let label = label.trim();
    if label.is_empty() || label.len() > 100 {
        return Err(ServiceError::BadRequest(
            "a token needs a name of 1-100 characters".into(),
        ));
    }
    let user = app
        .store
        .user_by_name(username)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no user {username}")))?;
    let token = auth::random_secret("hxs_");
    let id = uuid::Uuid::now_v7().to_string();
    app.store
        .insert_token(&id, &user.id, label, &auth::secret_hash(&token), now_ms())
        .await?;
    audit(
        app,
        who,
        "token.create",
        username,
        Some(format!("{label} ({id})")),
    )
    .await;
    Ok(token)
}

pub async fn tokens(app: &App) -> Result<Vec<TokenView>, ServiceError> {
    Ok(app
        .store
        .tokens()
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            username: t.username,
            name: t.name,
            created_at: millis(t.created_at),
        })
        .collect())
}

pub async fn revoke_token(app: &App, who: &Principal, id: &str) -> Result<(), ServiceError> {
    who.require(Role::Admin)?;
    if !app.store.delete_token(id).await? {
        return Err(ServiceError::NotFound(format!("no token {id}")));
    }
    audit(app, who, "token.revoke", id, None).await;
    Ok(())
}

/// Newest first, before entry `before`.
pub async fn audit_page(
    app: &App,
    who: &Principal,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditView>, ServiceError> {
    who.require(Role::Admin)?;
    Ok(app
        .store
        .audit_page(before, limit)
        .await?
        .into_iter()
        .map(|a| AuditView {
            id: a.id,
            at: millis(a.at),
            actor: a.actor,
            action: a.action,
            target: a.target,
            detail: a.detail,
        })
        .collect())
}

/// Why a login failed. Deliberately vague towards the client: wrong name and wrong
/// password read the same.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong user name or password")]
    Wrong,
    #[error("too many failed logins; try again after {0}")]
    Limited(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Checks a name and password (rate limited) and opens a session.
pub async fn login(
    app: &App,
    limiter: &auth::LoginLimiter,
    name: &str,
    pass: &str,
    address: Option<IpAddr>,
) -> Result<(Principal, auth::session::NewSession), LoginError> {
    let now = now_ms();
    if let Some(until) = limiter.blocked_until(name, address, now) {
        return Err(LoginError::Limited(millis(until)));
    }
    let user = app
        .store
        .user_by_name(name)
        .await
        .map_err(ServiceError::from)?;
    let ok = password::verify(
        user.as_ref().map(|u| u.password_hash.clone()),
        pass.to_owned(),
    )
    .await;
    let Some(user) = user.filter(|_| ok) else {
        limiter.failed(name, address, now);
        tracing::warn!(user = name, ?address, "failed console login");
        return Err(LoginError::Wrong);
    };
    limiter.succeeded(name);
    let session = auth::session::open(&app.store, &user.id, now)
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let who = Principal {
        name: user.username,
        role: Role::parse(&user.role).unwrap_or(Role::Viewer),
        via: auth::Via::Session,
    };
    audit(app, &who, "login", &who.name, None).await;
    Ok((who, session))
}
