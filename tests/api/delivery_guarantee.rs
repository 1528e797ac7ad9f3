//! The honest delivery guarantee of Discord (webhooks take no idempotency key): "attempt
//! started" is recorded before the POST; an attempt cut off mid-request is resolved by
//! reading the channel when a bot token and channel id are configured, and otherwise posted
//! again and counted.

use std::time::{Duration, Instant};

use helix_sync::queue::PublishJob;
use helix_sync::store::now_ms;
use helix_sync::sync::publishers::deliver;

use crate::fakes::discord::{BOT_TOKEN, CHANNEL_ID};
use crate::fakes::Fault;
use crate::publish_support::*;

fn job() -> PublishJob {
    PublishJob {
        run_id: "run-1".into(),
        target: "discord".into(),
    }
}

fn with_lookup() -> Vec<(&'static str, String)> {
    vec![
        ("DISCORD_BOT_TOKEN", BOT_TOKEN.into()),
        ("DISCORD_CHANNEL_ID", CHANNEL_ID.into()),
    ]
}

/// Starts a delivery, lets Discord accept the message, and kills the attempt before the
/// answer arrives (what a crash mid-POST leaves behind).
async fn cut_off_mid_post(h: &Harness) {
    h.discord.0.lock().hang_next = Some(Duration::from_secs(30));
    let deps = h.deps().clone();
    let task = tokio::spawn(async move { deliver(&deps, &job()).await });
    let start = Instant::now();
    while h.discord.messages().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the POST never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(d.state, "pending");
    assert!(d.progress.contains("attempt_started_at"), "{}", d.progress);
}

#[tokio::test]
async fn an_attempt_cut_off_mid_post_is_resolved_by_the_channel_lookup() {
    let h = harness(Setup {
        notion: false,
        env: with_lookup(),
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    cut_off_mid_post(&h).await;

    deliver(h.deps(), &job()).await.unwrap();
    let messages = h.discord.messages();
    assert_eq!(messages.len(), 1, "no blind duplicate");
    assert_eq!(h.discord.0.lock().channel_reads, 1);
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(d.state, "succeeded");
    assert_eq!(d.external_id.as_deref(), messages[0]["id"].as_str());
}

#[tokio::test]
async fn without_a_lookup_an_uncertain_attempt_is_posted_again_and_counted() {
    let h = harness(Setup {
        notion: false,
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    cut_off_mid_post(&h).await;

    deliver(h.deps(), &job()).await.unwrap();
    assert_eq!(
        h.discord.messages().len(),
        2,
        "posted again: the guarantee is at-least-once"
    );
    assert_eq!(h.discord.0.lock().channel_reads, 0);
    let metrics = h.app.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("helix_delivery_uncertain_total{")
                && l.contains(r#"resolution="reposted""#)
                && l.contains(r#"target="discord""#)),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_definite_refusal_is_certain_and_needs_no_lookup() {
    let h = harness(Setup {
        notion: false,
        env: with_lookup(),
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    h.discord.fail(Fault::next(1, 503));
    assert!(deliver(h.deps(), &job()).await.is_err());
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(
        d.progress, "{}",
        "a 503 is a definite answer: nothing was posted"
    );

    deliver(h.deps(), &job()).await.unwrap();
    assert_eq!(h.discord.messages().len(), 1);
    assert_eq!(h.discord.0.lock().channel_reads, 0);
}
