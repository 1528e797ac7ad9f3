//! What `helix-sync check-config` and `serve` refuse, and how: one line naming the variable
//! or key, exit 1, for everything `serve` would refuse (issue 34). And the node name a
//! replica registers under is the machine's host name.

use std::process::Output;

use crate::helpers::*;

const DEFAULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json");

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = crate::process::helix();
    cmd.args(args)
        .env_clear()
        .env("HELIX_CONFIG", DEFAULTS)
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The one line a refused configuration prints.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(args, env);
    assert_eq!(out.status.code(), Some(1), "{args:?} {env:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn check_config_refuses_what_serve_refuses_naming_the_variable_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, json: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, json).unwrap();
        p.display().to_string()
    };
    let idle = file("idle.json", r#"{"http": {"idle_timeout_secs": 0}}"#);
    let sources = file("sources.json", r#"{"sources": {"timeout_secs": 0}}"#);
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/github-app-test-key.pem"
    );
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("DATABASE_URL", "mysql://u@h/d")], "DATABASE_URL"),
        (
            &[
                ("GITHUB_APP_ID", "12345"),
                ("GITHUB_APP_PRIVATE_KEY", "not a key"),
            ],
            "GITHUB_APP_PRIVATE_KEY",
        ),
        (
            &[
                ("GITHUB_APP_ID", "12 345"),
                ("GITHUB_APP_PRIVATE_KEY_FILE", key),
            ],
            "GITHUB_APP_ID",
        ),
        (&[("GITHUB_APP_PRIVATE_KEY_FILE", key)], "GITHUB_APP_ID"),
        (&[("GITHUB_REPOS", "helix/*,!*")], "GITHUB_REPOS"),
        (
            &[("HELIX_CONFIG", "/nonexistent/sync_config.json")],
            "HELIX_CONFIG",
        ),
        (&[("HELIX_CONFIG", &idle)], "`http.idle_timeout_secs`"),
        (&[("HELIX_CONFIG", &sources)], "`sources.timeout_secs`"),
    ];
    for (env, named) in cases {
        for command in ["check-config", "serve"] {
            let err = refused(&[command], env);
            assert!(err.contains(named), "{command} {env:?}: {err}");
        }
    }
    let out = run(&["check-config"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_replica_registers_under_the_machines_host_name() {
    let app = spawn_app().await;
    let nodes = app.store.nodes().await.unwrap();
    let expected = helix_sync::startup::default_node_name(app.port);
    assert!(
        nodes.iter().any(|n| n.name == expected),
        "{expected} in {:?}",
        nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(expected, format!("{}:{}", host.trim(), app.port));
}
