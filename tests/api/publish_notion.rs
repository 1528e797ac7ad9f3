//! Notion: an outage rides on the queue's retries, a crash at any point resumes without a
//! second page or a repeated block, and permanent errors keep Notion's code and message.

use helix_sync::store::now_ms;
use serde_json::json;

use crate::fakes::notion::{API_KEY, DATABASE_ID};
use crate::fakes::Fault;
use crate::publish_support::*;

fn expected_texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("block {i}")).collect()
}

#[tokio::test]
async fn down_for_three_attempts_then_up_gives_one_page_with_blocks_once() {
    let h = harness(Setup::default()).await;
    h.notion.fail(Fault::next(3, 503));
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 250));
    h.run_pending().await;
    let d = h.delivery("run-1", "notion").await;
    assert_eq!((d.state.as_str(), d.attempts), ("failed", 1));
    assert!(d.last_error.unwrap().contains("503"));
    let d = h.retry_until_settled("run-1", "notion").await;
    assert_eq!((d.state.as_str(), d.attempts), ("succeeded", 4), "{d:?}");
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(block_texts(&pages[0].children), expected_texts(250));
    let progress: serde_json::Value = serde_json::from_str(&d.progress).unwrap();
    assert_eq!(progress["appended"], 250);
    let appends = h
        .notion
        .requests()
        .iter()
        .filter(|r| r.ends_with("/children") && r.starts_with("PATCH"))
        .count();
    assert_eq!(appends, 3, "250 blocks in chunks of at most 100");
    assert_eq!(h.notion.rejections(), Vec::<String>::new());
}

#[tokio::test]
async fn a_crash_between_create_and_append_finds_the_page_instead_of_creating_another() {
    let h = harness(Setup::default()).await;
    h.notion.fail(Fault::next(1, 500).on("PATCH", "/children"));
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 30));
    h.run_pending().await;
    assert_eq!(h.notion.pages().len(), 1);
    assert!(h.notion.pages()[0].children.is_empty());

    // The crash lost everything recorded after the page was created.
    let mut d = h.delivery("run-1", "notion").await;
    d.progress = "{}".into();
    d.external_id = None;
    h.app.store.update_delivery(&d).await.unwrap();

    h.make_retries_due().await;
    h.run_pending().await;
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 1, "no second page");
    assert_eq!(block_texts(&pages[0].children), expected_texts(30));
    let d = h.delivery("run-1", "notion").await;
    assert_eq!(d.state, "succeeded");
    assert_eq!(d.external_id.as_deref(), Some(pages[0].id.as_str()));
}

#[tokio::test]
async fn a_crash_between_two_chunks_resumes_after_the_appended_blocks() {
    let h = harness(Setup::default()).await;
    // The first chunk goes through, the second fails.
    h.notion
        .fail(Fault::next(1, 502).on("PATCH", "/children").after(1));
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 250));
    h.run_pending().await;
    let page_id = h.notion.pages()[0].id.clone();
    assert_eq!(h.notion.pages()[0].children.len(), 100);
    let mut d = h.delivery("run-1", "notion").await;
    let progress: serde_json::Value = serde_json::from_str(&d.progress).unwrap();
    assert_eq!(
        progress["appended"], 100,
        "progress is recorded after each chunk"
    );

    // The crash lost the record of the first chunk (it died between the append and the save).
    d.progress = json!({"page_id": page_id, "appended": 0, "total": 250}).to_string();
    h.app.store.update_delivery(&d).await.unwrap();
    h.make_retries_due().await;
    h.run_pending().await;
    let pages = h.notion.pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        block_texts(&pages[0].children),
        expected_texts(250),
        "each block exactly once"
    );
    assert_eq!(h.delivery("run-1", "notion").await.state, "succeeded");
}

#[tokio::test]
async fn a_permanent_error_keeps_notions_code_and_message() {
    let h = harness(Setup::default()).await;
    h.notion.remove_database(DATABASE_ID);
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 2));
    h.run_pending().await;
    let d = h.delivery("run-1", "notion").await;
    assert_eq!(d.state, "dead");
    let err = d.last_error.unwrap();
    assert!(
        err.contains("object_not_found") && err.contains("Could not find database with ID"),
        "{err}"
    );
    assert!(
        !err.contains(API_KEY) && !err.contains("fake-request"),
        "no secret, no whole body: {err}"
    );
    assert_eq!(h.job_states().await, ["dead"]);
}

#[tokio::test]
async fn rate_limited_answers_wait_retry_after_without_using_an_attempt() {
    let h = harness(Setup::default()).await;
    h.notion.fail(Fault::next(1, 429).retry_after(40.0));
    h.notion.fail(Fault::next(1, 529).retry_after(40.0));
    h.seed_run("run-1", now_ms(), &changes(), &["notion"]).await;
    h.set_notion_doc("run-1", notion_doc("run-1", 5));
    for code in ["rate_limited", "service_overload"] {
        h.run_one().await;
        let d = h.delivery("run-1", "notion").await;
        assert_eq!((d.state.as_str(), d.attempts), ("failed", 0));
        assert!(d.last_error.unwrap().contains(code));
        assert!(d.next_attempt_at.unwrap() >= now_ms() + 30_000);
        h.make_retries_due().await;
    }
    h.run_pending().await;
    assert_eq!(h.delivery("run-1", "notion").await.state, "succeeded");
    assert_eq!(h.notion.pages()[0].children.len(), 5);
}

/// An organisation's run page, as the exporter writes it for 500 repositories: the index
/// tables, 25 sections and the changes, appended within Notion's limits (100 children and
/// 1,000 elements per request, 2,000 characters per rich text) with nothing rejected.
#[tokio::test]
async fn an_organisation_of_500_repositories_is_appended_within_every_limit() {
    use helix_sync::sync::exporters::{fixture::Fixture, notion as exporter, Scope};
    let h = harness(Setup::default()).await;
    h.seed_run("run-org", now_ms(), &changes(), &["notion"])
        .await;
    let f = Fixture::new(500, 4);
    let bytes = exporter::export(&f.input(), Scope::Full).unwrap().bytes;
    let mut doc: helix_sync::sync::publishers::notion::NotionDocument =
        serde_json::from_slice(&bytes).unwrap();
    doc.repo_pages.clear(); // the run page is what is measured here
    let blocks = doc.run_page.children.len();
    h.set_notion_doc("run-org", doc);
    h.run_pending().await;
    let d = h.retry_until_settled("run-org", "notion").await;
    assert_eq!(d.state, "succeeded", "{d:?}");
    assert_eq!(h.notion.rejections(), Vec::<String>::new());
    let pages = h.notion.pages();
    assert_eq!(pages[0].children.len(), blocks);
    let tables = pages[0]
        .children
        .iter()
        .filter(|b| b["type"] == "table")
        .count();
    assert!(
        tables >= 5,
        "the 500-row index splits into tables of at most 100 rows"
    );
}
