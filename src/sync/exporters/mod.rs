//! Exporters (issue 5 builds them): pure functions from a snapshot to an artifact, one file
//! per format, plus the writer that puts artifacts under `EXPORT_PATH` atomically.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::snapshot::{ChangeSummary, Snapshot};
use crate::config::Config;

/// Which part of the snapshot an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Full,
    Ucf,
    Agents,
    Repos,
}

/// The run an export belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One past run's UCF values, for trend charts (oldest first in a slice).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub ucf: BTreeMap<String, f64>,
}

/// Everything an exporter reads.
#[derive(Debug, Clone, Copy)]
pub struct ExportInput<'a> {
    pub run: &'a RunInfo,
    pub snapshot: &'a Snapshot,
    pub changes: &'a ChangeSummary,
    pub history: &'a [HistoryPoint],
}

/// One produced document.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub format: &'static str,
    /// File extension without the dot (`json`, `json.gz`, `md`, `html`).
    pub extension: &'static str,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A written export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile {
    pub format: String,
    /// Path relative to `EXPORT_PATH`.
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown export format {0:?}")]
    UnknownFormat(String),
    #[error("cannot write export {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Produces one format for a scope.
pub fn export(
    _config: &Config,
    format: &str,
    _input: &ExportInput<'_>,
    _scope: Scope,
) -> Result<Artifact, ExportError> {
    Err(ExportError::UnknownFormat(format.to_owned()))
}

/// Writes every enabled format (full scope) under `EXPORT_PATH`; returns the files.
pub fn write_exports(
    _config: &Config,
    _input: &ExportInput<'_>,
) -> Result<Vec<ExportFile>, ExportError> {
    Ok(Vec::new())
}
