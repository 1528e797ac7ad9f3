//! The dashboard, deliveries (runs × targets, breakers), one run (with its Notion conflicts,
//! generated summary, analytics, its exports and a rollback to it), and the schedules.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use super::login::Empty;
use super::page::{ok, PageError};
use super::session::{done, Form, Session};
use crate::http::AppState;
use crate::service::{self, dashboard};
use crate::sync::exporters::{Scope, FORMATS};
use crate::sync::snapshot::TARGET_NAMES;

pub async fn dashboard(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let d = dashboard::dashboard(&state).await?;
    let ctx = context! {
        title => "Dashboard",
        nav => "dashboard",
        d => Serde(&d),
        target_names => Serde(TARGET_NAMES),
        live => true,
    };
    Ok(ok("dashboard.html", &session, ctx))
}

/// Runs listed on the deliveries page.
const DELIVERY_RUNS: i64 = 50;

pub async fn deliveries(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let runs = service::status::recent_runs(&state, DELIVERY_RUNS)
        .await
        .map_err(service::ServiceError::from)?;
    let targets = dashboard::targets(&state).await?;
    let ctx = context! {
        title => "Deliveries",
        nav => "deliveries",
        runs => Serde(&runs),
        targets => Serde(&targets),
        target_names => Serde(TARGET_NAMES),
        live => true,
    };
    Ok(ok("deliveries.html", &session, ctx))
}

pub async fn run(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let r = dashboard::run(&state, &id).await?;
    let ctx = context! {
        title => format!("Run {id}"),
        nav => "deliveries",
        sources => serde_json::to_string_pretty(&r.run.run.sources).unwrap_or_default(),
        r => Serde(&r),
        formats => Serde(FORMATS),
    };
    Ok(ok("run.html", &session, ctx))
}

/// One of run `id`'s exports, made again from its snapshot by the same service call as
/// `GET /api/export/{format}?run=` (so the same bytes the run wrote). Always a download:
/// an HTML report never runs as a page of the console's origin.
pub async fn export(
    State(state): State<AppState>,
    _session: Session,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let artifact = service::export::export(&state, &format, Scope::Full, Some(&id)).await?;
    // The run exists (else a 404 above), so its id is a store id; still, only safe characters.
    let stem: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let disposition = format!(
        "attachment; filename=\"helix_sync_{stem}.{}\"",
        artifact.extension
    );
    Ok((
        [
            (header::CONTENT_TYPE, artifact.content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        artifact.bytes,
    )
        .into_response())
}

pub async fn schedules(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, PageError> {
    let list = service::schedules::schedules(&state).await?;
    let ctx = context! {
        title => "Schedules",
        nav => "schedules",
        schedules => Serde(&list),
        enabled => state.config.sync_enabled,
    };
    Ok(ok("schedules.html", &session, ctx))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RunNow {
    name: String,
}

pub async fn run_now(
    State(state): State<AppState>,
    form: Form<RunNow>,
) -> Result<Response, PageError> {
    let id = service::schedules::run_now(&state, &form.session.who, &form.data.name).await?;
    Ok(done(
        &state.config,
        "/console/schedules",
        &format!("Queued schedule {} now as job {id}.", form.data.name),
    ))
}

/// Publishes run `id`'s state again (operator): the same service call as the API's and MCP's
/// rollback, audited there.
pub async fn rollback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Empty>,
) -> Result<Response, PageError> {
    let outcome = service::rollback::requested(&state, &form.session.who, &id).await?;
    Ok(done(
        &state.config,
        &format!("/console/runs/{}", outcome.run_id),
        &format!(
            "Rolled back to run {id}: run {} publishes its state again.",
            outcome.run_id
        ),
    ))
}
