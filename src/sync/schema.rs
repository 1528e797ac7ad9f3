//! Validation of a snapshot against `schemas/snapshot.schema.json` before it is stored.
//!
//! The schema is the contract with everyone who reads stored snapshots and JSON exports
//! (the portal, other tools); checking every snapshot against it means a bug in a source
//! or in the merge shows up as a failed run naming the path, never as a stored bad document.
//! The schema is compiled into the binary and built once.

use std::sync::LazyLock;

use serde_json::Value;

/// The shipped schema text.
pub const SNAPSHOT_SCHEMA: &str = include_str!("../../schemas/snapshot.schema.json");

/// Errors listed in one message at most.
const MAX_ERRORS: usize = 10;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SNAPSHOT_SCHEMA).expect("the shipped schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the shipped schema compiles")
});

/// `Ok` when `snapshot` (a serialised `Snapshot`) matches the schema; otherwise the
/// failing paths and reasons.
pub fn validate_snapshot(snapshot: &Value) -> Result<(), String> {
    if VALIDATOR.is_valid(snapshot) {
        return Ok(());
    }
    let errors: Vec<String> = VALIDATOR
        .iter_errors(snapshot)
        .take(MAX_ERRORS)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    Err(format!(
        "snapshot does not match schemas/snapshot.schema.json: {}",
        errors.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::snapshot::{AgentData, RepoData, Snapshot, SourceStatus};

    #[test]
    fn an_empty_and_a_filled_snapshot_are_valid() {
        let mut s = Snapshot::empty(chrono::Utc::now());
        validate_snapshot(&serde_json::to_value(&s).unwrap()).unwrap();
        s.repos.insert(
            "o/r".into(),
            RepoData {
                full_name: "o/r".into(),
                ..Default::default()
            },
        );
        s.agents.insert(
            "Kael".into(),
            AgentData {
                name: "Kael".into(),
                ..Default::default()
            },
        );
        s.sources.insert("github".into(), SourceStatus::disabled());
        validate_snapshot(&serde_json::to_value(&s).unwrap()).unwrap();
    }

    #[test]
    fn errors_name_the_path() {
        let mut v = serde_json::to_value(Snapshot::empty(chrono::Utc::now())).unwrap();
        v["ucf"] = serde_json::json!({"metrics": {"harmony": 1.5}, "status": "HARMONIC", "timestamp": null,
                                      "phase": null, "origin": "file", "extra": {}});
        let e = validate_snapshot(&v).unwrap_err();
        assert!(e.contains("/ucf"), "{e}");
        v["ucf"] = serde_json::Value::Null;
        v["repos"] = serde_json::json!({"not-a-repo": {}});
        assert!(validate_snapshot(&v).is_err());
    }
}
