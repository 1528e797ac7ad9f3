//! MCP resources: the latest export of each format and a run's snapshot and change summary.
//!
//! - `helix://exports/latest/{format}`: the newest run's export (notion, markdown, json, html,
//!   pdf; a binary one, the PDF, is a base64 `blob`);
//! - `helix://runs/latest/snapshot`, `helix://runs/latest/changes`: that run's data;
//! - templates `helix://runs/{id}/snapshot`, `helix://runs/{id}/changes` and
//!   `helix://runs/{id}/exports/{format}` for any stored run.
//!
//! Reading goes through the same `service` functions as the HTTP export API, so a resource
//! and `GET /api/export/{format}` give the same bytes. This module only names and parses
//! URIs; it must never read the store itself.

use base64::Engine;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use rmcp::ErrorData;
use serde_json::json;

use crate::service::App;
use crate::service::{self, ServiceError};
use crate::sync::exporters::{Scope, FORMATS};

const LATEST_EXPORT: &str = "helix://exports/latest/";
const RUNS: &str = "helix://runs/";
const LATEST: &str = "latest";

/// What a resource URI names. `run: None` is the newest run with a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Export { run: Option<String>, format: String },
    Snapshot { run: Option<String> },
    Changes { run: Option<String> },
}

impl Target {
    /// Parses one of our URIs; `None` for anything else.
    pub fn parse(uri: &str) -> Option<Self> {
        if let Some(format) = uri.strip_prefix(LATEST_EXPORT) {
            return FORMATS.contains(&format).then(|| Target::Export {
                run: None,
                format: format.to_owned(),
            });
        }
        let rest = uri.strip_prefix(RUNS)?;
        let mut parts = rest.split('/');
        let id = parts.next().filter(|id| valid_run_id(id))?;
        let run = (id != LATEST).then(|| id.to_owned());
        let target = match (parts.next(), parts.next(), parts.next()) {
            (Some("snapshot"), None, None) => Target::Snapshot { run },
            (Some("changes"), None, None) => Target::Changes { run },
            (Some("exports"), Some(format), None) if FORMATS.contains(&format) => Target::Export {
                run,
                format: format.to_owned(),
            },
            _ => return None,
        };
        Some(target)
    }

    /// Whether a run that just finished changes what this URI shows.
    pub fn changed_by(&self, finished_run: &str) -> bool {
        let run = match self {
            Target::Export { run, .. } | Target::Snapshot { run } | Target::Changes { run } => run,
        };
        run.as_deref().is_none_or(|r| r == finished_run)
    }
}

/// Run ids are UUIDs; anything else cannot name a run, and is refused before a query.
fn valid_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn mime(format: &str) -> &'static str {
    match format {
        "markdown" => "text/markdown",
        "html" => "text/html",
        "pdf" => "application/pdf",
        _ => "application/json",
    }
}

pub fn list() -> ListResourcesResult {
    let mut resources: Vec<Resource> = FORMATS
        .iter()
        .map(|f| {
            Resource::new(format!("{LATEST_EXPORT}{f}"), format!("latest-export-{f}"))
                .with_title(format!("Latest {f} export"))
                .with_description(format!(
                    "The {f} export of the newest sync run, as GET /api/export/{f} returns it."
                ))
                .with_mime_type(mime(f))
        })
        .collect();
    resources.push(
        Resource::new(format!("{RUNS}{LATEST}/snapshot"), "latest-snapshot")
            .with_title("Latest snapshot")
            .with_description("The normalised snapshot (repos, UCF app, agents) of the newest run.")
            .with_mime_type("application/json"),
    );
    resources.push(
        Resource::new(format!("{RUNS}{LATEST}/changes"), "latest-changes")
            .with_title("Latest change summary")
            .with_description("What the newest run found changed since the run before it.")
            .with_mime_type("application/json"),
    );
    ListResourcesResult {
        resources,
        ..Default::default()
    }
}

pub fn templates() -> ListResourceTemplatesResult {
    let resource_templates = vec![
        ResourceTemplate::new(format!("{RUNS}{{id}}/snapshot"), "run-snapshot")
            .with_title("A run's snapshot")
            .with_description("The snapshot stored by run {id} (see helix-sync-history for ids).")
            .with_mime_type("application/json"),
        ResourceTemplate::new(format!("{RUNS}{{id}}/changes"), "run-changes")
            .with_title("A run's change summary")
            .with_description("What run {id} found changed since the run before it.")
            .with_mime_type("application/json"),
        ResourceTemplate::new(format!("{RUNS}{{id}}/exports/{{format}}"), "run-export")
            .with_title("A run's export")
            .with_description(format!(
                "Run {{id}}'s snapshot exported as {{format}} ({}).",
                FORMATS.join(", ")
            )),
    ];
    ListResourceTemplatesResult {
        resource_templates,
        ..Default::default()
    }
}

/// Reads `uri`; an unknown URI or run is -32002 (resource not found) naming it.
pub async fn read(app: &App, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let target = Target::parse(uri).ok_or_else(|| not_found(uri, "no such resource"))?;
    let contents = match target {
        Target::Export { run, format } => {
            let artifact = service::export::export(app, &format, Scope::Full, run.as_deref())
                .await
                .map_err(|e| service_error(uri, e))?;
            match String::from_utf8(artifact.bytes) {
                Ok(text) => ResourceContents::text(text, uri),
                Err(e) => ResourceContents::blob(
                    base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
                    uri,
                ),
            }
            .with_mime_type(artifact.content_type)
        }
        Target::Snapshot { run } => {
            let (_, json) = service::runs::snapshot(app, run.as_deref())
                .await
                .map_err(|e| service_error(uri, e))?;
            let text = String::from_utf8(json).map_err(|e| {
                ErrorData::internal_error(format!("stored snapshot is not UTF-8: {e}"), None)
            })?;
            ResourceContents::text(text, uri).with_mime_type("application/json")
        }
        Target::Changes { run } => {
            let (_, text) = service::runs::changes(app, run.as_deref())
                .await
                .map_err(|e| service_error(uri, e))?;
            ResourceContents::text(text, uri).with_mime_type("application/json")
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

fn not_found(uri: &str, why: &str) -> ErrorData {
    ErrorData::resource_not_found(format!("{uri}: {why}"), Some(json!({ "uri": uri })))
}

fn service_error(uri: &str, e: ServiceError) -> ErrorData {
    match e {
        ServiceError::NotFound(m) => not_found(uri, &m),
        ServiceError::BadRequest(m) => ErrorData::invalid_params(m, Some(json!({ "uri": uri }))),
        other => {
            tracing::error!(error = %other, uri, "reading an MCP resource failed");
            ErrorData::internal_error("internal error (logged)", None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_to_what_they_name_and_nothing_else_does() {
        let run = Some("0190-ab".to_owned());
        assert_eq!(
            Target::parse("helix://exports/latest/markdown"),
            Some(Target::Export {
                run: None,
                format: "markdown".into()
            })
        );
        assert_eq!(
            Target::parse("helix://runs/latest/snapshot"),
            Some(Target::Snapshot { run: None })
        );
        assert_eq!(
            Target::parse("helix://runs/0190-ab/changes"),
            Some(Target::Changes { run: run.clone() })
        );
        assert_eq!(
            Target::parse("helix://runs/0190-ab/exports/html"),
            Some(Target::Export {
                run,
                format: "html".into()
            })
        );
        for bad in [
            "helix://exports/latest/docx",
            "helix://runs//snapshot",
            "helix://runs/a b/snapshot",
            "helix://runs/x/snapshot/more",
            "helix://runs/x/exports/docx",
            "test://static-text",
            "",
        ] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_finished_run_changes_the_latest_uris_and_its_own() {
        let latest = Target::parse("helix://runs/latest/changes").unwrap();
        let mine = Target::parse("helix://runs/r1/snapshot").unwrap();
        assert!(latest.changed_by("r1"));
        assert!(mine.changed_by("r1"));
        assert!(!mine.changed_by("r2"));
    }

    #[test]
    fn every_listed_uri_parses() {
        for r in list().resources {
            assert!(Target::parse(&r.uri).is_some(), "{}", r.uri);
        }
    }

    #[cfg(feature = "pdf")]
    #[test]
    fn the_pdf_export_is_a_resource_of_its_own_type() {
        let pdf = list()
            .resources
            .into_iter()
            .find(|r| r.uri == "helix://exports/latest/pdf")
            .expect("listed");
        assert_eq!(pdf.mime_type.as_deref(), Some("application/pdf"));
        assert!(Target::parse("helix://runs/0190-ab/exports/pdf").is_some());
    }
}
