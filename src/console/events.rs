//! Events: the filtered list, one event, replay (one, or all matching after a confirmation
//! that shows the count), and the refused requests.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;

use super::login::Empty;
use super::page::{ok, render, PageError};
use super::session::{done, Form, Session};
use crate::auth::Role;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::service::events::{self as service, EventQuery, FieldErrors, SOURCES};
use crate::service::jobs::CANCELLABLE;
use crate::store::{JobState, BULK_MAX};

/// The outcomes the filter offers.
fn outcomes() -> Vec<&'static str> {
    let mut v: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    v.push("none");
    v
}

pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, PageError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text()).into())
}

async fn list_page(
    state: &AppState,
    session: &Session,
    q: &EventQuery,
    errors: Option<FieldErrors>,
) -> Result<Response, PageError> {
    let (page, status) = match (&errors, q.parse()) {
        (None, Ok((filter, cursor))) => (
            Some(service::events(state, &filter, &cursor).await?),
            StatusCode::OK,
        ),
        (Some(_), _) | (None, Err(_)) => (None, StatusCode::BAD_REQUEST),
    };
    let errors = errors.or_else(|| q.parse().err());
    let ctx = context! {
        title => "Events",
        nav => "events",
        q => Serde(q),
        query => q.query_string(),
        errors => Serde(&errors),
        page => Serde(&page),
        values => Serde(&service::filter_values(state).await?),
        sources => Serde(SOURCES),
        outcomes => outcomes(),
    };
    Ok(render(status, "events.html", Some(session), ctx))
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    list_page(&state, &session, &q, None).await
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let e = service::event(&state, &id).await?;
    let ctx = context! {
        title => format!("Event {}", e.delivery_id),
        nav => "events",
        e => Serde(&e),
        cancellable => Serde(CANCELLABLE),
    };
    Ok(ok("event.html", &session, ctx))
}

pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Empty>,
) -> Result<Response, PageError> {
    let r = service::replay(&state, &form.session.who, &id).await?;
    let message = match r.jobs.first() {
        Some(job) => format!("Replayed: queued job {job}."),
        None => "Replayed: under today's rules this event queues nothing.".to_owned(),
    };
    Ok(done(
        &state.config,
        &format!("/console/events/{id}"),
        &message,
    ))
}

/// The confirmation before a bulk replay: how many events the filter matches now.
pub async fn confirm_replay(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    session
        .who
        .require(Role::Operator)
        .map_err(ApiError::from)?;
    let (filter, _) = match q.parse() {
        Ok(f) => f,
        Err(errors) => return list_page(&state, &session, &q, Some(errors)).await,
    };
    let count = service::count_matching(&state, &filter).await?;
    let fields: Vec<(&str, &str)> = [
        ("source", q.source.as_str()),
        ("type", q.event_type.as_str()),
        ("repo", q.repo.as_str()),
        ("delivery", q.delivery.as_str()),
        ("from", q.from.as_str()),
        ("to", q.to.as_str()),
        ("outcome", q.outcome.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .collect();
    let ctx = context! {
        title => "Replay events",
        nav => "events",
        heading => "Replay every matching event",
        count => count,
        cap => BULK_MAX,
        noun => "event",
        verb => "Replay",
        action => "/console/events/replay",
        fields => Serde(&fields),
        back => format!("/console/events?{}", q.query_string()),
    };
    Ok(ok("confirm.html", &session, ctx))
}

pub async fn replay_matching(
    State(state): State<AppState>,
    form: Form<EventQuery>,
) -> Result<Response, PageError> {
    let q = &form.data;
    let (filter, _) = match q.parse() {
        Ok(f) => f,
        Err(errors) => return list_page(&state, &form.session, q, Some(errors)).await,
    };
    let r = service::replay_matching(&state, &form.session.who, &filter, &q.query_string()).await?;
    let message = format!(
        "Replayed {} event(s): {} job(s) queued, {} asked for nothing.",
        r.events,
        r.jobs.len(),
        r.nothing_to_do
    );
    Ok(done(
        &state.config,
        &format!("/console/events?{}", q.query_string()),
        &message,
    ))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct RejectedQuery {
    source: String,
}

pub async fn rejected(
    State(state): State<AppState>,
    session: Session,
    q: Result<Query<RejectedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query(q)?;
    let source = Some(q.source.trim()).filter(|s| !s.is_empty());
    if let Some(s) = source {
        if !SOURCES.contains(&s) {
            return Err(ApiError::BadRequest(format!("unknown source {s:?}")).into());
        }
    }
    let items = service::rejected(&state.edge().rejected, source);
    let ctx = context! {
        title => "Rejected requests",
        nav => "rejected",
        items => Serde(&items),
        source => source,
        sources => Serde(SOURCES),
        capacity => crate::ingest::rejected::CAPACITY,
    };
    Ok(ok("rejected.html", &session, ctx))
}
