//! Cross-format tests: golden files for every format × scope, determinism, JSON Schema
//! validation of every export, and hostile strings through every format.
//!
//! Golden files live in `tests/golden/<format>_<scope>.<ext>` and are compared byte for byte;
//! `UPDATE_GOLDEN=1 cargo test --lib golden` rewrites them after an intended change. The PDF
//! goldens are binary: read a change with `pdftotext` (or `pdftoppm`) of the old and new file.
//! Their own checks (hostile text, fonts, pages, qpdf) are in `pdf/tests.rs`.

use std::path::PathBuf;

use serde_json::Value;

use super::{export, fixture, test_support, ExportInput, Scope, FORMATS};
use crate::sync::snapshot::{ChangeSummary, Snapshot};

fn scopes() -> impl Iterator<Item = Scope> {
    Scope::NAMES.into_iter().map(|n| Scope::parse(n).unwrap())
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_format_and_scope_matches_its_golden_file() {
    let fixture = fixture::Fixture::new(2, 12);
    let input = fixture.input();
    let config = test_support::config();
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut mismatched = Vec::new();
    for format in FORMATS {
        for scope in scopes() {
            let a = export(&config, format, &input, scope).unwrap();
            let again = export(&config, format, &input, scope).unwrap();
            assert_eq!(a.bytes, again.bytes, "{format}/{scope:?} is deterministic");
            let path = golden_dir().join(format!("{format}_{}.{}", scope.as_str(), a.extension));
            if update {
                std::fs::create_dir_all(golden_dir()).unwrap();
                std::fs::write(&path, &a.bytes).unwrap();
                continue;
            }
            match std::fs::read(&path) {
                Ok(expected) if expected == a.bytes => {}
                Ok(_) => mismatched.push(format!("{} differs", path.display())),
                Err(e) => mismatched.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "golden files out of date (run with UPDATE_GOLDEN=1 after checking the change):\n{}",
        mismatched.join("\n")
    );
}

/// The fixture with hostile strings in every kind of text field.
pub fn hostile() -> (
    Snapshot,
    ChangeSummary,
    super::RunInfo,
    Vec<super::HistoryPoint>,
) {
    let (mut snapshot, changes, run, history) = fixture::snapshot(2, 12);
    let repo = snapshot.repos.values_mut().next().unwrap();
    repo.commits[0].message =
        "Fix | pipe <script>alert(1)</script> ]]> `tick` 🦀🔥 *bold* [x](javascript:alert(1)) & &lt; $x$\nsecond line"
            .into();
    repo.commits[1].message = format!("{}|<script>", "🦀A".repeat(3414));
    repo.commits[2].url = "javascript:alert(1)".into();
    repo.issues[0].title = "<img src=x onerror=alert(1)> | ]]> `x`".into();
    repo.stats.as_mut().unwrap().description = Some("- list | <i>item</i>\n# not a heading".into());
    let ucf = snapshot.ucf.as_mut().unwrap();
    ucf.phase = Some("]]><script>alert('phase')</script>".into());
    let mut agent = snapshot.agents["Kael"].clone();
    agent.name = "<b>Agent|X</b> ]]> 🦀".into();
    agent.role = Some("role `with` | pipes\nand newline".into());
    snapshot.agents.insert(agent.name.clone(), agent);
    snapshot.agent_totals = fixture::totals(&snapshot.agents);
    snapshot.sources.get_mut("github").unwrap().error =
        Some("line1\nline2 | <script>x</script>".into());
    (snapshot, changes, run, history)
}

#[test]
fn hostile_strings_cannot_break_any_format() {
    let (snapshot, changes, run, history) = hostile();
    let input = ExportInput {
        run: &run,
        snapshot: &snapshot,
        changes: &changes,
        history: &history,
    };
    let config = test_support::config();
    let get = |format| {
        String::from_utf8(export(&config, format, &input, Scope::Full).unwrap().bytes).unwrap()
    };

    let md = get("markdown");
    assert!(!md.contains('<'), "no raw HTML can reach the Markdown");
    assert!(md.contains("Fix \\| pipe &lt;script&gt;"));

    let html = get("html");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only our own script tag"
    );
    assert!(!html.contains("<img") && !html.contains("<b>") && !html.contains("]]>"));
    assert!(!html.contains("href=\"javascript"));
    assert!(html.contains("🦀🔥") && html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));

    let json: Value = serde_json::from_str(&get("json")).unwrap();
    let back: Snapshot = serde_json::from_value(serde_json::json!({
        "schema_version": json["schema_version"], "taken_at": json["taken_at"],
        "repos": json["repos"], "ucf": json["ucf"], "agents": json["agents"],
        "agent_totals": json["agent_totals"], "sources": json["sources"],
    }))
    .unwrap();
    // Strings round-trip exactly (floats may differ in the last bit through serde_json's parser).
    assert!(
        back.repos == snapshot.repos,
        "repositories round-trip exactly"
    );
    assert!(
        back.sources == snapshot.sources
            && back.ucf.unwrap().phase == snapshot.ucf.as_ref().unwrap().phase
    );
    assert!(back.agents.keys().eq(snapshot.agents.keys()));

    let notion: Value = serde_json::from_str(&get("notion")).unwrap();
    let text = notion.to_string();
    assert!(text.contains("Fix | pipe <script>alert(1)</script> ]]> `tick` 🦀🔥"));
    assert!(!text.contains("\"url\":\"javascript"));
}

#[test]
fn every_export_of_a_hostile_snapshot_is_schema_valid_json_where_json() {
    let (snapshot, changes, run, history) = hostile();
    let input = ExportInput {
        run: &run,
        snapshot: &snapshot,
        changes: &changes,
        history: &history,
    };
    let config = test_support::config();
    let schema: Value = serde_json::from_str(super::EXPORT_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for scope in scopes() {
        let a = export(&config, "json", &input, scope).unwrap();
        let doc: Value = serde_json::from_slice(&a.bytes).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{scope:?}: {errors:?}");
        let notion = export(&config, "notion", &input, scope).unwrap();
        serde_json::from_slice::<Value>(&notion.bytes).expect("notion export is JSON");
    }
}

#[test]
fn a_generated_summary_is_labelled_and_escaped_in_every_format() {
    use crate::sync::narrate::{GeneratedSummary, Narration};
    let mut fixture = fixture::Fixture::new(1, 10);
    fixture.run.generated_summary = Some(Narration::Generated(GeneratedSummary {
        kind: "generated".into(),
        model: "m-1".into(),
        text: "Calm week <script>alert(1)</script> | *ok*".into(),
    }));
    let input = fixture.input();
    let config = test_support::config();
    let get = |format| {
        String::from_utf8(export(&config, format, &input, Scope::Full).unwrap().bytes).unwrap()
    };
    let label = "Generated summary (model m-1; written by a language model)";
    for format in ["markdown", "html", "notion"] {
        assert!(get(format).contains(label), "{format}");
    }
    assert!(get("markdown").contains("Calm week &lt;script&gt;"));
    assert!(!get("html").contains("<script>alert(1)"));
    let json: Value = serde_json::from_str(&get("json")).unwrap();
    assert_eq!(json["run"]["generated_summary"]["kind"], "generated");
    let schema: Value = serde_json::from_str(super::EXPORT_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&json));
}
