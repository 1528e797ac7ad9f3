//! The `json` export: the (scoped) snapshot with its run, change summary and metadata.
//!
//! Field order is fixed by [`Document`] and every map in the snapshot is a `BTreeMap`, so the
//! same input is the same bytes. Its shape is `schemas/export.schema.json`; change both
//! together and bump `SCHEMA_VERSION` on anything incompatible. Compression uses a gzip header
//! with no timestamp, so compressed output is deterministic too.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::{write::GzEncoder, Compression};
use serde::Serialize;

use super::{Artifact, ExportError, ExportInput, RunInfo, Scope};
use crate::config::JsonExporter;
use crate::sync::analytics::{self, Analytics};
use crate::sync::snapshot::{
    AgentData, AgentTotals, ChangeSummary, RepoData, SourceStatus, UcfState,
};

/// The exported document, in output order.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    generated_at: String,
    run_id: &'a str,
    scope: Scope,
    run: &'a RunInfo,
    taken_at: DateTime<Utc>,
    repos: &'a BTreeMap<String, RepoData>,
    ucf: &'a Option<UcfState>,
    agents: &'a BTreeMap<String, AgentData>,
    agent_totals: &'a AgentTotals,
    sources: &'a BTreeMap<String, SourceStatus>,
    changes: &'a ChangeSummary,
    analytics: Analytics,
}

pub fn export(
    options: &JsonExporter,
    input: &ExportInput<'_>,
    scope: Scope,
) -> Result<Artifact, ExportError> {
    let s = input.snapshot;
    let doc = Document {
        schema_version: s.schema_version,
        generated_at: input.run.generated_at_text(),
        run_id: &input.run.id,
        scope,
        run: input.run,
        taken_at: s.taken_at,
        repos: &s.repos,
        ucf: &s.ucf,
        agents: &s.agents,
        agent_totals: &s.agent_totals,
        sources: &s.sources,
        changes: input.changes,
        analytics: analytics::compute(input, scope),
    };
    let mut bytes = Vec::with_capacity(64 * 1024);
    let written = if options.pretty {
        serde_json::to_writer_pretty(&mut bytes, &doc)
    } else {
        serde_json::to_writer(&mut bytes, &doc)
    };
    written.map_err(|e| ExportError::Invalid(format!("snapshot does not serialize: {e}")))?;
    if options.pretty {
        bytes.push(b'\n');
    }
    if !options.compressed {
        return Ok(Artifact {
            format: "json",
            extension: "json",
            content_type: "application/json",
            bytes,
        });
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    gz.write_all(&bytes)
        .and_then(|_| gz.finish())
        .map(|bytes| Artifact {
            format: "json",
            extension: "json.gz",
            content_type: "application/gzip",
            bytes,
        })
        .map_err(|e| ExportError::Invalid(format!("gzip failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::fixture;
    use std::io::Read;

    fn schema() -> jsonschema::Validator {
        let schema: serde_json::Value =
            serde_json::from_str(crate::sync::exporters::EXPORT_SCHEMA).unwrap();
        jsonschema::validator_for(&schema).expect("the export schema compiles")
    }

    /// Fails with every schema violation listed.
    pub fn assert_valid(bytes: &[u8]) {
        let doc: serde_json::Value = serde_json::from_slice(bytes).expect("export is JSON");
        let validator = schema();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "schema violations: {errors:#?}");
    }

    #[test]
    fn every_scope_validates_against_the_schema() {
        let fixture = fixture::Fixture::new(3, 60);
        let input = fixture.input();
        let config = crate::sync::exporters::test_support::config();
        for scope in Scope::NAMES.map(|n| Scope::parse(n).unwrap()) {
            let a = crate::sync::exporters::export(&config, "json", &input, scope).unwrap();
            assert_valid(&a.bytes);
        }
    }

    #[test]
    fn the_analytics_member_validates_against_its_own_schema() {
        let fixture = fixture::Fixture::new(2, 12);
        let input = fixture.input();
        let config = crate::sync::exporters::test_support::config();
        let schema: serde_json::Value =
            serde_json::from_str(crate::sync::analytics::ANALYTICS_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).expect("the analytics schema compiles");
        for scope in Scope::NAMES.map(|n| Scope::parse(n).unwrap()) {
            let a = crate::sync::exporters::export(&config, "json", &input, scope).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&a.bytes).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&doc["analytics"])
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{scope:?}: {errors:#?}");
        }
    }

    #[test]
    fn an_invalid_document_is_rejected_by_the_schema() {
        let doc = serde_json::json!({"schema_version": 1, "run_id": 5});
        assert!(!schema().is_valid(&doc));
    }

    #[test]
    fn compressed_and_compact_options_apply() {
        let fixture = fixture::Fixture::new(1, 10);
        let input = fixture.input();
        let opts = |pretty, compressed| JsonExporter {
            enabled: true,
            pretty,
            compressed,
        };
        let compact = export(&opts(false, false), &input, Scope::Full).unwrap();
        assert!(!compact.bytes.contains(&b'\n'));
        let gz = export(&opts(false, true), &input, Scope::Full).unwrap();
        assert_eq!(
            (gz.extension, gz.content_type),
            ("json.gz", "application/gzip")
        );
        let again = export(&opts(false, true), &input, Scope::Full).unwrap();
        assert_eq!(gz.bytes, again.bytes, "gzip output is deterministic");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, compact.bytes);
    }
}
