//! Notion against a user's own database: properties it lacks are left out (and noted), our
//! title goes under its title property whatever it is called, a missing `Sync ID` is a dead
//! delivery that says what to add, and a column deleted after the schema was cached costs
//! one refused request, not the delivery.

use std::collections::BTreeMap;

use helix_sync::store::now_ms;
use serde_json::{json, Value};

use crate::fakes::notion::run_schema;
use crate::publish_support::*;

fn text(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s}}])
}

fn plain(v: &Value) -> &str {
    v[0]["text"]["content"].as_str().unwrap_or_default()
}

/// `run_schema()` with the title called "Run" instead of "Name".
fn schema_titled_run() -> BTreeMap<String, String> {
    let mut schema = run_schema();
    let ty = schema.remove("Name").unwrap();
    schema.insert("Run".into(), ty);
    schema
}

#[tokio::test]
async fn a_database_with_its_own_title_and_fewer_columns_still_gets_one_right_page() {
    let h = harness(Setup::default()).await;
    let schema = schema_titled_run();
    assert!(!schema.contains_key("Scope"));
    h.notion.set_run_schema(schema);
    let mut doc = notion_doc("run-1", 3);
    let props = &mut doc.run_page.properties;
    props.insert("Scope".into(), json!({"select": {"name": "full"}}));
    // A property the database has, but with another type, is left out too.
    props.insert("Started".into(), json!({"number": 1}));
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", doc);
    h.run_pending().await;

    let d = h.delivery("run-1", "notion").await;
    assert_eq!(d.state, "succeeded", "{:?}", d.last_error);
    assert_eq!(h.notion.rejections(), Vec::<String>::new());
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 1);
    let p = &pages[0].properties;
    assert_eq!(plain(&p["Run"]["title"]), "Sync run-1");
    assert_eq!(plain(&p["Sync ID"]["rich_text"]), "run-1");
    assert_eq!(p["Status"]["select"]["name"], "succeeded");
    assert!(p.get("Name").is_none() && p.get("Scope").is_none() && p.get("Started").is_none());
    assert_eq!(pages[0].children.len(), 3);
    let progress: Value = serde_json::from_str(&d.progress).unwrap();
    assert_eq!(
        progress["missing_properties"],
        json!({"sync_runs": ["Scope", "Started"]})
    );
}

#[tokio::test]
async fn a_database_without_sync_id_is_dead_with_what_to_add() {
    let h = harness(Setup::default()).await;
    let mut schema = run_schema();
    schema.remove("Sync ID");
    h.notion.set_run_schema(schema);
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 2));
    h.run_pending().await;
    let d = h.delivery("run-1", "notion").await;
    assert_eq!(d.state, "dead");
    let err = d.last_error.unwrap();
    assert!(
        err.contains("add a Text property named 'Sync ID' to the database"),
        "{err}"
    );
    assert!(h.notion.pages().is_empty());
    assert_eq!(
        h.notion.rejections(),
        Vec::<String>::new(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn a_column_deleted_after_the_schema_was_cached_costs_one_refusal() {
    let h = harness(Setup::default()).await;
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 2));
    h.run_pending().await;
    assert_eq!(h.delivery("run-1", "notion").await.state, "succeeded");

    // The user deletes the Status column; the cached schema still has it.
    let mut schema = run_schema();
    schema.remove("Status");
    h.notion.set_run_schema(schema);
    h.seed_run("run-2", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-2", notion_doc("run-2", 2));
    h.run_pending().await;

    let d = h.delivery("run-2", "notion").await;
    assert_eq!((d.state.as_str(), d.attempts), ("succeeded", 1), "{d:?}");
    let rejections = h.notion.rejections();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert!(rejections[0].contains("Status is not a property that exists"));
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 2);
    assert!(pages[1].properties.get("Status").is_none());
    assert_eq!(plain(&pages[1].properties["Sync ID"]["rich_text"]), "run-2");
    let progress: Value = serde_json::from_str(&d.progress).unwrap();
    assert_eq!(
        progress["missing_properties"],
        json!({"sync_runs": ["Status"]})
    );
}

#[tokio::test]
async fn keyed_pages_are_fitted_to_their_own_databases_too() {
    let publishers =
        json!({"notion": {"auto_create_pages": true, "repos_database_id": "db-repos"}});
    let h = harness(Setup {
        publishers,
        ..Setup::default()
    })
    .await;
    let schema = [("Repository", "title"), ("Stars", "number")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    h.notion.add_database("db-repos", "ds-repos", schema);
    let mut doc = notion_doc("run-1", 1);
    doc.repo_pages = serde_json::from_value(json!([{"key": "o/r", "properties": {
        "Name": {"title": text("o/r")}, "Stars": {"number": 7}, "Forks": {"number": 2},
    }}]))
    .unwrap();
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", doc);
    h.run_pending().await;

    let d = h.delivery("run-1", "notion").await;
    assert_eq!(d.state, "succeeded", "{:?}", d.last_error);
    assert_eq!(h.notion.rejections(), Vec::<String>::new());
    let pages = h.notion.pages();
    let repo = pages.iter().find(|p| p.data_source == "ds-repos").unwrap();
    assert_eq!(
        repo.properties,
        json!({"Repository": {"title": text("o/r")}, "Stars": {"number": 7}})
    );
    let progress: Value = serde_json::from_str(&d.progress).unwrap();
    assert_eq!(
        progress["missing_properties"]["repositories"],
        json!(["Forks"])
    );
}
