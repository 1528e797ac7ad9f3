//! Jobs: the filtered list (dead letters, failed, running…), one job with its attempts,
//! retry or cancel of one job, and of every job matching a filter after a confirmation.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::events::query;
use super::login::Empty;
use super::page::{ok, render, PageError};
use super::session::{done, Form, Session};
use crate::auth::Role;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::service::events::FieldErrors;
use crate::service::jobs::{self as service, JobQuery, CANCELLABLE, KINDS, RETRYABLE};
use crate::store::{JobState, BULK_MAX};
use crate::sync::snapshot::TARGET_NAMES;

async fn list_page(
    state: &AppState,
    session: &Session,
    q: &JobQuery,
    errors: Option<FieldErrors>,
) -> Result<Response, PageError> {
    let parsed = q.parse();
    let errors = errors.or_else(|| parsed.as_ref().err().cloned());
    let (page, status) = match (&errors, parsed) {
        (None, Ok((filter, cursor))) => (
            Some(service::jobs(state, &filter, &cursor).await?),
            StatusCode::OK,
        ),
        _ => (None, StatusCode::BAD_REQUEST),
    };
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let ctx = context! {
        title => "Jobs",
        nav => "jobs",
        q => Serde(q),
        query => q.query_string(),
        errors => Serde(&errors),
        page => Serde(&page),
        states => states,
        kinds => Serde(KINDS),
        targets => Serde(TARGET_NAMES),
        retryable => Serde(RETRYABLE),
        cancellable => Serde(CANCELLABLE),
    };
    Ok(render(status, "jobs.html", Some(session), ctx))
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    list_page(&state, &session, &q, None).await
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let j = service::job(&state, &id).await?;
    let ctx = context! {
        title => format!("Job {id}"),
        nav => "jobs",
        j => Serde(&j),
        retryable => Serde(RETRYABLE),
        cancellable => Serde(CANCELLABLE),
        payload => serde_json::to_string_pretty(&j.detail.job.payload).unwrap_or_default(),
    };
    Ok(ok("job.html", &session, ctx))
}

/// `retry` or `cancel`.
fn is_retry(action: &str) -> Result<bool, PageError> {
    match action {
        "retry" => Ok(true),
        "cancel" => Ok(false),
        other => Err(ApiError::NotFound(format!("no job action {other:?}")).into()),
    }
}

pub async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    form: Form<Empty>,
) -> Result<Response, PageError> {
    let retry = is_retry(&action)?;
    service::act(&state, &form.session.who, &id, retry).await?;
    let message = if retry {
        format!("Job {id} is queued again.")
    } else {
        format!("Job {id} is cancelled.")
    };
    Ok(done(
        &state.config,
        &format!("/console/jobs/{id}"),
        &message,
    ))
}

/// The bulk form: the filter plus the action.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BulkQuery {
    #[serde(flatten)]
    pub filter: JobQuery,
    pub action: String,
}

pub async fn confirm_bulk(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<BulkQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    session
        .who
        .require(Role::Operator)
        .map_err(ApiError::from)?;
    let retry = is_retry(&q.action)?;
    let (filter, _) = match q.filter.parse() {
        Ok(f) => f,
        Err(errors) => return list_page(&state, &session, &q.filter, Some(errors)).await,
    };
    let count = service::count_matching(&state, &filter, retry).await?;
    let mut fields: Vec<(&str, &str)> = [
        ("state", q.filter.state.as_str()),
        ("kind", q.filter.kind.as_str()),
        ("target", q.filter.target.as_str()),
        ("error", q.filter.error.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .collect();
    fields.push(("action", q.action.as_str()));
    let (verb, states) = if retry {
        ("Retry", RETRYABLE)
    } else {
        ("Cancel", CANCELLABLE)
    };
    let ctx = context! {
        title => format!("{verb} jobs"),
        nav => "jobs",
        heading => format!("{verb} every matching job that is {}", states.join(", ")),
        count => count,
        cap => BULK_MAX,
        noun => "job",
        verb => verb,
        action => "/console/jobs/bulk",
        fields => Serde(&fields),
        back => format!("/console/jobs?{}", q.filter.query_string()),
    };
    Ok(ok("confirm.html", &session, ctx))
}

pub async fn bulk(
    State(state): State<AppState>,
    form: Form<BulkQuery>,
) -> Result<Response, PageError> {
    let q = &form.data;
    let retry = is_retry(&q.action)?;
    let (filter, _) = match q.filter.parse() {
        Ok(f) => f,
        Err(errors) => return list_page(&state, &form.session, &q.filter, Some(errors)).await,
    };
    let n = service::act_matching(
        &state,
        &form.session.who,
        &filter,
        &q.filter.query_string(),
        retry,
    )
    .await?;
    let message = if retry {
        format!("{n} job(s) queued again.")
    } else {
        format!("{n} job(s) cancelled.")
    };
    Ok(done(
        &state.config,
        &format!("/console/jobs?{}", q.filter.query_string()),
        &message,
    ))
}
