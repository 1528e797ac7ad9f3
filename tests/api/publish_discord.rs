//! Discord: rate limits, a deleted webhook, length limits and role mentions.

use helix_sync::queue::PublishJob;
use helix_sync::store::now_ms;
use helix_sync::sync::publishers::deliver;
use helix_sync::sync::snapshot::{ChangeSummary, RepoChanges};
use serde_json::json;

use crate::fakes::Fault;
use crate::publish_support::*;

#[tokio::test]
async fn a_429_then_success_sends_exactly_one_message() {
    let h = harness(Setup::default()).await;
    h.discord.fail(Fault::next(1, 429).retry_after(30.0));
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    h.run_pending().await;

    let d = h.delivery("run-1", "discord").await;
    assert_eq!(
        (d.state.as_str(), d.attempts),
        ("failed", 0),
        "a rate-limit wait costs no attempt"
    );
    let retry_at = d.next_attempt_at.unwrap();
    assert!(
        retry_at >= now_ms() + 20_000,
        "waits retry_after from the body"
    );
    let job = &h.app.store.list_jobs(None, 10).await.unwrap()[0];
    assert_eq!((job.state.as_str(), job.run_at), ("failed", retry_at));
    assert!(h.discord.messages().is_empty());

    h.make_retries_due().await;
    h.run_pending().await;
    assert_eq!(h.discord.messages().len(), 1);
    assert_eq!(h.discord.requests(), 2);
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(d.state, "succeeded");
    assert_eq!(
        d.external_id.as_deref(),
        h.discord.messages()[0]["id"].as_str()
    );
}

#[tokio::test]
async fn an_exhausted_bucket_is_remembered_for_the_next_call() {
    let h = harness(Setup::default()).await;
    h.discord.0.lock().exhaust_bucket = Some(3600.0);
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    h.seed_run("run-2", now_ms() + 1, &changes(), &["discord"])
        .await;
    h.run_pending().await;
    // The first message emptied the bucket for an hour: the second waits, without a request.
    assert_eq!(h.discord.requests(), 1);
    let mut states = vec![
        h.delivery("run-1", "discord").await.state,
        h.delivery("run-2", "discord").await.state,
    ];
    states.sort();
    assert_eq!(states, ["failed", "succeeded"]);
}

#[tokio::test]
async fn a_deleted_webhook_disables_the_target_until_the_url_changes() {
    let h = harness(Setup {
        webhook_token: "deleted-token",
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    h.run_pending().await;
    let d = h.delivery("run-1", "discord").await;
    assert_eq!(d.state, "disabled");
    let err = d.last_error.unwrap();
    assert!(err.contains("404") && err.contains("10015"), "{err}");
    assert!(
        !err.contains("deleted-token"),
        "the webhook token never leaks"
    );
    assert_eq!(h.job_states().await, ["dead"]);

    h.seed_run("run-2", now_ms() + 1, &changes(), &["discord"])
        .await;
    h.run_pending().await;
    assert_eq!(h.delivery("run-2", "discord").await.state, "disabled");
    assert_eq!(
        h.discord.requests(),
        1,
        "no request to a webhook known to be gone"
    );
}

#[tokio::test]
async fn an_oversized_change_summary_is_cut_within_the_limits() {
    let h = harness(Setup::default()).await;
    let mut c = ChangeSummary::default();
    for i in 0..150 {
        c.repos.insert(
            format!("helix/repo-{i:03}-{}", "x".repeat(60)),
            RepoChanges {
                new_commits: 20,
                authors: (0..30).map(|a| format!("author-{a}")).collect(),
                commit_lines: (0..20)
                    .map(|n| (format!("{n:07}"), "🚀 long message ".repeat(40)))
                    .collect(),
                prs_merged: (1..200).collect(),
                ..Default::default()
            },
        );
    }
    h.seed_run("run-big", now_ms(), &c, &["discord"]).await;
    h.run_pending().await;
    assert_eq!(h.discord.rejections(), Vec::<String>::new());
    let m = &h.discord.messages()[0];
    let e = &m["embeds"][0];
    let len = |v: &serde_json::Value| v.as_str().unwrap().chars().count();
    let description = e["description"].as_str().unwrap();
    assert!(len(&e["description"]) <= 4096, "{description}");
    // Whole repositories are left out and counted, rather than one cut mid-line.
    assert!(
        description.ends_with("more repositories changed."),
        "{description}"
    );
    let fields: usize = e["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| len(&f["name"]) + len(&f["value"]))
        .sum();
    assert!(len(&e["title"]) + len(&e["description"]) + len(&e["footer"]["text"]) + fields <= 6000);
    assert_eq!(h.delivery("run-big", "discord").await.state, "succeeded");
}

/// An organisation's first sync: 500 repositories changed. The message names the busiest
/// ten with their links, counts the rest, and stays inside every limit.
#[tokio::test]
async fn an_organisation_of_500_changed_repositories_reads_as_the_busiest_and_a_count() {
    let h = harness(Setup::default()).await;
    let mut c = ChangeSummary::default();
    for i in 0..500u64 {
        c.repos.insert(
            format!("helix/service-{i:03}"),
            RepoChanges {
                // Repository 250 is the busiest; 100 to 108 come next.
                new_commits: match i {
                    250 => 40,
                    100..=108 => 10 + i - 100,
                    _ => 3,
                },
                authors: vec!["ada".into(), "lin".into()],
                commit_lines: (0..3)
                    .map(|n| {
                        (
                            format!("{i:03}{n:04}"),
                            format!("Change {n} of service {i}"),
                        )
                    })
                    .collect(),
                prs_merged: vec![i + 1],
                ..Default::default()
            },
        );
    }
    h.seed_run("run-org", now_ms(), &c, &["discord"]).await;
    h.run_pending().await;
    assert_eq!(h.discord.rejections(), Vec::<String>::new());
    let e = &h.discord.messages()[0]["embeds"][0];
    let description = e["description"].as_str().unwrap();
    let named: Vec<&str> = description
        .lines()
        .filter_map(|l| l.strip_prefix("**helix/")?.split("**").next())
        .collect();
    let busiest: Vec<String> = (100..=108)
        .chain([250])
        .map(|i| format!("service-{i:03}"))
        .collect();
    assert_eq!(named, busiest, "{description}");
    assert!(description.contains("…and 490 more repositories changed."));
    assert!(!description.ends_with('…'), "no line is cut: {description}");
    let fields = e["fields"].as_array().unwrap();
    assert!(fields.len() <= 25);
    let len = |v: &serde_json::Value| v.as_str().unwrap().chars().count();
    let total = len(&e["title"])
        + description.chars().count()
        + len(&e["footer"]["text"])
        + fields
            .iter()
            .map(|f| len(&f["name"]) + len(&f["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "{total}");
}

#[tokio::test]
async fn roles_are_mentioned_explicitly_and_never_everyone() {
    let h = harness(Setup {
        publishers: json!({"discord": {"mention_roles": ["111222333", "everyone", "<@&444555666>"]}}),
        ..Setup::default()
    })
    .await;
    h.seed_run("run-1", now_ms(), &changes(), &["discord"])
        .await;
    deliver(
        h.deps(),
        &PublishJob {
            run_id: "run-1".into(),
            target: "discord".into(),
        },
    )
    .await
    .unwrap();
    let m = &h.discord.messages()[0];
    let content = m["content"].as_str().unwrap();
    assert!(
        content.starts_with("<@&111222333> <@&444555666> "),
        "{content}"
    );
    assert!(!content.contains("@everyone"));
    assert_eq!(
        m["allowed_mentions"],
        json!({"parse": [], "roles": ["111222333", "444555666"]})
    );
}
