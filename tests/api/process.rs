//! Running the real `helix-sync serve` binary as a child process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::GITHUB_SECRET;

/// How long one CLI command may take before it is killed: each finishes in well under a
/// second here, and a hung one must fail its test with its output, not hold the suite.
const CLI_LIMIT: Duration = Duration::from_secs(60);

/// `helix-sync` as a one-shot command (`args` and environment to be added), killed when it
/// outlives [`CLI_LIMIT`].
pub fn helix() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("helix-sync").unwrap();
    cmd.timeout(CLI_LIMIT);
    cmd
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `helix-sync serve` on a free port against `database_url`, with exports under `dir`,
/// the test GitHub secret and `extra` environment; waits until it answers `/health`.
pub async fn start_serve(
    database_url: &str,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (Child, String) {
    start_serve_logging(database_url, dir, extra, None).await
}

/// [`start_serve`], with everything the binary prints (stdout and stderr) appended to `log`.
pub async fn start_serve_logging(
    database_url: &str,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
    log: Option<&std::path::Path>,
) -> (Child, String) {
    let output = || match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap(),
        ),
        None => Stdio::null(),
    };
    let port = free_port();
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helix-sync"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HELIX_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env(
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        )
        .env("EXPORT_PATH", dir.join("exports"))
        .env(
            "UCF_STATE_SOURCE",
            format!("{repo}/config/examples/ucf_state.json"),
        )
        .env(
            "AGENT_METRICS_SOURCE",
            format!("{repo}/config/examples/agents_state.json"),
        )
        .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
        .env("HEALTH_CHECK_ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stdout(output())
        .stderr(output());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the binary did not start");
}
