//! The whole pipeline with the production runner: a signed `push` webhook → ingest → queue →
//! sync cycle (fake GitHub) → exports → publish jobs → Discord, Notion and the portal feed
//! (fakes that enforce the real APIs' limits).

use crate::fakes::discord::{DiscordFake, WEBHOOK_ID, WEBHOOK_TOKEN};
use crate::fakes::notion::{NotionFake, API_KEY, DATABASE_ID};
use crate::helpers::*;
use crate::sync_fake::FakeGithub;

pub const REPO: &str = "helix/core";

async fn pipeline_app() -> (
    TestApp,
    FakeGithub,
    DiscordFake,
    NotionFake,
    tempfile::TempDir,
) {
    pipeline_app_with(&[]).await
}

/// The pipeline's app with every target configured and 3 commits on GitHub, plus `env`.
pub async fn pipeline_app_with(
    env: &[(&str, &str)],
) -> (
    TestApp,
    FakeGithub,
    DiscordFake,
    NotionFake,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync_config.json");
    std::fs::write(
        &config,
        r#"{"publishers": {"notion": {"requests_per_second": 10000.0}}}"#,
    )
    .unwrap();
    let mut spawn = Spawn::default();
    for (k, v) in env {
        spawn = spawn.env(k, v);
    }
    let app = spawn_with(
        spawn
            .env("HELIX_CONFIG", config.to_str().unwrap())
            .env("GITHUB_REPOS", REPO)
            .env(
                "DISCORD_SYNC_WEBHOOK",
                &format!("https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"),
            )
            .env("NOTION_API_KEY", API_KEY)
            .env("NOTION_DATABASE_ID", DATABASE_ID),
    )
    .await;
    let github = FakeGithub::default();
    github.mount(&app.github).await;
    github.add_commits(REPO, 3, 1_700_000_000);
    let discord = DiscordFake::mount(&app.discord).await;
    let notion = NotionFake::mount(&app.notion).await;
    (app, github, discord, notion, dir)
}

#[tokio::test]
async fn a_signed_push_ends_as_one_message_one_page_and_a_feed() {
    let (app, _github, discord, notion, _dir) = pipeline_app().await;
    let body = serde_json::to_vec(&push_payload(REPO, "main", "Tune the ritual engine")).unwrap();
    assert_eq!(app.post_github("push", "e2e-1", &body).await.status(), 202);

    // The sync job, then one publish job per target.
    assert_eq!(app.run_pending_jobs().await, 4);
    let runs = app.store.list_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let deliveries = app.store.deliveries_for_run(&run.id).await.unwrap();
    let states: Vec<_> = deliveries
        .iter()
        .map(|d| (d.target.as_str(), d.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("discord", "succeeded"),
            ("notion", "succeeded"),
            ("portal", "succeeded")
        ],
        "{deliveries:?}"
    );

    assert_eq!(
        discord.messages().len(),
        1,
        "rejections: {:?}",
        discord.rejections()
    );
    let pages = notion.pages();
    assert_eq!(pages.len(), 1, "rejections: {:?}", notion.rejections());
    assert!(
        !pages[0].children.is_empty(),
        "the report blocks were appended"
    );

    let res = app
        .client
        .get(app.url("/api/sync/latest.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let feed: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        feed["run"]["id"].as_str().or(feed["run_id"].as_str()),
        Some(run.id.as_str()),
        "{feed}"
    );

    // Every export format was written for the run.
    let exports: Vec<serde_json::Value> = serde_json::from_str(&run.exports).unwrap();
    assert_eq!(exports.len(), 4, "{exports:?}");

    // Nothing runs twice: no job is left, and re-running the queue sends nothing new.
    assert_eq!(app.run_pending_jobs().await, 0);
    assert_eq!(discord.messages().len(), 1);
    assert_eq!(notion.pages().len(), 1);
}
