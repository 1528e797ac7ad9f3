//! Exporters: pure functions from a snapshot to an artifact, one file per format, plus the
//! writer that puts artifacts under `EXPORT_PATH` atomically.
//!
//! [`export`] is the single entry point every caller uses (the sync cycle through
//! [`write_exports`], the HTTP API, the CLI and MCP through `service::export`), so the same
//! input always yields the same bytes wherever it is asked for. An exporter never does I/O and
//! never reads the wall clock: `generated_at` comes from the run, so output is golden-testable.
//! The scope is applied once, here, before any format sees the snapshot (`scope.rs`); the
//! human-readable formats share one view model (`report.rs`) so they cannot disagree.

pub mod fixture;
pub mod html;
pub mod json;
pub mod markdown;
pub mod notion;
pub mod report;
pub mod scope;
mod write;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::snapshot::{ChangeSummary, Snapshot};
use crate::config::Config;

/// The formats an exporter exists for, in the order they are written.
pub const FORMATS: [&str; 4] = crate::config::EXPORT_FORMATS;

/// The JSON Schema the `json` export conforms to (served at `GET /api/schema/export.json`).
pub const EXPORT_SCHEMA: &str = include_str!("../../../schemas/export.schema.json");

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

impl Scope {
    /// Every scope's name, for error messages and CLI help.
    pub const NAMES: [&'static str; 4] = ["full", "ucf", "agents", "repos"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Scope::Full),
            "ucf" => Some(Scope::Ucf),
            "agents" => Some(Scope::Agents),
            "repos" => Some(Scope::Repos),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn has_repos(self) -> bool {
        matches!(self, Scope::Full | Scope::Repos)
    }

    pub fn has_ucf(self) -> bool {
        matches!(self, Scope::Full | Scope::Ucf)
    }

    pub fn has_agents(self) -> bool {
        matches!(self, Scope::Full | Scope::Agents)
    }
}

/// The run an export belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The model-written paragraph of the changes, or the named warning of why there is
    /// none; absent when no summary endpoint is configured (or nothing changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_summary: Option<crate::sync::narrate::Narration>,
}

impl RunInfo {
    /// A run's info from its recorded values (times in unix ms). The sync cycle builds it so
    /// when it writes the exports, and everyone who renders a stored run builds it from the
    /// run row (`From<&RunRow>`): the same values, so the same bytes.
    pub fn recorded(
        id: &str,
        trigger: &str,
        status: &str,
        started_ms: i64,
        finished_ms: Option<i64>,
    ) -> Self {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Self {
            id: id.to_owned(),
            trigger: trigger.to_owned(),
            status: status.to_owned(),
            started_at: at(started_ms),
            finished_at: finished_ms.map(at),
            generated_summary: None,
        }
    }

    /// The same run with its model-written paragraph (stored beside the run row).
    pub fn with_summary(
        mut self,
        generated_summary: Option<crate::sync::narrate::Narration>,
    ) -> Self {
        self.generated_summary = generated_summary;
        self
    }

    /// The export's timestamp: when the run finished (or started, while it runs). Never the
    /// wall clock, so exporting the same run twice gives the same bytes.
    pub fn generated_at(&self) -> DateTime<Utc> {
        self.finished_at.unwrap_or(self.started_at)
    }

    /// [`Self::generated_at`] as RFC 3339 with whole seconds.
    pub fn generated_at_text(&self) -> String {
        self.generated_at()
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl From<&crate::store::RunRow> for RunInfo {
    fn from(row: &crate::store::RunRow) -> Self {
        Self::recorded(
            &row.id,
            &row.trigger,
            &row.status,
            row.started_at,
            row.finished_at,
        )
    }
}

/// One past run's UCF values and agent success rates, for trend charts and analytics
/// (oldest first in a slice).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub ucf: BTreeMap<String, f64>,
    /// Success rate in [0, 1] of each agent that had tasks.
    #[serde(default)]
    pub agents: BTreeMap<String, f64>,
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
    #[error("unknown export format {0:?}; valid: notion, markdown, json, html")]
    UnknownFormat(String),
    #[error("cannot write export {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Produces one format for a scope. Pure: same input, same bytes.
pub fn export(
    config: &Config,
    format: &str,
    input: &ExportInput<'_>,
    scope: Scope,
) -> Result<Artifact, ExportError> {
    let scoped = scope::apply(input, scope);
    let input = scoped.input(input.run);
    let exporters = &config.file.exporters;
    match format {
        "json" => json::export(&exporters.json, &input, scope),
        "markdown" => markdown::export(&input, scope),
        "html" => html::export(&input, scope, exporters.html.trend_runs as usize),
        "notion" => notion::export(&input, scope),
        other => Err(ExportError::UnknownFormat(other.to_owned())),
    }
}

/// Writes every enabled format (full scope) under `EXPORT_PATH`; returns the files.
pub fn write_exports(
    config: &Config,
    input: &ExportInput<'_>,
) -> Result<Vec<ExportFile>, ExportError> {
    // The formats are independent pure functions of the same input: render and write them
    // side by side (a full export of a large snapshot is tens of milliseconds each).
    std::thread::scope(|scope| {
        let writers: Vec<_> = config
            .export_formats
            .iter()
            .map(|format| {
                scope.spawn(move || {
                    let artifact = export(config, format, input, Scope::Full)?;
                    write::write_artifact(
                        &config.export_path,
                        &artifact,
                        input.run,
                        config.file.exports.retention as usize,
                    )
                })
            })
            .collect();
        writers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A `Config` for exporter tests: the repository's own `sync_config.json`.

    use crate::config::Config;

    pub fn config() -> Config {
        config_with(&[])
    }

    pub fn config_with(extra: &[(&str, &str)]) -> Config {
        let mut env: std::collections::HashMap<String, String> = [(
            "HELIX_CONFIG".to_owned(),
            format!("{}/config/sync_config.json", env!("CARGO_MANIFEST_DIR")),
        )]
        .into();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::load(&env).expect("the repository config is valid")
    }
}

#[cfg(test)]
mod golden;
