//! Issue 7 ("operate it"): health, metrics, status page, MCP, OpenAPI, logs.
//!
//! Checks that need a tool nobody here wrote (the PyPI `mcp` client, Chromium) print a SKIP
//! line when the tool is missing, and fail instead when `HELIX_REQUIRE_TOOLS=1` (CI sets it
//! after installing them).

mod browser;
mod deploy;
mod health;
mod logs;
mod mcp;
mod mcp_conformance;
pub(crate) mod mcp_protocol;
mod metrics;
mod openapi;

use std::process::Command;

/// True when `probe` runs successfully; otherwise prints SKIP, or panics when tools are
/// required.
pub fn tool_available(what: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("HELIX_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{what} is required (HELIX_REQUIRE_TOOLS=1) but not available"
        );
        eprintln!("SKIP: {what} is not available");
    }
    ok
}

/// Points a child `helix-sync` (or a client that spawns it) at the shipped config and a
/// fresh SQLite database and export folder in `dir`, and runs it there.
pub fn on_fresh_store<'c>(
    cmd: &'c mut tokio::process::Command,
    dir: &std::path::Path,
) -> &'c mut tokio::process::Command {
    cmd.env(
        "HELIX_CONFIG",
        format!("{}/config/sync_config.json", repo()),
    )
    .env(
        "DATABASE_URL",
        format!("sqlite://{}/helix.db", dir.display()),
    )
    .env("EXPORT_PATH", dir.join("exports"))
    .current_dir(dir)
}

/// The repository root.
pub fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}
