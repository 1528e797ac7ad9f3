//! Unit tests of the MCP tools: argument validation, schemas and results.

use serde_json::{json, Value};

use super::*;

fn obj(v: Value) -> JsonObject {
    v.as_object().unwrap().clone()
}

fn error_text(message: String) -> String {
    message
}

#[test]
fn a_bad_argument_is_named() {
    let e = parse_args::<HistoryArgs>(obj(json!({"limit": 500}))).unwrap_err();
    assert!(error_text(e).contains("`limit`"));
    let e = parse_args::<HistoryArgs>(obj(json!({"limit": "ten"}))).unwrap_err();
    assert!(error_text(e).contains("`limit`"));
    let e = parse_args::<ExportArgs>(obj(json!({"format": "docx"}))).unwrap_err();
    assert!(error_text(e).contains("`format`"));
    let e = parse_args::<ExportArgs>(obj(json!({}))).unwrap_err();
    assert!(error_text(e).contains("format"));
    let e = parse_args::<ExportArgs>(obj(json!({"format": "json", "scope": "all"}))).unwrap_err();
    assert!(error_text(e).contains("`scope`"));
    let e = parse_args::<AnalyticsArgs>(obj(json!({"scope": "weather"}))).unwrap_err();
    assert!(error_text(e).contains("`scope`"));
    let e = parse_args::<StatusArgs>(obj(json!({"verbose": true}))).unwrap_err();
    assert!(error_text(e).contains("verbose"));
    let e = parse_args::<TriggerRequest>(obj(json!({"sources": "github"}))).unwrap_err();
    assert!(error_text(e).contains("`sources`"));
}

#[test]
fn good_arguments_decode() {
    let a = parse_args::<HistoryArgs>(obj(json!({}))).unwrap();
    assert_eq!(a.limit, None);
    let a = parse_args::<ExportArgs>(obj(json!({"format": "markdown", "scope": "ucf"}))).unwrap();
    assert!(matches!(a.format, ExportFormat::Markdown));
    assert!(matches!(a.scope, Some(ExportScope::Ucf)));
    #[cfg(feature = "pdf")]
    assert!(matches!(
        parse_args::<ExportArgs>(obj(json!({"format": "pdf"}))).map(|a| a.format),
        Ok(ExportFormat::Pdf)
    ));
    parse_args::<TriggerRequest>(obj(json!({"sources": ["github"], "targets": []}))).unwrap();
}

#[test]
fn every_schema_is_an_object_schema() {
    for s in [
        input_schema::<TriggerRequest>(),
        input_schema::<StatusArgs>(),
        input_schema::<HistoryArgs>(),
        input_schema::<ExportArgs>(),
        output_schema::<TriggerOutput>(),
        output_schema::<Health>(),
        output_schema::<HistoryOutput>(),
        output_schema::<ExportOutput>(),
        input_schema::<AnalyticsArgs>(),
        output_schema::<Analytics>(),
    ] {
        assert_eq!(s["type"], "object", "{}", Value::Object((*s).clone()));
        assert!(!Value::Object((*s).clone()).to_string().contains("$ref"));
    }
}

#[test]
fn advertised_schemas_use_one_type_per_branch_and_no_bare_true() {
    fn walk(v: &Value, path: &str) {
        match v {
            // `false` (no other properties) is meaningful; a bare `true` says nothing.
            Value::Bool(true) => panic!("bare `true` schema at {path}"),
            Value::Object(m) => {
                if let Some(t) = m.get("type") {
                    assert!(t.is_string(), "type array at {path}: {t}");
                }
                for (k, v) in m {
                    // `required` and `enum` hold data, not schemas.
                    if !matches!(k.as_str(), "required" | "enum" | "default" | "const") {
                        walk(v, &format!("{path}/{k}"));
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}/{i}"));
                }
            }
            _ => {}
        }
    }
    for (name, schema) in [
        ("history out", output_schema::<HistoryOutput>()),
        ("status out", output_schema::<Health>()),
        ("trigger in", input_schema::<TriggerRequest>()),
        ("export in", input_schema::<ExportArgs>()),
        ("history in", input_schema::<HistoryArgs>()),
        ("analytics in", input_schema::<AnalyticsArgs>()),
        ("analytics out", output_schema::<Analytics>()),
        ("snapshot in", input_schema::<versions::SnapshotArgs>()),
        ("snapshot out", output_schema::<versions::SnapshotOutput>()),
        ("diff in", input_schema::<versions::DiffArgs>()),
        ("diff out", output_schema::<versions::DiffOutput>()),
        ("rollback in", input_schema::<versions::RollbackArgs>()),
        (
            "rollback out",
            output_schema::<service::rollback::RollbackOutcome>(),
        ),
    ] {
        let root = Value::Object((*schema).clone());
        for (k, v) in root.as_object().unwrap() {
            if !matches!(
                k.as_str(),
                "required" | "$schema" | "title" | "description" | "type"
            ) {
                walk(v, &format!("{name}/{k}"));
            }
        }
    }
    // The rewritten schema still validates what it did: an absent or null limit is fine.
    assert!(parse_args::<HistoryArgs>(obj(json!({"limit": null}))).is_ok());
    assert!(parse_args::<TriggerRequest>(obj(json!({"sources": null}))).is_ok());
}

#[test]
fn the_export_format_is_one_flat_enum_of_every_built_format() {
    // Clients build pickers from `enum`; a `oneOf` of described variants hid "pdf" from them.
    let schema = Value::Object((*input_schema::<ExportArgs>()).clone());
    let format = &schema["properties"]["format"];
    assert!(format.get("oneOf").is_none(), "{format}");
    let names: Vec<&str> = format["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum: {format}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut expected = vec!["notion", "markdown", "json", "html"];
    if cfg!(feature = "pdf") {
        expected.push("pdf");
    }
    assert_eq!(names, expected);
}
