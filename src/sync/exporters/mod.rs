//! Exporters: pure functions from a snapshot to an artifact, one file per format, plus the
//! writer that puts artifacts under `EXPORT_PATH` atomically.
//!
//! [`export`] is the single entry point every caller uses (the sync cycle through
//! [`write_exports`], the HTTP API, the CLI and MCP through `service::export`), so the same
//! input always yields the same bytes wherever it is asked for. An exporter never does I/O and
//! never reads the wall clock: `generated_at` comes from the run, so output is golden-testable.
//! The scope is applied once, here, before any format sees the snapshot (`scope.rs`); the
//! human-readable formats share one view model (`report.rs`) so they cannot disagree.

#[cfg(any(test, feature = "fixtures"))]
pub mod fixture;
pub mod html;
pub mod json;
pub mod markdown;
pub mod notion;
pub mod report;
pub mod scope;
mod write;

use serde::{Deserialize, Serialize};

pub use super::input::{ExportInput, HistoryPoint, RunInfo, Scope};
use crate::config::Config;

/// The formats an exporter exists for, in the order they are written.
pub const FORMATS: [&str; 4] = crate::config::EXPORT_FORMATS;

/// The JSON Schema the `json` export conforms to (served at `GET /api/schema/export.json`).
pub const EXPORT_SCHEMA: &str = include_str!("../../../schemas/export.schema.json");

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
