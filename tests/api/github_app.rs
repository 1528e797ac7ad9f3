//! The whole organisation (issue 33): a GitHub App reads its installations' repositories with
//! installation tokens it renews, `owner/*` patterns find repositories (archived ones and
//! forks skipped, exclusions honoured), installation webhooks add and remove repositories
//! without a restart, an organisation webhook's installation picks the token, a budget down to
//! its reserve stops the cycle early, and an unchanged organisation costs only free `304`s and
//! one GraphQL query, while a change anywhere shows in the next cycle. Against the fake
//! GitHub's organisation side (`sync_fake_org`), which checks the App's JWT with its public key.

use std::time::Duration;

use helix_sync::queue::JobPayload;
use serde_json::json;

use crate::helpers::*;
use crate::sync_fake::{FakeGithub, Logged};
use crate::sync_support::*;

const APP_ID: &str = "424242";
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/github-app-test-key.pem"
);
const PUBLIC: &str = include_str!("../data/github-app-test-key.pub.pem");

/// An app reading `repos` as the GitHub App, against a fake organisation with `setup`.
async fn org_app(repos: &str, env: &[(&str, &str)]) -> (TestApp, FakeGithub) {
    let mut all = vec![
        ("GITHUB_APP_ID", APP_ID),
        ("GITHUB_APP_PRIVATE_KEY_FILE", KEY),
        ("GITHUB_REPOS", repos),
    ];
    all.extend_from_slice(env);
    let (app, fake) = sync_app(&[], &all).await;
    fake.enable_org(APP_ID, PUBLIC, None);
    (app, fake)
}

fn names(snapshot: &helix_sync::sync::snapshot::Snapshot) -> Vec<String> {
    snapshot.repos.keys().cloned().collect()
}

async fn sync_now(app: &TestApp) -> helix_sync::store::RunRow {
    let run = sync_ok(app).await;
    assert!(
        matches!(run.status.as_str(), "succeeded" | "partial"),
        "{run:?}"
    );
    run
}

/// A full sync that must succeed, and what the fake GitHub was asked during it.
async fn logged_cycle(app: &TestApp, fake: &FakeGithub) -> Vec<Logged> {
    fake.clear_log();
    let run = sync_now(app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    fake.log()
}

#[tokio::test]
async fn an_app_reads_every_found_repository_with_tokens_it_renews() {
    let (app, fake) = org_app("helix/*,!helix/skip", &[]).await;
    fake.add_installation(
        1,
        "helix",
        &[
            "helix/core",
            "helix/portal",
            "helix/skip",
            "helix/old",
            "helix/fork",
        ],
    );
    fake.org(|o| {
        o.flags.insert("helix/old".into(), (true, false));
        o.flags.insert("helix/fork".into(), (false, true));
        // Short-lived tokens, so a second cycle has to renew.
        o.token_life_secs = 4;
    });
    fake.add_commits("helix/core", 3, 0);
    fake.add_issue("helix/portal", "open", 60);

    let run = sync_now(&app).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert_eq!(names(&snapshot), ["helix/core", "helix/portal"]);
    assert_eq!(snapshot.repos["helix/core"].commits.len(), 3);
    assert_eq!(fake.org(|o| o.minted), 1, "one token for the whole cycle");

    // Half its life gone: the next cycle renews it before using it.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    fake.add_commits("helix/core", 1, 600);
    sync_now(&app).await;
    assert_eq!(fake.org(|o| o.minted), 2, "renewed");
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert_eq!(snapshot.repos["helix/core"].commits.len(), 4);
}

#[tokio::test]
async fn a_fresh_tokens_401_is_retried_and_a_skewed_clock_is_corrected() {
    let (app, fake) = org_app("helix/core", &[]).await;
    fake.add_installation(1, "helix", &["helix/core"]);
    fake.add_commits("helix/core", 2, 0);
    fake.org(|o| {
        // GitHub's clock ten minutes behind ours: our `iat` is in its future.
        o.clock_offset_secs = -600;
        // A freshly minted token answers 401 once (replication lag).
        o.lag_first_use = true;
    });
    let run = sync_now(&app).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert_eq!(snapshot.repos["helix/core"].commits.len(), 2);
}

#[tokio::test]
async fn installation_webhooks_add_and_remove_repositories_without_a_restart() {
    let (app, fake) = org_app("helix/*", &[]).await;
    fake.add_installation(1, "helix", &["helix/a", "helix/b"]);
    fake.add_commits("helix/b", 2, 0);
    sync_now(&app).await;
    assert!(!app.store.cursors_for("helix/b").await.unwrap().is_empty());

    // The organisation removes b from the App and adds c; GitHub says so by webhook.
    fake.add_repo("helix/c");
    fake.org(|o| o.installations[0].repos = vec!["helix/a".into(), "helix/c".into()]);
    let body = json!({
        "action": "removed",
        "installation": {"id": 1, "account": {"login": "helix"}},
        "repository_selection": "selected",
        "repositories_added": [{"full_name": "helix/c"}],
        "repositories_removed": [{"full_name": "helix/b"}],
    });
    let res = app
        .post_github(
            "installation_repositories",
            "inst-1",
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert!(app.run_pending_jobs().await >= 1, "the sync it queued ran");
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert_eq!(names(&snapshot), ["helix/a", "helix/c"]);
    assert!(
        app.store.cursors_for("helix/b").await.unwrap().is_empty(),
        "a removed repository's cursors and ETags go with it"
    );
}

#[tokio::test]
async fn an_organisation_webhooks_installation_picks_the_token() {
    let (app, fake) = org_app("helix/*,other/*", &[]).await;
    fake.add_installation(1, "helix", &["helix/a"]);
    fake.add_installation(2, "other", &["other/x"]);
    fake.add_commits("other/x", 1, 0);
    // Installation 1's token cannot see other/x (404): only installation 2's reads it.
    let mut push = push_payload("other/x", "feature", "change");
    push["installation"] = json!({"id": 2});
    let res = app
        .post_github("push", "org-1", push.to_string().as_bytes())
        .await;
    assert_eq!(res.status(), 202);
    assert!(app.run_pending_jobs().await >= 1, "the sync it queued ran");
    let (run_id, snapshot) = latest_snapshot(&app).await.unwrap();
    let run = run(&app, &run_id).await;
    assert_eq!(snapshot.repos["other/x"].commits.len(), 1, "{run:?}");
    assert_eq!(
        fake.org(|o| o.minted),
        1,
        "only installation 2 was asked for"
    );
    // An event for a repository GITHUB_REPOS does not select queues nothing.
    let res = app
        .post_github(
            "push",
            "org-2",
            push_payload("elsewhere/z", "main", "x")
                .to_string()
                .as_bytes(),
        )
        .await;
    let v: serde_json::Value = res.json().await.unwrap();
    let ev = app
        .store
        .get_event(v["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(ev.job_id.is_none());
}

#[tokio::test]
async fn a_budget_down_to_its_reserve_stops_the_cycle_and_resumes_at_the_reset() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("sync_config.json");
    std::fs::write(&cfg, r#"{"sources": {"github": {"rate_reserve": 5}}}"#).unwrap();
    let (app, fake) = org_app("helix/*", &[("HELIX_CONFIG", cfg.to_str().unwrap())]).await;
    let repos: Vec<String> = (0..10).map(|i| format!("helix/r{i}")).collect();
    let refs: Vec<&str> = repos.iter().map(String::as_str).collect();
    fake.add_installation(1, "helix", &refs);
    // 40 requests an hour: a listing, then 6 resources (and languages, README) per
    // repository cannot all fit.
    fake.org(|o| o.budget_limit = 40);

    let run = sync_ok(&app).await;
    assert_eq!(run.status, "partial", "{run:?}");
    let github = &sources(&run)["github"];
    let error = github["error"].as_str().unwrap();
    assert!(
        error.contains("rate budget of installation:1 (core)") && error.contains("resume"),
        "{error}"
    );
    assert!(fake.org(|o| o.spent("installation:1", "core")) <= 40 - 5);
    // The same sync waits for the reset.
    let jobs = app
        .store
        .list_jobs(Some(helix_sync::store::JobState::Queued), 10)
        .await
        .unwrap();
    let resume = jobs
        .iter()
        .find(|j| matches!(serde_json::from_str(&j.payload), Ok(JobPayload::Sync(_))))
        .expect("a sync queued for the reset");
    assert!(
        resume.run_at > helix_sync::store::now_ms(),
        "at the reset, not now"
    );

    // The budget is in sight: /health, /metrics and the console.
    let health = app.get_json("/health").await;
    let budget = health["github_budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["token"] == "installation:1" && b["resource"] == "core")
        .expect("the installation's budget on /health")
        .clone();
    assert!(budget["remaining"].as_u64().unwrap() <= 5, "{budget}");
    assert_eq!(budget["limit"], 40);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("helix_github_rate_remaining{token=\"installation:1\",resource=\"core\"}")
            || metrics.contains(
                "helix_github_rate_remaining{resource=\"core\",token=\"installation:1\"}"
            ),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unchanged_organisation_costs_no_rest_request_and_any_change_shows() {
    let (app, fake) = org_app("helix/*", &[]).await;
    let repos = [
        "helix/a", "helix/b", "helix/c", "helix/d", "helix/e", "helix/g",
    ];
    fake.add_installation(1, "helix", &repos);
    for r in repos {
        fake.add_commits(r, 1, 0);
        fake.add_deployment(r, 1, "production", 30);
        fake.add_release(r, 1, "v0.1.0", 30);
    }
    fake.add_release("helix/g", 2, "v0.2.0", 60);
    sync_now(&app).await;

    // Nothing changed: the listing answers 304 and one GraphQL query says so.
    let rest_before = fake.org(|o| o.spent("installation:1", "core"));
    let log = logged_cycle(&app, &fake).await;
    assert!(
        log.iter().all(|l| !l.path.starts_with("helix/")),
        "no repository asked about: {log:?}"
    );
    assert_eq!(
        fake.org(|o| o.spent("installation:1", "core")),
        rest_before,
        "free: only 304s on the REST budget"
    );
    assert_eq!(fake.org(|o| o.spent("installation:1", "graphql")), 2);

    // One change of each kind, each in its own repository, and an edit of a release older
    // than the newest: each shows.
    fake.add_repo("helix/f");
    fake.org(|o| o.installations[0].repos.push("helix/f".into()));
    fake.add_commit("helix/a", "feedface", "Fix", "dev", 900);
    let issue = fake.add_issue("helix/b", "open", 900);
    let pull = fake.add_pull("helix/c", "open", false, 900);
    fake.add_release("helix/d", 77, "v1.0.0", 900);
    fake.add_deployment("helix/e", 88, "production", 900);
    fake.edit_release("helix/g", 1, "Renamed", 900);
    fake.clear_log();
    sync_now(&app).await;
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert!(snapshot.repos["helix/a"]
        .commits
        .iter()
        .any(|c| c.sha == "feedface"));
    assert!(snapshot.repos["helix/b"]
        .issues
        .iter()
        .any(|i| i.number == issue));
    assert!(snapshot.repos["helix/c"]
        .pulls
        .iter()
        .any(|p| p.number == pull));
    assert!(snapshot.repos["helix/d"]
        .releases
        .iter()
        .any(|r| r.id == 77));
    assert!(
        snapshot.repos["helix/e"]
            .deployments
            .iter()
            .any(|d| d.id == 88),
        "{:?} {:?}",
        snapshot.repos["helix/e"].deployments,
        fake.log()
            .iter()
            .filter(|l| l.path.starts_with("helix/e"))
            .collect::<Vec<_>>()
    );
    assert!(
        snapshot.repos["helix/g"]
            .releases
            .iter()
            .any(|r| r.id == 1 && r.name == "Renamed"),
        "an older release's edit shows: {:?}",
        snapshot.repos["helix/g"].releases
    );
    assert!(
        snapshot.repos.contains_key("helix/f"),
        "a new repository is read"
    );
}

#[tokio::test]
async fn a_marker_query_answered_in_part_still_skips_the_repositories_it_answered_for() {
    let (app, fake) = org_app("helix/*", &[]).await;
    let repos = ["helix/a", "helix/b"];
    fake.add_installation(1, "helix", &repos);
    for r in repos {
        fake.add_commits(r, 1, 0);
    }
    sync_now(&app).await;

    // GitHub cannot resolve one repository's id (deleted after the listing): it answers the
    // other's marker beside a NOT_FOUND error. The answered one is skipped, the other read.
    fake.org(|o| o.unresolvable.insert("helix/b".into()));
    let log = logged_cycle(&app, &fake).await;
    assert!(
        log.iter().all(|l| !l.path.starts_with("helix/a")),
        "the answered repository is skipped: {log:?}"
    );
    assert!(
        log.iter().any(|l| l.path.starts_with("helix/b")),
        "the unanswered one is read: {log:?}"
    );
}

#[tokio::test]
async fn a_personal_token_lists_an_owners_repositories() {
    let (app, fake) = sync_app(
        &[],
        &[
            ("GITHUB_REPOS", "helix/*"),
            ("GITHUB_TOKEN", "ghp_personal"),
        ],
    )
    .await;
    fake.enable_org(APP_ID, PUBLIC, Some("ghp_personal"));
    fake.add_commits("helix/one", 1, 0);
    fake.add_commits("helix/two", 1, 0);
    fake.add_commits("other/three", 1, 0);
    sync_now(&app).await;
    let (_, snapshot) = latest_snapshot(&app).await.unwrap();
    assert_eq!(names(&snapshot), ["helix/one", "helix/two"]);
}
