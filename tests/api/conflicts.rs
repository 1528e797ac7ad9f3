//! Concurrent edits in Notion: a person edits an agent page between two runs; per property
//! the config says `ours` (overwrite), `theirs` (keep it) or `flag` (keep it and report it in
//! the run record and the Discord message). Properties we do not write are never touched.

use std::collections::HashMap;
use std::sync::Arc;

use helix_sync::config::Config;
use helix_sync::queue::PublishJob;
use helix_sync::store::now_ms;
use helix_sync::sync::publishers;
use serde_json::{json, Value};

use crate::fakes::notion::BOT_USER;
use crate::fakes::Fault;
use crate::versions_support::{text, versions_app};

fn rich(s: &str) -> Value {
    json!({"rich_text": [{"type": "text", "text": {"content": s}}]})
}

#[tokio::test]
async fn a_persons_edit_is_overwritten_kept_or_flagged_per_property() {
    let v = versions_app(json!({
        "conflicts": {"properties": {"Role": "flag", "Emoji": "theirs"}}
    }))
    .await;
    v.sync().await;
    let kael = v.agent_page("Kael");
    let role = text(&kael.properties["Role"]);
    let emoji = text(&kael.properties["Emoji"]);
    let tasks = kael.properties["Tasks"].clone();

    // A person edits the page between two runs: two of our properties and one of theirs.
    let person = "user-ada";
    v.notion
        .edit_page(&kael.id, "Role", rich("Ethics lead"), person);
    v.notion.edit_page(&kael.id, "Emoji", rich("🦀"), person);
    v.notion
        .edit_page(&kael.id, "Tasks", json!({"number": 999}), person);
    v.notion
        .edit_page(&kael.id, "Notes", rich("ask Kael first"), person);
    let second = v.sync().await;

    let kael = v.agent_page("Kael");
    assert_eq!(
        text(&kael.properties["Role"]),
        "Ethics lead",
        "flag keeps the edit"
    );
    assert_eq!(
        text(&kael.properties["Emoji"]),
        "🦀",
        "theirs keeps the edit"
    );
    assert_eq!(
        kael.properties["Tasks"], tasks,
        "ours (the default) overwrites it"
    );
    assert_eq!(
        text(&kael.properties["Notes"]),
        "ask Kael first",
        "not ours: untouched"
    );
    assert_eq!(kael.last_edited_by, BOT_USER);

    // The flagged one is in the run's record (its change summary) and in Discord.
    let record = v.record(&second.id).await;
    let conflicts = record["change_summary"]["conflicts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(conflicts.len(), 1, "{record}");
    let c = &conflicts[0];
    assert_eq!(
        (c["database"].as_str(), c["page"].as_str()),
        (Some("agents"), Some("Kael"))
    );
    assert_eq!(c["property"], "Role");
    assert_eq!(c["theirs"], "Ethics lead");
    assert_eq!(c["ours"], role.as_str());
    assert_eq!(c["edited_by"], person);
    let message = v.discord.messages().pop().unwrap();
    let fields = message["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("Role") && fields.contains("Ethics lead"),
        "{fields}"
    );
    assert!(!emoji.is_empty());

    // The next run keeps leaving them alone and reports nothing new.
    let third = v.sync().await;
    let kael = v.agent_page("Kael");
    assert_eq!(text(&kael.properties["Role"]), "Ethics lead");
    assert_eq!(text(&kael.properties["Emoji"]), "🦀");
    let record = v.record(&third.id).await;
    assert!(
        record["change_summary"].get("conflicts").is_none(),
        "{record}"
    );
    // Other pages nobody edited were simply updated.
    assert!(
        v.notion.rejections().is_empty(),
        "{:?}",
        v.notion.rejections()
    );
}

#[test]
fn an_unknown_policy_is_refused_at_start_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync_config.json");
    let file = json!({"publishers": {"notion": {"conflicts": {"properties": {"Stars": "mine"}}}}});
    std::fs::write(&path, file.to_string()).unwrap();
    let env: HashMap<String, String> =
        [("HELIX_CONFIG".to_owned(), path.display().to_string())].into();
    let err = Config::load(&env).unwrap_err().to_string();
    assert!(
        err.contains("publishers.notion.conflicts.properties.Stars") && err.contains("mine"),
        "{err}"
    );
}

#[tokio::test]
async fn with_flagged_properties_discord_waits_for_notions_delivery_to_list_its_conflicts() {
    let v = versions_app(json!({"conflicts": {"properties": {"Role": "flag"}}})).await;
    v.sync().await;
    let kael = v.agent_page("Kael");
    v.notion
        .edit_page(&kael.id, "Role", rich("Ethics lead"), "user-ada");
    // Notion's first attempt of the next run fails: Discord must not go out without what
    // that delivery will find.
    v.notion.fail(Fault::next(1, 503));
    let second = v.sync().await;
    let app = &v.app;
    let notion = app
        .store
        .get_delivery(&second.id, "notion")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notion.state, "failed");
    let discord = app
        .store
        .get_delivery(&second.id, "discord")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (discord.state.as_str(), discord.attempts),
        ("failed", 0),
        "waiting, no attempt used"
    );
    assert!(discord.last_error.unwrap().contains("Notion delivery"));
    assert_eq!(
        v.discord.messages().len(),
        1,
        "nothing sent yet for the second run"
    );

    // Notion's retry goes through, then Discord's message lists the conflict.
    let deps = crate::sync_support::deps(app);
    let job = PublishJob {
        run_id: second.id.clone(),
        target: "notion".into(),
    };
    publishers::deliver(&deps, &job).await.unwrap();
    let later: helix_sync::worker::Clock = Arc::new(|| now_ms() + 3_600_000);
    app.pool
        .clone()
        .with_clock(later)
        .run_pending()
        .await
        .unwrap();
    let messages = v.discord.messages();
    assert_eq!(messages.len(), 2);
    let fields = messages[1]["embeds"][0]["fields"].to_string();
    assert!(fields.contains("Ethics lead"), "{fields}");
}
