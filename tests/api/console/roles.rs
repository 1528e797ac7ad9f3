//! Roles and CSRF: a viewer sees no action and a forged POST changes nothing; every state
//! change without the session's CSRF token is 403; admin pages are for admins.

use super::{flash, Console};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_viewer_sees_no_actions_and_a_forged_post_changes_nothing() {
    let app = spawn_app().await;
    let job = app.push_job("o/r", "d-1").await;
    app.store.cancel_job(&job, 1).await.unwrap();
    let viewer = Console::as_role(&app, "vera", "viewer").await;
    let jobs = viewer.page("/console/jobs").await;
    assert!(!jobs.contains("/retry\""), "no retry button for a viewer");
    assert!(!viewer.page("/console/schedules").await.contains("Run now"));

    // The viewer forges the POSTs a button would send, with a valid CSRF token.
    for (path, fields) in [
        (format!("/console/jobs/{job}/retry"), vec![]),
        (
            "/console/schedules/run".to_owned(),
            vec![("name", "hourly")],
        ),
        (
            "/console/jobs/bulk".to_owned(),
            vec![("action", "retry"), ("state", "cancelled")],
        ),
        (
            "/console/users".to_owned(),
            vec![
                ("username", "x"),
                ("role", "admin"),
                ("password", "long enough"),
            ],
        ),
    ] {
        let res = viewer.post(&path, &fields).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(
        app.store.get_job(&job).await.unwrap().unwrap().state,
        "cancelled"
    );
    assert_eq!(app.count("jobs").await, 1, "no job was queued");
    assert!(app.store.user_by_name("x").await.unwrap().is_none());
    assert_eq!(viewer.get("/console/users").await.status(), 403);
    assert_eq!(viewer.get("/console/audit").await.status(), 403);
}

#[tokio::test]
async fn state_changes_without_the_csrf_token_are_403() {
    let app = spawn_app().await;
    let job = app.push_job("o/r", "d-1").await;
    let op = Console::as_role(&app, "otto", "operator").await;
    let path = format!("/console/jobs/{job}/cancel");
    assert_eq!(op.post_raw(&path, &[]).await.status(), 403, "missing");
    assert_eq!(
        op.post_raw(&path, &[("csrf", "forged")]).await.status(),
        403,
        "forged"
    );
    // Another session's token is not this one's.
    let other = Console::as_role(&app, "olga", "operator").await;
    let theirs = other.csrf().await;
    assert_eq!(
        op.post_raw(&path, &[("csrf", &theirs)]).await.status(),
        403,
        "someone else's"
    );
    assert_eq!(
        app.store.get_job(&job).await.unwrap().unwrap().state,
        "queued"
    );
    // With it, the operator acts.
    let res = op.post(&path, &[]).await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains("cancelled"));
    assert_eq!(
        app.store.get_job(&job).await.unwrap().unwrap().state,
        "cancelled"
    );
}

#[tokio::test]
async fn admins_manage_users_and_operators_cannot() {
    let app = spawn_app().await;
    let admin = Console::as_role(&app, "root", "admin").await;
    let res = admin
        .post(
            "/console/users",
            &[
                ("username", "newbie"),
                ("role", "operator"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.store
            .user_by_name("newbie")
            .await
            .unwrap()
            .unwrap()
            .role,
        "operator"
    );
    let dup = admin
        .post(
            "/console/users",
            &[
                ("username", "newbie"),
                ("role", "viewer"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(dup.status(), 409);
    let bad = admin
        .post(
            "/console/users",
            &[
                ("username", "x y"),
                ("role", "viewer"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    let res = admin
        .post(
            "/console/users/update",
            &[("username", "newbie"), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.store
            .user_by_name("newbie")
            .await
            .unwrap()
            .unwrap()
            .role,
        "viewer"
    );
    assert_eq!(
        admin
            .post("/console/users/remove", &[("username", "root")])
            .await
            .status(),
        409
    );
    assert_eq!(
        admin
            .post("/console/users/remove", &[("username", "newbie")])
            .await
            .status(),
        303
    );
    let op = Console::as_role(&app, "otto", "operator").await;
    assert_eq!(op.get("/console/users").await.status(), 403);
    let audit = admin.page("/console/audit").await;
    for a in ["user.add", "user.role", "user.remove", "login"] {
        assert!(audit.contains(a), "{a}");
    }
}

/// One MCP `tools/call` of the trigger tool over Streamable HTTP with `token`: the answer's
/// text (JSON or an SSE frame).
async fn mcp_trigger(app: &crate::helpers::TestApp, token: &str) -> String {
    let send = |body: serde_json::Value, session: Option<String>| {
        let mut req = app
            .client
            .post(app.url("/mcp"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let res = send(init, None).await.unwrap();
    assert_eq!(res.status(), 200);
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    res.text().await.unwrap();
    let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    send(note, Some(session.clone()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "helix-sync-trigger", "arguments": {}}});
    send(call, Some(session))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn mcp_tokens_carry_their_role_too() {
    let app = spawn_app().await;
    let cli = helix_sync::auth::Principal::cli();
    super::add(&app, "vera", "viewer").await;
    super::add(&app, "otto", "operator").await;
    let viewer = helix_sync::service::users::create_token(&app.state, &cli, "vera", "mcp")
        .await
        .unwrap();
    let operator = helix_sync::service::users::create_token(&app.state, &cli, "otto", "mcp")
        .await
        .unwrap();
    let refused = mcp_trigger(&app, &viewer).await;
    assert!(
        refused.contains("\"isError\":true") && refused.contains("operator role"),
        "{refused}"
    );
    assert_eq!(app.count("jobs").await, 0);
    let done = mcp_trigger(&app, &operator).await;
    assert!(done.contains("job_id"), "{done}");
    assert_eq!(app.count("jobs").await, 1);
}
