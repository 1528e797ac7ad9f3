//! The MCP server checked by the official Python SDK (`scripts/mcp_client_check.py`) over
//! stdio against the real binary and over Streamable HTTP against a spawned app, plus the
//! HTTP guard (bearer, Origin) checked directly.

use std::process::Command;

use super::{on_fresh_store, repo, tool_available};
use crate::helpers::{spawn_app, spawn_with, Spawn, API_TOKEN};

fn python_mcp() -> bool {
    tool_available(
        "the Python MCP SDK (pip install mcp)",
        Command::new("python3").args(["-c", "import mcp"]),
    )
}

fn script() -> String {
    format!("{}/scripts/mcp_client_check.py", repo())
}

async fn run_check(cmd: &mut tokio::process::Command) {
    let out = cmd.output().await.expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "MCP client check failed:\n{stdout}\n--- stderr ---\n{stderr}"
    );
}

#[tokio::test]
async fn the_python_sdk_drives_the_stdio_server() {
    if !python_mcp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script())
        .args(["stdio", "--", env!("CARGO_BIN_EXE_helix-sync"), "mcp"])
        .env("HELIX_API_TOKEN", API_TOKEN)
        .env("RUST_LOG", "warn");
    on_fresh_store(&mut cmd, dir.path());
    run_check(&mut cmd).await;
}

#[tokio::test]
async fn the_python_sdk_drives_the_http_server() {
    if !python_mcp() {
        return;
    }
    let app = spawn_app().await;
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script())
        .args(["http", &app.url("/mcp"), "--token", API_TOKEN]);
    run_check(&mut cmd).await;
    // The trigger tool queued a real job through the shared service.
    let jobs = app.store.list_jobs(None, 10).await.unwrap();
    assert!(
        jobs.iter().any(|j| j.payload.contains("ucf_state")),
        "{jobs:?}"
    );
}

fn initialize() -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}})
}

#[tokio::test]
async fn mcp_over_http_requires_the_bearer_and_a_local_origin() {
    let app = spawn_app().await;
    let post = |token: Option<&str>, origin: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    for token in [None, Some("wrong")] {
        let res = post(token, None).await.unwrap();
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer resource_metadata="),
            "{challenge}"
        );
    }
    let res = post(Some(API_TOKEN), Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = post(Some(API_TOKEN), Some("http://localhost:6274"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("mcp-session-id"));
    let res = post(Some(API_TOKEN), None).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("\"helix-sync\""), "{body}");

    let no_token = spawn_with(Spawn::default().env("HELIX_API_TOKEN", "")).await;
    let res = no_token
        .client
        .post(no_token.url("/mcp"))
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
}
