//! What the exports, the feed and Discord say about a run: numbers without binary noise,
//! grades that agree with the UCF status, one meaning per word, correct plurals, and Discord
//! messages that never invent an outage or list server paths.

use serde_json::Value;

use crate::fakes::discord::{DiscordFake, WEBHOOK_ID, WEBHOOK_TOKEN};
use crate::helpers::*;
use crate::sync_fake::FakeGithub;

const REPO: &str = "helix-org/helix-core";

fn ucf_doc(harmony: f64) -> String {
    format!(
        r#"{{"harmony": {harmony}, "resilience": 1.1, "prana": 0.6, "drishti": 0.7, "klesha": 0.04,
            "zoom": 1.0, "timestamp": "2026-11-25T09:30:00.123456"}}"#
    )
}

async fn app_with_discord(ucf: &std::path::Path) -> (TestApp, FakeGithub, DiscordFake) {
    let app = spawn_with(
        Spawn::default()
            .env("GITHUB_REPOS", REPO)
            .env("UCF_STATE_SOURCE", ucf.to_str().unwrap())
            .env(
                "DISCORD_SYNC_WEBHOOK",
                &format!("https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"),
            ),
    )
    .await;
    let github = FakeGithub::default();
    github.mount(&app.github).await;
    let discord = DiscordFake::mount(&app.discord).await;
    (app, github, discord)
}

async fn trigger(app: &TestApp) {
    let res = app
        .client
        .post(app.url("/api/sync"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    app.run_pending_jobs().await;
}

async fn export(app: &TestApp, format: &str, run: &str) -> String {
    let res = app
        .get_authed(&format!("/api/export/{format}?run={run}"))
        .await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Every value under a key named `key`, anywhere in `v`.
fn find_all<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    out.push(x);
                }
                find_all(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| find_all(x, key, out)),
        _ => {}
    }
}

fn field<'a>(message: &'a Value, name: &str) -> Option<&'a Value> {
    message["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
}

#[tokio::test]
async fn numbers_grades_dates_counts_and_plurals_agree_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let ucf = dir.path().join("ucf_state.json");
    std::fs::write(&ucf, ucf_doc(0.5)).unwrap();
    let (app, github, discord) = app_with_discord(&ucf).await;
    github.add_commit(REPO, &"a".repeat(40), "feat: first", "ann", 1_700_000_000);
    github.add_pull(REPO, "open", false, 1_700_000_100);
    trigger(&app).await;
    let first = app.store.list_runs(1).await.unwrap().remove(0);

    // Harmony 0.5 is COHERENT, and graded as such (not red "Critical").
    let md = export(&app, "markdown", &first.id).await;
    let row = md
        .lines()
        .find(|l| l.to_lowercase().contains("| harmony"))
        .unwrap_or_else(|| panic!("a harmony row in {md}"));
    assert!(!row.contains("Critical"), "{row}");
    assert!(md.contains("COHERENT"), "{md}");
    // Notion's "Recorded" is when the UCF state was recorded, as in Markdown and HTML.
    let notion: Value = serde_json::from_str(&export(&app, "notion", &first.id).await).unwrap();
    let mut recorded = Vec::new();
    find_all(&notion, "Recorded", &mut recorded);
    let dated: Vec<&Value> = recorded
        .iter()
        .filter_map(|r| r.pointer("/date/start"))
        .collect();
    assert!(!dated.is_empty(), "{notion}");
    assert!(
        dated.iter().all(|d| *d == "2026-11-25T09:30:00Z"),
        "{dated:?}"
    );

    std::fs::write(&ucf, ucf_doc(0.8)).unwrap();
    github.add_commit(REPO, &"b".repeat(40), "fix: second", "bob", 1_700_000_200);
    trigger(&app).await;
    let second = app.store.list_runs(1).await.unwrap().remove(0);
    assert_ne!(first.id, second.id);

    // 0.8 - 0.5 is 0.3, not 0.30000000000000004, in the JSON export and the feed.
    let json = export(&app, "json", &second.id).await;
    let feed = app.get_text("/api/sync/latest.json").await;
    for text in [&json, &feed] {
        assert!(!text.contains("0.30000000000000004"), "{text}");
        let v: Value = serde_json::from_str(text).unwrap();
        let mut deltas = Vec::new();
        find_all(&v, "delta", &mut deltas);
        assert!(deltas.iter().any(|d| d.as_f64() == Some(0.3)), "{text}");
    }

    // Discord counts issues as the exports do (the open PR is a PR), with plurals.
    let messages = discord.messages();
    let last = messages.last().unwrap();
    let gh = field(last, "GitHub").expect("a GitHub field")["value"]
        .as_str()
        .unwrap();
    assert!(gh.contains("1 repo ·"), "{gh}");
    assert!(gh.contains("1 new commit\n"), "{gh}");
    assert!(gh.contains("0 open issues"), "{gh}");
    assert!(gh.contains("1 open PR"), "{gh}");
    let notion: Value = serde_json::from_str(&export(&app, "notion", &second.id).await).unwrap();
    assert!(notion.to_string().contains("Open issues: 0"), "{notion}");
    let text = last.to_string();
    assert!(!text.contains("(s)"), "{text}");
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .ends_with("(1 new commit)"),
        "{last}"
    );
    // A run with nothing new to count says nothing about commits: no "(0 new commits)".
    trigger(&app).await;
    let quiet = discord.messages().pop().unwrap();
    let content = quiet["content"].as_str().unwrap();
    assert!(!content.contains("new commit"), "{content}");
    let md = export(&app, "markdown", &second.id).await;
    assert!(md.contains("1 new commit by bob"), "{md}");
    assert!(!md.contains("(s)"), "{md}");
}

#[tokio::test]
async fn discord_messages_of_push_runs_show_last_known_values_and_link_to_github() {
    let dir = tempfile::tempdir().unwrap();
    let ucf = dir.path().join("ucf_state.json");
    std::fs::write(&ucf, ucf_doc(0.8)).unwrap();
    let (app, github, discord) = app_with_discord(&ucf).await;
    github.add_commit(REPO, &"1".repeat(40), "feat: one", "ann", 1_000);

    // A push before any full run: what it did not collect is left out, not "no data".
    let push = serde_json::to_vec(&push_payload(REPO, "main", "feat: one")).unwrap();
    assert_eq!(app.post_github("push", "p-1", &push).await.status(), 202);
    app.run_pending_jobs().await;
    let m = discord.messages().pop().expect("a message");
    let text = m.to_string();
    assert!(
        !text.contains("no data") && !text.contains("0/0 active"),
        "{m}"
    );
    assert!(
        field(&m, "UCF").is_none() && field(&m, "Agents").is_none(),
        "{m}"
    );
    assert!(field(&m, "Exports").is_none(), "no server paths: {m}");

    // After a full run, a push run shows the last known values, marked as such.
    trigger(&app).await;
    let two = "2".repeat(40);
    github.add_commit(REPO, &two, "fix: two", "bob", 2_000);
    let mut push = push_payload(REPO, "main", "fix: two");
    push["before"] = Value::String("1".repeat(40));
    push["after"] = Value::String(two.clone());
    push["commits"][0]["id"] = Value::String(two.clone());
    push["commits"][0]["timestamp"] = Value::String(crate::sync_fake::at(2_000));
    push["commits"][0]["url"] = Value::String(format!("https://github.com/{REPO}/commit/{two}"));
    let push = serde_json::to_vec(&push).unwrap();
    let before = discord.messages().len();
    assert_eq!(app.post_github("push", "p-2", &push).await.status(), 202);
    // A second push to the repository within the debounce quiet period (300 ms) waits for
    // it; run jobs as they come due, until its message arrives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while discord.messages().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the push run never published"
        );
        app.run_pending_jobs().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let m = discord.messages().pop().unwrap();
    let ucf_field = field(&m, "UCF (last known)").unwrap_or_else(|| panic!("{m}"));
    assert!(
        ucf_field["value"].as_str().unwrap().contains("harmony 0.8"),
        "{m}"
    );
    let agents = field(&m, "Agents (last known)").unwrap_or_else(|| panic!("{m}"));
    assert!(
        agents["value"].as_str().unwrap().starts_with("4/5 active"),
        "{m}"
    );
    assert!(field(&m, "Exports").is_none(), "{m}");
    let description = m["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("(<https://github.com/{REPO}/commit/{two}>)"))
            || description.contains(&format!(
                "(<https://github.com/{REPO}/commit/{}>)",
                &two[..7]
            )),
        "a commit links to GitHub: {description}"
    );
    let one = "1".repeat(40);
    assert!(
        description.contains(&format!("https://github.com/{REPO}/compare/{one}...{two}")),
        "the compare view links to GitHub: {description}"
    );
}
