//! `helix-sync sync` and `helix-sync history` on a fresh clone: no credentials, no network.

use assert_cmd::Command;

/// The binary on a fresh clone: no credentials, a database and exports under `dir`.
fn helix(dir: &std::path::Path) -> Command {
    let mut cmd = crate::process::helix();
    cmd.env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/helix.db", dir.display()),
        )
        .env("EXPORT_PATH", dir.join("exports"))
        .env("RUST_LOG", "error");
    cmd
}

#[test]
fn sync_then_history_on_a_fresh_clone() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = helix(dir.path());
        cmd.args(args);
        cmd.assert().success().get_output().stdout.clone()
    };
    let out = String::from_utf8(cli(&["sync"])).unwrap();
    assert!(out.contains("succeeded"), "{out}");
    assert!(out.contains("github") && out.contains("disabled"), "{out}");
    assert!(out.contains("publish portal"), "{out}");

    let again = String::from_utf8(cli(&[
        "sync",
        "--sources",
        "ucf_state",
        "--targets",
        "portal",
    ]))
    .unwrap();
    assert!(
        again.contains("no changes since the previous run"),
        "{again}"
    );

    let history: serde_json::Value =
        serde_json::from_slice(&cli(&["history", "--json", "--limit", "5"])).unwrap();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|r| r["status"] == "succeeded" && r["trigger"] == "cli"));
    assert_eq!(runs[0]["sources"]["agent_metrics"]["status"], "skipped");

    let mut bad = crate::process::helix();
    bad.env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sync", "--sources", "gitlab"]);
    let err = String::from_utf8(bad.assert().failure().get_output().stderr.clone()).unwrap();
    assert!(err.contains("unknown sources entry \"gitlab\""), "{err}");
}

#[test]
fn a_partial_sync_exits_with_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let ucf = dir.path().join("ucf_state.json");
    std::fs::write(&ucf, r#"{"harmony": 1.7}"#).unwrap();
    let mut cmd = helix(dir.path());
    cmd.env("UCF_STATE_SOURCE", &ucf).arg("sync");
    let out = cmd.assert().code(3).get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("partial"), "{out}");
    assert!(out.contains("out of range"), "{out}");
}
