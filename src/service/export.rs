//! Producing an export on demand: the API's `GET /api/export/{format}`, the CLI's `export`,
//! the console and the MCP `helix-export` tool all call [`export`], so they return the same
//! bytes for the same run.
//!
//! It loads the run's stored snapshot, its change summary (from the run row), its generated
//! summary and the trend history of the runs up to it ([`load`], which the analytics share),
//! then calls the pure `exporters::export`. It never writes files (that is the sync cycle's
//! `write_exports`) and never reads the clock.

use super::{App, ServiceError};
use crate::sync::exporters::{self, Artifact, ExportInput, HistoryPoint, RunInfo, Scope, FORMATS};
use crate::sync::narrate;
use crate::sync::snapshot::{ChangeSummary, Snapshot};

/// Exports run `run_id`'s snapshot (the latest run's when `None`) in `format` and `scope`.
pub async fn export(
    app: &App,
    format: &str,
    scope: Scope,
    run_id: Option<&str>,
) -> Result<Artifact, ServiceError> {
    check_format(format)?;
    let loaded = load(app, run_id).await?;
    // Rendering is blocking work (a PDF of a large snapshot takes a good part of a second):
    // on the blocking pool, so the runtime threads keep answering meanwhile.
    let (config, format) = (app.config.clone(), format.to_owned());
    let rendered = tokio::task::spawn_blocking(move || {
        exporters::export(&config, &format, &loaded.input(), scope)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("the exporter stopped: {e}")))?;
    rendered.map_err(|e| match e {
        exporters::ExportError::UnknownFormat(_) => ServiceError::BadRequest(e.to_string()),
        other => ServiceError::Internal(other.to_string()),
    })
}

/// Parses a scope name, naming the valid ones when it is wrong.
pub fn parse_scope(name: &str) -> Result<Scope, ServiceError> {
    Scope::parse(name).ok_or_else(|| {
        ServiceError::BadRequest(format!(
            "unknown scope {name:?}; valid: {}",
            Scope::NAMES.join(", ")
        ))
    })
}

fn check_format(format: &str) -> Result<(), ServiceError> {
    if FORMATS.contains(&format) {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(crate::config::unknown_format(
            format,
        )))
    }
}

/// A stored run as an exporter reads it: what [`load`] returns.
pub struct Loaded {
    pub run: RunInfo,
    pub snapshot: Snapshot,
    pub changes: ChangeSummary,
    pub history: Vec<HistoryPoint>,
}

impl Loaded {
    pub fn input(&self) -> ExportInput<'_> {
        ExportInput {
            run: &self.run,
            snapshot: &self.snapshot,
            changes: &self.changes,
            history: &self.history,
        }
    }
}

/// Loads run `run_id` (the newest run with a snapshot when `None`): its snapshot, its change
/// summary (from the run row) and the history of the runs up to it.
pub async fn load(app: &App, run_id: Option<&str>) -> Result<Loaded, ServiceError> {
    let store = &app.store;
    let (id, json) = match run_id {
        Some(id) => {
            let json = store.snapshot_json(id).await?;
            (id.to_owned(), json)
        }
        None => match store.latest_snapshot_json().await? {
            Some((id, json)) => (id, Some(json)),
            None => return Err(ServiceError::NotFound("no run has a snapshot yet".into())),
        },
    };
    let row = store
        .get_run(&id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no run {id}")))?;
    let json = json.ok_or_else(|| ServiceError::NotFound(format!("run {id} has no snapshot")))?;
    let snapshot: Snapshot = serde_json::from_slice(&json).map_err(|e| {
        ServiceError::Internal(format!("stored snapshot of {id} is unreadable: {e}"))
    })?;
    // A run that recorded no summary (the column defaults to `{}`) simply has no changes.
    let changes: ChangeSummary = match row.change_summary.trim() {
        "" | "{}" | "null" => ChangeSummary::default(),
        text => serde_json::from_str(text).map_err(|e| {
            ServiceError::Internal(format!("change summary of {id} is unreadable: {e}"))
        })?,
    };
    // The trend points of the runs stored before it, then its own: the same points the sync
    // cycle gave the exporters when it wrote the run's files (so they come out byte for byte).
    let history = crate::sync::history::as_of(store, &app.config, &id, &snapshot).await?;
    let generated = store.generated_summary(&id).await?;
    Ok(Loaded {
        run: RunInfo::from(&row).with_summary(narrate::decode(generated.as_deref())),
        snapshot,
        changes,
        history,
    })
}

/// Every export file run `run_id` wrote, made again from its stored snapshot and run record:
/// `(path relative to EXPORT_PATH as the run recorded it, bytes)`. With the configuration of
/// the time, the bytes are those written then (the CLI's `export --run ID` without a format).
pub async fn regenerate(app: &App, run_id: &str) -> Result<Vec<(String, Vec<u8>)>, ServiceError> {
    let row = app
        .store
        .get_run(run_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no run {run_id}")))?;
    let files: Vec<exporters::ExportFile> = serde_json::from_str(&row.exports).unwrap_or_default();
    if files.is_empty() {
        return Err(ServiceError::NotFound(format!(
            "run {run_id} wrote no export files (status {})",
            row.status
        )));
    }
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let artifact = export(app, &file.format, Scope::Full, Some(run_id)).await?;
        out.push((file.path, artifact.bytes));
    }
    Ok(out)
}
