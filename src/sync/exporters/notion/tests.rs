//! Notion limits and the contract shape, checked on real exports.

use serde_json::{json, Value};

use super::*;
use crate::sync::exporters::{fixture, golden::hostile, ExportInput};
use crate::sync::snapshot::AgentData;

/// Through the real entry point, so the scope filter applies.
fn doc(input: &ExportInput<'_>, scope: Scope) -> Value {
    let config = crate::sync::exporters::test_support::config();
    let a = crate::sync::exporters::export(&config, "notion", input, scope).unwrap();
    serde_json::from_slice(&a.bytes).unwrap()
}

/// Walks every value, checking rich text items, arrays, URLs and block nesting.
fn check_limits(v: &Value, depth: usize) {
    match v {
        Value::Object(m) => {
            if m.get("object") == Some(&json!("block")) {
                assert!(depth <= 2, "blocks nest at most two levels");
                let kind = m["type"].as_str().unwrap();
                if let Some(children) = m[kind].get("children") {
                    assert_eq!(kind, "table", "only tables carry children");
                    assert!(children.as_array().unwrap().len() <= ARRAY_LIMIT);
                    for c in children.as_array().unwrap() {
                        check_limits(c, depth + 1);
                    }
                }
            }
            if let Some(Value::String(s)) = m.get("content") {
                assert!(
                    s.encode_utf16().count() <= TEXT_LIMIT,
                    "rich text item ≤ 2,000"
                );
                assert!(!s.is_empty(), "no empty rich text items");
            }
            if let Some(Value::String(u)) = m.get("url") {
                assert!(u.len() <= URL_LIMIT && u.starts_with("http"), "url {u}");
            }
            for (k, x) in m {
                if k != "children" {
                    check_limits(x, depth);
                }
            }
        }
        Value::Array(a) => {
            assert!(
                a.len() <= ARRAY_LIMIT || depth == 0,
                "array of {} items",
                a.len()
            );
            a.iter().for_each(|x| check_limits(x, depth));
        }
        _ => {}
    }
}

#[test]
fn the_contract_shape_holds_for_every_scope() {
    let fixture = fixture::Fixture::new(3, 40);
    let input = fixture.input();
    for scope in Scope::NAMES.map(|n| Scope::parse(n).unwrap()) {
        let d = doc(&input, scope);
        assert_eq!(d["notion_version"], "2025-09-03");
        let dbs = &d["databases"];
        for (key, title) in [
            ("sync_runs", "Sync Runs"),
            ("repositories", "Helix Repositories"),
            ("ucf_metrics", "UCF Metrics"),
            ("agents", "Helix Agents"),
        ] {
            assert_eq!(dbs[key]["title"], title);
        }
        let props = &d["run_page"]["properties"];
        assert_eq!(
            props["Sync ID"]["rich_text"][0]["text"]["content"],
            fixture.run.id.as_str()
        );
        assert_eq!(props["Status"]["select"]["name"], "succeeded");
        assert_eq!(props["Started"]["date"]["start"], "2026-11-25T21:14:35Z");
        assert!(props["Name"]["title"].is_array());
        assert!(!d["run_page"]["children"].as_array().unwrap().is_empty());
        assert_eq!(
            d["repo_pages"].as_array().unwrap().len(),
            if scope.has_repos() { 3 } else { 0 }
        );
        assert_eq!(d["ucf_page"].is_null(), !scope.has_ucf());
        assert_eq!(
            d["agent_pages"].as_array().unwrap().is_empty(),
            !scope.has_agents()
        );
        for b in d["run_page"]["children"].as_array().unwrap() {
            check_limits(b, 1);
        }
    }
}

#[test]
fn page_properties_match_their_database_schema() {
    let fixture = fixture::Fixture::new(2, 20);
    let input = fixture.input();
    let d = doc(&input, Scope::Full);
    let pages = [
        ("sync_runs", vec![d["run_page"].clone()]),
        ("repositories", d["repo_pages"].as_array().unwrap().clone()),
        ("ucf_metrics", vec![d["ucf_page"].clone()]),
        ("agents", d["agent_pages"].as_array().unwrap().clone()),
    ];
    for (db, pages) in pages {
        let schema = d["databases"][db]["properties"].as_object().unwrap();
        for page in pages {
            let props = page["properties"].as_object().unwrap();
            assert_eq!(
                props.len(),
                schema.len(),
                "{db}: every declared property is set"
            );
            for (name, value) in props {
                let declared = schema
                    .get(name)
                    .unwrap_or_else(|| panic!("{db} lacks {name}"));
                let kind = declared.as_object().unwrap().keys().next().unwrap();
                assert!(value.get(kind).is_some(), "{db}.{name} is a {kind}");
            }
        }
    }
}

#[test]
fn text_splits_at_2001_characters_without_breaking_characters() {
    let text = "x".repeat(2001);
    assert_eq!(
        split_text(&text)
            .iter()
            .map(|p| p.len())
            .collect::<Vec<_>>(),
        [2000, 1]
    );
    assert_eq!(split_text(&"x".repeat(2000)).len(), 1);
    let emoji = format!("{}🦀tail", "a".repeat(1999));
    let parts = split_text(&emoji);
    assert_eq!(
        parts,
        [&"a".repeat(1999)[..], "🦀tail"],
        "a surrogate pair is never split"
    );
    let items = rich(&"y".repeat(2001));
    assert_eq!(items.as_array().unwrap().len(), 2);
    let huge = rich(&"z".repeat(TEXT_LIMIT * 150));
    assert_eq!(
        huge.as_array().unwrap().len(),
        ARRAY_LIMIT,
        "at most 100 items per array"
    );
}

#[test]
fn blocks_chunk_at_101() {
    let blocks: Vec<Value> = (0..101).map(|i| json!({ "i": i })).collect();
    let chunks = chunk_blocks(&blocks);
    assert_eq!(chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), [100, 1]);
    assert_eq!(chunks[1][0]["i"], 100);
    assert_eq!(chunk_blocks(&blocks[..100]).len(), 1);
    assert!(chunk_blocks(&[]).is_empty());
}

#[test]
fn long_tables_are_split_and_hostile_text_respects_limits() {
    let (mut snapshot, changes, run, history) = hostile();
    for i in 0..150 {
        let name = format!("agent-{i:03}");
        snapshot.agents.insert(
            name.clone(),
            AgentData {
                name,
                ..Default::default()
            },
        );
    }
    let input = ExportInput {
        run: &run,
        snapshot: &snapshot,
        changes: &changes,
        history: &history,
    };
    let d = doc(&input, Scope::Agents);
    let children = d["run_page"]["children"].as_array().unwrap();
    let tables: Vec<usize> = children
        .iter()
        .filter(|b| b["type"] == "table" && b["table"]["table_width"] == 7)
        .map(|b| b["table"]["children"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        tables,
        [100, 59],
        "157 agents: 99 + 58 rows, each table with its header"
    );
    for b in children {
        check_limits(b, 1);
    }
    let full = doc(&input, Scope::Full);
    for b in full["run_page"]["children"].as_array().unwrap() {
        check_limits(b, 1);
    }
}
