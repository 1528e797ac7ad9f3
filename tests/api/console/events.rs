//! Events: filters, keyset pagination, bad filter values, the event page, replay one and
//! replay all matching, and the bounded log of rejected requests.

use super::{flash, Console};
use helix_sync::store::now_ms;

use crate::helpers::{push_payload, spawn_app, TestApp};

async fn push(app: &TestApp, repo: &str, delivery: &str) {
    let body = serde_json::to_vec(&push_payload(repo, "main", "change")).unwrap();
    assert_eq!(app.post_github("push", delivery, &body).await.status(), 202);
}

#[tokio::test]
async fn filters_narrow_the_list_and_pages_follow_the_keyset() {
    let app = spawn_app().await;
    for i in 0..55 {
        push(&app, "o/alpha", &format!("alpha-{i:03}")).await;
    }
    push(&app, "o/beta", "beta-special-1").await;
    let body = serde_json::to_vec(&serde_json::json!({"zen": "z", "hook_id": 1})).unwrap();
    app.post_github("star", "star-1", &body).await;
    let v = Console::as_role(&app, "vera", "viewer").await;

    let beta = v.page("/console/events?repo=o%2Fbeta").await;
    assert!(beta.contains("beta-special-1") && !beta.contains("alpha-0"));
    let text = v.page("/console/events?delivery=beta-spec").await;
    assert!(text.contains("beta-special-1") && !text.contains("alpha-0"));
    let star = v.page("/console/events?type=star&outcome=none").await;
    assert!(star.contains("star-1") && !star.contains("beta-special"));

    // 56 pushes: the first page has 50, newest first, and a cursor to the rest.
    let first = v.page("/console/events?source=github&type=push").await;
    assert_eq!(first.matches("/console/events/0").count(), 50, "{first}");
    assert!(first.contains("beta-special-1"));
    let at = first.find("after=").expect("a next-page link") + "after=".len();
    let cursor = &first[at..at + first[at..].find('"').unwrap()];
    let second = v
        .page(&format!(
            "/console/events?source=github&type=push&after={cursor}"
        ))
        .await;
    assert_eq!(second.matches("/console/events/0").count(), 6);
    assert!(second.contains("alpha-000") && !second.contains("alpha-054"));
    assert!(!second.contains("after="), "the last page has no next link");
}

#[tokio::test]
async fn a_rare_outcome_lists_exactly_its_events_newest_first_across_pages() {
    let app = spawn_app().await;
    // 60 repositories, one job each; 57 of the jobs are cancelled (a rare outcome), in order.
    let mut cancelled = Vec::new();
    for i in 0..60 {
        let job = app
            .push_job(&format!("o/r{i:02}"), &format!("d-{i:02}"))
            .await;
        if i % 20 != 7 {
            assert!(app.store.cancel_job(&job, now_ms()).await.unwrap());
            cancelled.push(format!("d-{i:02}"));
        }
    }
    let v = Console::as_role(&app, "vera", "viewer").await;
    let first = v.page("/console/events?outcome=cancelled").await;
    let shown = |page: &str| -> Vec<String> {
        (0..60)
            .map(|i| format!("d-{i:02}"))
            .filter(|d| page.contains(&format!(">{d}<")))
            .collect()
    };
    // Newest first: the 50 newest cancelled ones, then the 7 oldest behind the cursor.
    assert_eq!(cancelled.len(), 57);
    assert_eq!(shown(&first), cancelled[7..], "{first}");
    let at = first.find("after=").expect("a next-page link") + "after=".len();
    let cursor = &first[at..at + first[at..].find('"').unwrap()];
    let second = v
        .page(&format!("/console/events?outcome=cancelled&after={cursor}"))
        .await;
    assert_eq!(shown(&second), cancelled[..7]);
    // With another filter, and for an outcome no job has.
    let one = v
        .page("/console/events?outcome=cancelled&repo=o%2Fr01")
        .await;
    assert_eq!(shown(&one), ["d-01"]);
    let queued = v.page("/console/events?outcome=queued").await;
    assert_eq!(shown(&queued), ["d-07", "d-27", "d-47"]);
    assert!(shown(&v.page("/console/events?outcome=dead").await).is_empty());
}

#[tokio::test]
async fn bad_filter_values_are_shown_beside_their_fields() {
    let app = spawn_app().await;
    push(&app, "o/alpha", "alpha-1").await;
    let v = Console::as_role(&app, "vera", "viewer").await;
    let res = v
        .get("/console/events?source=gitlab&from=yesterday&outcome=exploded&after=zzz")
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    for id in ["err-source", "err-from", "err-outcome", "err-after"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(html.contains("unknown source &quot;gitlab&quot;"), "{html}");
    assert!(!html.contains("alpha-1"), "nothing is listed");
    let res = v
        .get("/console/events?from=2026-12-01T10:00&to=2026-12-01T09:00")
        .await;
    assert_eq!(res.status(), 400);
    // An operator's bulk replay with a bad filter changes nothing either.
    let op = Console::as_role(&app, "otto", "operator").await;
    let jobs = app.count("jobs").await;
    let res = op
        .post("/console/events/replay", &[("source", "gitlab")])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.count("jobs").await, jobs);
}

#[tokio::test]
async fn the_event_page_redacts_headers_and_shows_what_it_caused() {
    let app = spawn_app().await;
    let job = app.push_job("o/alpha", "alpha-1").await;
    let ev = app.store.events_for_job(&job).await.unwrap().remove(0);
    let v = Console::as_role(&app, "vera", "viewer").await;
    let html = v.page(&format!("/console/events/{}", ev.id)).await;
    assert!(html.contains("x-github-delivery") && html.contains("alpha-1"));
    assert!(
        html.contains("&quot;full_name&quot;: &quot;o&#x2f;alpha&quot;"),
        "pretty-printed payload"
    );
    assert!(html.contains(&format!("/console/jobs/{job}")));
    assert!(
        !html.contains("Replay this event"),
        "a viewer cannot replay"
    );
    assert!(!html.contains(crate::helpers::GITHUB_SECRET));
    let res = v.get("/console/events/no-such-event").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("no event no-such-event"));
}

#[tokio::test]
async fn replay_one_and_replay_all_matching_after_a_confirmation() {
    let app = spawn_app().await;
    let job = app.push_job("o/alpha", "alpha-1").await;
    push(&app, "o/beta", "beta-1").await;
    push(&app, "o/beta", "beta-2").await;
    // Finish everything so that a replay queues new jobs instead of joining waiting ones.
    app.store.retry_jobs(None, 0).await.unwrap();
    for j in app.store.list_jobs(None, 100).await.unwrap() {
        app.store.cancel_job(&j.id, 1).await.unwrap();
    }
    let ev = app.store.events_for_job(&job).await.unwrap().remove(0);
    let op = Console::as_role(&app, "otto", "operator").await;
    let res = op
        .post(&format!("/console/events/{}/replay", ev.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains("queued job"), "{}", flash(&res));
    let queued = app
        .store
        .list_jobs(Some(helix_sync::store::JobState::Queued), 100)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].payload.contains("o/alpha"));
    assert_eq!(
        op.post("/console/events/nope/replay", &[]).await.status(),
        404
    );

    // All of o/beta: the confirmation shows the count, then the replay queues one sync
    // (both events ask for the same repository sync, which coalesces).
    let confirm = op.page("/console/events/replay?repo=o%2Fbeta").await;
    assert!(
        confirm.contains("<strong>2</strong> event(s) match"),
        "{confirm}"
    );
    assert!(confirm.contains("name=\"repo\" value=\"o&#x2f;beta\""));
    let res = op
        .post("/console/events/replay", &[("repo", "o/beta")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        flash(&res).contains("Replayed 2 event(s): 1 job(s) queued"),
        "{}",
        flash(&res)
    );
    let queued = app
        .store
        .list_jobs(Some(helix_sync::store::JobState::Queued), 100)
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    let audit = Console::as_role(&app, "root", "admin")
        .await
        .page("/console/audit")
        .await;
    assert!(audit.contains("event.replay_matching") && audit.contains("event.replay"));
}

#[tokio::test]
async fn rejected_requests_show_the_reason_and_never_the_body() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "forged-delivery-1")
        .header("x-hub-signature-256", "sha256=00")
        .body(r#"{"secret_body_marker": "<script>x</script>"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let v = Console::as_role(&app, "vera", "viewer").await;
    let html = v.page("/console/rejected").await;
    assert!(html.contains("forged-delivery-1") && html.contains("signature does not match"));
    assert!(
        !html.contains("secret_body_marker"),
        "the unverified body is never shown"
    );
    // Thousands of forged requests leave the log at its bound.
    for i in 0..(helix_sync::ingest::rejected::CAPACITY + 20) {
        app.state
            .edge()
            .rejected
            .push(helix_sync::ingest::rejected::Rejected {
                at: i as i64,
                source: "ritual".into(),
                client: None,
                claimed_delivery: Some(format!("flood-{i}")),
                event_type: None,
                code: "unauthorized".into(),
                reason: "signature does not match".into(),
                body_bytes: None,
            });
    }
    assert_eq!(
        app.state.edge().rejected.list(None).len(),
        helix_sync::ingest::rejected::CAPACITY
    );
    let html = v.page("/console/rejected?source=ritual").await;
    assert!(!html.contains("forged-delivery-1") && html.contains("flood-519"));
}
