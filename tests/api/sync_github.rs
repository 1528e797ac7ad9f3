//! The GitHub source against the fake API: full and incremental syncs, conditional
//! requests, paging, failures and push webhooks.

use helix_sync::queue::JobError;

use crate::helpers::*;
use crate::sync_fake::{FakeGithub, Mode};
use crate::sync_support::*;

const REPO: &str = "helix/core";

/// A repository with some of everything.
fn seed(fake: &FakeGithub) {
    fake.add_commits(REPO, 3, 0);
    fake.add_issue(REPO, "open", 100);
    fake.add_issue(REPO, "closed", 200);
    fake.add_pull(REPO, "open", false, 300);
    fake.add_pull(REPO, "closed", true, 400);
    fake.add_release(REPO, 11, "v1.0.0", 500);
    fake.add_deployment(REPO, 21, "production", 600);
    fake.set_stars(REPO, 42);
}

#[tokio::test]
async fn first_full_sync_collects_every_resource() {
    let (app, fake) = sync_app(&[REPO], &[("GITHUB_TOKEN", "ghp_test")]).await;
    fake.require_token("ghp_test");
    seed(&fake);

    let run = sync_ok(&app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let (snap_run, snap) = latest_snapshot(&app).await.unwrap();
    assert_eq!(snap_run, run.id);
    let repo = &snap.repos[REPO];
    assert_eq!(repo.commits.len(), 3);
    assert_eq!(
        repo.commits[0].message, "Commit 2\n\nDetails",
        "newest first"
    );
    assert_eq!(repo.issues.len(), 2, "pull requests are not issues");
    assert_eq!(repo.pulls.len(), 2);
    assert_eq!(repo.releases[0].tag, "v1.0.0");
    assert_eq!(repo.deployments[0].environment, "production");
    let stats = repo.stats.as_ref().unwrap();
    assert_eq!((stats.stars, stats.has_readme), (42, true));
    assert_eq!(stats.languages["Rust"], 12000);

    let log = fake.log();
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    assert!(log
        .iter()
        .filter(|r| !r.path.ends_with("languages") && !r.path.ends_with("readme") && r.path != REPO)
        .all(|r| r.query.get("per_page").map(String::as_str) == Some("100")));
    let issues = log.iter().find(|r| r.path.ends_with("/issues")).unwrap();
    assert_eq!(issues.query["state"], "all");
    let pulls = log.iter().find(|r| r.path.ends_with("/pulls")).unwrap();
    assert_eq!(
        (
            pulls.query["sort"].as_str(),
            pulls.query["direction"].as_str()
        ),
        ("updated", "desc")
    );

    let cursors = app.store.cursors_for(REPO).await.unwrap();
    let names: Vec<_> = cursors.iter().map(|c| c.resource.as_str()).collect();
    assert_eq!(
        names,
        [
            "commits",
            "deployments",
            "issues",
            "prs",
            "releases",
            "stats"
        ]
    );
    assert!(cursors.iter().all(|c| c.etag.is_some()));

    let c = changes(&run);
    assert_eq!(c.repos[REPO].new_commits, 3);
    assert_eq!(c.repos[REPO].new_releases, ["v1.0.0"]);
    let s = sources(&run);
    assert_eq!(s["github"]["status"], "ok");
    assert_eq!(s["ucf_state"]["status"], "ok");

    // The portal is on by default; Discord and Notion lack credentials in tests.
    let deliveries = app.store.deliveries_for_run(&run.id).await.unwrap();
    let states: Vec<_> = deliveries
        .iter()
        .map(|d| (d.target.as_str(), d.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("discord", "disabled"),
            ("notion", "disabled"),
            ("portal", "pending")
        ]
    );
    let publish: Vec<_> = app
        .store
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "publish")
        .collect();
    assert_eq!(publish.len(), 1);
    assert!(publish[0].payload.contains(&run.id) && publish[0].payload.contains("portal"));
}

#[tokio::test]
async fn a_second_sync_without_changes_makes_only_conditional_requests_all_304() {
    let (app, fake) = sync_app(&[REPO, "helix/portal"], &[]).await;
    seed(&fake);
    fake.add_commits("helix/portal", 2, 0);
    let first = sync_ok(&app).await;
    fake.clear_log();

    let second = sync_ok(&app).await;
    let log = fake.log();
    assert_eq!(log.len(), 12, "one request per (repo, resource): {log:?}");
    assert!(
        log.iter().all(|r| r.conditional && r.status == 304),
        "{log:?}"
    );
    assert!(changes(&second).is_empty());
    let s = sources(&second);
    assert_eq!(
        (
            s["github"]["requests"].as_u64(),
            s["github"]["not_modified"].as_u64()
        ),
        (Some(12), Some(12))
    );
    let a = latest_snapshot(&app).await.unwrap().1;
    let before: helix_sync::sync::snapshot::Snapshot =
        serde_json::from_slice(&app.store.snapshot_json(&first.id).await.unwrap().unwrap())
            .unwrap();
    assert_eq!(
        a.repos, before.repos,
        "a 304 carries the data over unchanged"
    );
}

#[tokio::test]
async fn one_new_commit_is_one_new_commit_in_the_change_summary() {
    let (app, fake) = sync_app(&[REPO], &[]).await;
    seed(&fake);
    sync_ok(&app).await;
    fake.add_commit(
        REPO,
        "f00dfeedbeef",
        "Tune the harmony threshold\n\nlong text",
        "Kael",
        10_000,
    );
    fake.clear_log();

    let run = sync_ok(&app).await;
    let c = changes(&run);
    let repo = &c.repos[REPO];
    assert_eq!(repo.new_commits, 1);
    assert_eq!(
        repo.commit_lines,
        [(
            "f00dfee".to_owned(),
            "Tune the harmony threshold".to_owned()
        )]
    );
    assert_eq!(repo.authors, ["kael"]);
    assert!(repo.issues_opened.is_empty() && repo.new_releases.is_empty());
    let changed: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| r.status == 200)
        .map(|r| r.path)
        .collect();
    // Commits, and the repository object whose `pushed_at` moved (with languages, README).
    let allowed = [
        format!("{REPO}/commits"),
        REPO.into(),
        format!("{REPO}/languages"),
        format!("{REPO}/readme"),
    ];
    assert!(changed.iter().all(|p| allowed.contains(p)), "{changed:?}");

    // The cursor settled on the new commit: the next run is all 304 again.
    fake.clear_log();
    sync_ok(&app).await;
    assert!(
        fake.log().iter().all(|r| r.status == 304),
        "{:?}",
        fake.log()
    );
}

#[tokio::test]
async fn lists_of_250_items_are_paged_through_link_headers() {
    let (app, fake) = sync_app(&[REPO], &[]).await;
    fake.add_commits(REPO, 250, 0);
    fake.add_issues(REPO, 250, 0);
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let snap = latest_snapshot(&app).await.unwrap().1;
    assert_eq!(snap.repos[REPO].commits.len(), 250);
    assert_eq!(snap.repos[REPO].issues.len(), 250);
    let pages: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("/commits") && !r.query.contains_key("since"))
        .map(|r| r.query.get("page").cloned().unwrap_or_default())
        .collect();
    assert_eq!(pages, ["", "2", "3"]);
}

#[tokio::test]
async fn a_failed_run_does_not_move_cursors_and_the_next_run_fetches_what_it_missed() {
    let (app, fake) = sync_app(&[REPO], &[]).await;
    seed(&fake);
    let first = sync_ok(&app).await;
    let cursors = app.store.cursors_for(REPO).await.unwrap();
    fake.add_commit(REPO, "abc1234567", "Missed once", "Vega", 10_000);
    fake.set_mode(Mode::Failing(502));

    let err = sync(&app, &job(Some(&["github"]))).await.unwrap_err();
    let JobError::Retryable(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(
        msg.contains(&format!("GitHub {REPO}")) && msg.contains("502"),
        "{msg}"
    );
    let failed = app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(failed.status, "failed");
    assert!(app.store.snapshot_json(&failed.id).await.unwrap().is_none());
    assert_eq!(app.store.cursors_for(REPO).await.unwrap(), cursors);
    assert_eq!(latest_snapshot(&app).await.unwrap().0, first.id);

    fake.set_mode(Mode::Normal);
    let recovered = sync_ok(&app).await;
    assert_eq!(changes(&recovered).repos[REPO].new_commits, 1);
}

#[tokio::test]
async fn errors_are_classified_and_name_repo_and_resource() {
    let (app, fake) = sync_app(&[REPO, "helix/missing"], &[]).await;
    seed(&fake);
    // One repository missing among two: the run is partial and says which.
    let run = sync_ok(&app).await;
    assert_eq!(run.status, "partial");
    let error = run.error.unwrap();
    assert!(
        error.contains("GitHub helix/missing commits: HTTP 404"),
        "{error}"
    );
    assert!(latest_snapshot(&app)
        .await
        .unwrap()
        .1
        .repos
        .contains_key(REPO));

    // Nothing readable at all: a failed run and a permanent error (404 will not heal).
    let (app, _fake) = sync_app(&["helix/missing"], &[]).await;
    let err = sync(&app, &job(Some(&["github"]))).await.unwrap_err();
    assert!(
        matches!(&err, JobError::Permanent(m) if m.contains("GitHub helix/missing")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_push_webhook_syncs_that_repository_using_the_pushed_commits() {
    let (app, fake) = sync_app(&[REPO, "helix/portal"], &[]).await;
    seed(&fake);
    fake.add_commits("helix/portal", 1, 0);
    sync_ok(&app).await;
    fake.clear_log();

    let mut payload = push_payload(REPO, "main", "Hot fix from a push");
    payload["commits"][0]["id"] = "2222222222222222222222222222222222222222".into();
    let body = serde_json::to_vec(&payload).unwrap();
    assert_eq!(
        app.post_github("push", "delivery-1", &body).await.status(),
        202
    );
    app.run_pending_jobs().await;

    let log = fake.log();
    assert!(
        log.iter().all(|r| r.path.starts_with(REPO)),
        "only the pushed repository: {log:?}"
    );
    assert!(
        !log.iter().any(|r| r.path.ends_with("/commits")),
        "commits came from the payload"
    );
    let run = app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "succeeded");
    assert!(run.trigger.starts_with("webhook:push"));
    let c = changes(&run);
    assert_eq!(c.repos[REPO].new_commits, 1);
    assert_eq!(c.repos[REPO].commit_lines[0].1, "Hot fix from a push");
    let s = sources(&run);
    assert_eq!(s["ucf_state"]["status"], "skipped");
    let snap = latest_snapshot(&app).await.unwrap().1;
    assert!(
        snap.repos.contains_key("helix/portal"),
        "other repositories are carried over"
    );
    assert!(snap.ucf.is_some(), "UCF is carried over");
}
