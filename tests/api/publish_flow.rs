//! A stored run published to all three targets, each target on its own: exactly one effect
//! per target, a failing target never re-runs the others, missing credentials disable.

use helix_sync::queue::{JobPayload, PublishJob};
use helix_sync::store::now_ms;
use helix_sync::sync::publishers::deliver;

use crate::fakes::Fault;
use crate::publish_support::*;

#[tokio::test]
async fn a_run_is_published_to_all_three_targets_once() {
    let h = harness(Setup::default()).await;
    h.seed_run(
        "run-1",
        now_ms(),
        &changes(),
        &["discord", "notion", "portal"],
    )
    .await;
    h.set_notion_doc("run-1", notion_doc("run-1", 7));
    assert_eq!(h.run_pending().await, 3);

    let messages = h.discord.messages();
    assert_eq!(messages.len(), 1, "{:?}", h.discord.rejections());
    let embed = &messages[0]["embeds"][0];
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .contains("helix/core"));
    assert_eq!(embed["fields"][0]["name"], "GitHub");
    assert_eq!(embed["url"], "https://sync.example.org/?run=run-1");
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 1, "{:?}", h.notion.rejections());
    assert_eq!(block_texts(&pages[0].children).len(), 7);
    let feed = h
        .app
        .client
        .get(h.app.url("/api/sync/latest.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    let feed: serde_json::Value = feed.json().await.unwrap();
    assert_eq!(feed["run"]["id"], "run-1");

    for (target, external) in [
        ("discord", messages[0]["id"].as_str().unwrap()),
        ("notion", pages[0].id.as_str()),
        ("portal", "portal/api/sync/latest.json"),
    ] {
        let d = h.delivery("run-1", target).await;
        assert_eq!(
            (d.state.as_str(), d.attempts),
            ("succeeded", 1),
            "{target}: {d:?}"
        );
        assert_eq!(d.external_id.as_deref(), Some(external));
    }

    // Running the deliveries again (a duplicate job, a replayed queue) sends nothing.
    for target in ["discord", "notion", "portal"] {
        let job = PublishJob {
            run_id: "run-1".into(),
            target: target.into(),
        };
        h.app
            .state
            .queue
            .enqueue(&JobPayload::Publish(job.clone()), now_ms())
            .await
            .unwrap();
        deliver(h.deps(), &job).await.unwrap();
    }
    let notion_requests = h.notion.requests().len();
    assert_eq!(h.run_pending().await, 3);
    assert_eq!(h.discord.messages().len(), 1);
    assert_eq!(h.notion.requests().len(), notion_requests);
    assert_eq!(h.notion.pages().len(), 1);
}

#[tokio::test]
async fn a_failing_discord_does_not_republish_notion() {
    let h = harness(Setup::default()).await;
    h.discord.fail(Fault::next(3, 502));
    h.seed_run("run-2", now_ms(), &changes(), &["discord", "notion"])
        .await;
    h.set_notion_doc("run-2", notion_doc("run-2", 3));
    h.run_pending().await;
    assert_eq!(h.delivery("run-2", "notion").await.state, "succeeded");
    assert_eq!(h.delivery("run-2", "discord").await.state, "failed");
    let notion_requests = h.notion.requests().len();

    let d = h.retry_until_settled("run-2", "discord").await;
    assert_eq!((d.state.as_str(), d.attempts), ("succeeded", 4), "{d:?}");
    assert_eq!(h.discord.messages().len(), 1);
    assert_eq!(
        h.notion.requests().len(),
        notion_requests,
        "Notion was not called again"
    );
    assert_eq!(h.notion.pages().len(), 1);
    assert_eq!(h.notion.pages()[0].children.len(), 3);
    assert!(h.job_states().await.iter().all(|s| s == "succeeded"));
}

#[tokio::test]
async fn missing_credentials_disable_the_target_without_errors() {
    let h = harness(Setup {
        discord: false,
        notion: false,
        ..Setup::default()
    })
    .await;
    h.seed_run(
        "run-3",
        now_ms(),
        &changes(),
        &["discord", "notion", "portal"],
    )
    .await;
    assert_eq!(h.run_pending().await, 1, "only the portal has a job");
    for target in ["discord", "notion"] {
        let d = h.delivery("run-3", target).await;
        assert_eq!(d.state, "disabled", "{target}");
    }
    assert_eq!(h.delivery("run-3", "portal").await.state, "succeeded");

    // A delivery queued while the credential existed is disabled, not failed, at run time.
    let store = &h.app.store;
    let mut d = h.delivery("run-3", "discord").await;
    d.state = "pending".into();
    store.update_delivery(&d).await.unwrap();
    deliver(
        h.deps(),
        &PublishJob {
            run_id: "run-3".into(),
            target: "discord".into(),
        },
    )
    .await
    .unwrap();
    let d = h.delivery("run-3", "discord").await;
    assert_eq!(d.state, "disabled");
    assert!(d.last_error.unwrap().contains("DISCORD_SYNC_WEBHOOK"));
    assert_eq!(h.discord.requests(), 0);
    assert!(h.notion.requests().is_empty());
}
