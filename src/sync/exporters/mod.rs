//! Exporters: pure functions from a snapshot to an artifact, one file per format, plus the
//! writer that puts artifacts under `EXPORT_PATH` atomically.
//!
//! [`export`] is the single entry point every caller uses (the sync cycle through
//! [`write_exports`], the HTTP API, the CLI and MCP through `service::export`), so the same
//! input always yields the same bytes wherever it is asked for. An exporter never does I/O and
//! never reads the wall clock: `generated_at` comes from the run, so output is golden-testable.
//! The scope is applied once, here, before any format sees the snapshot (`scope.rs`); the
//! human-readable formats share one view model (`report.rs`) so they cannot disagree.
//! The `pdf` format exists only in a binary built with the `pdf` feature (on by default).

#[cfg(any(test, feature = "fixtures"))]
pub mod fixture;
pub mod html;
pub mod json;
pub mod markdown;
pub mod notion;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod report;
pub mod scope;
mod write;

use serde::{Deserialize, Serialize};

pub use super::input::{ExportInput, HistoryPoint, RunInfo, Scope};
use crate::config::Config;

/// The formats an exporter exists for, in the order they are written.
pub const FORMATS: &[&str] = crate::config::EXPORT_FORMATS;

/// The JSON Schema the `json` export conforms to (served at `GET /api/schema/export.json`).
pub const EXPORT_SCHEMA: &str = include_str!("../../../schemas/export.schema.json");

/// One produced document.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub format: &'static str,
    /// File extension without the dot (`json`, `json.gz`, `md`, `html`, `pdf`).
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
    #[error("{}", crate::config::unknown_format(.0))]
    UnknownFormat(String),
    #[error("cannot write export {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    /// The typesetting engine could not make the PDF report (its diagnostics, or a panic).
    #[error("the PDF report cannot be made: {0}")]
    Pdf(String),
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
        #[cfg(feature = "pdf")]
        "pdf" => pdf::export(&input, scope, exporters.html.trend_runs as usize),
        other => Err(ExportError::UnknownFormat(other.to_owned())),
    }
}

/// What [`write_exports`] did: the files written, and each format that could not be made or
/// written, named, with why. One format failing never stops the others.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<ExportFile>,
    pub failed: Vec<(String, ExportError)>,
}

/// Writes every enabled format (full scope) under `EXPORT_PATH`. A format that fails leaves
/// no file (the writer renames only a complete one) and is reported in [`Written::failed`].
pub fn write_exports(config: &Config, input: &ExportInput<'_>) -> Written {
    // The formats are independent pure functions of the same input: render and write them
    // side by side (a full export of a large snapshot is tens of milliseconds each).
    let results: Vec<Result<ExportFile, ExportError>> = std::thread::scope(|scope| {
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
    });
    let mut written = Written::default();
    for (format, result) in config.export_formats.iter().zip(results) {
        match result {
            Ok(file) => written.files.push(file),
            Err(e) => written.failed.push((format.clone(), e)),
        }
    }
    written
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A `Config` for exporter tests (the repository's own `sync_config.json`), and the probe
    //! for the outside tools some checks use.

    use crate::config::Config;

    /// True when `program probe` runs; otherwise prints why the check is skipped, or fails
    /// when `HELIX_REQUIRE_TOOLS=1` (CI installs the tools and sets it).
    #[cfg(feature = "pdf")]
    pub fn tool(program: &str, probe: &str) -> bool {
        let ok = std::process::Command::new(program)
            .arg(probe)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("HELIX_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "{program} is required (HELIX_REQUIRE_TOOLS=1) but does not run"
            );
            eprintln!("SKIP: {program} is not available (install poppler-utils and qpdf)");
        }
        ok
    }

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
pub(crate) mod golden;
