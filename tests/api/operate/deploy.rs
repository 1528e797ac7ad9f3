//! The deployment files say what the documents promise.

use super::repo;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", repo())).unwrap()
}

#[test]
fn dockerfile_fly_and_procfile_have_their_essentials() {
    let docker = read("Dockerfile");
    for needle in [
        "cargo chef prepare",
        "cargo chef cook --profile dist",
        "cargo build --profile dist",
        "FROM debian:bookworm-slim AS runtime",
        "useradd --system --uid 10001",
        "setpriv",
        "HEALTHCHECK",
        "/health",
        "STOPSIGNAL SIGTERM",
    ] {
        assert!(
            docker.contains(needle) || read("deploy/docker-entrypoint.sh").contains(needle),
            "Dockerfile lacks {needle}"
        );
    }
    let fly = read("fly.toml");
    for needle in [
        "kill_signal = \"SIGTERM\"",
        "kill_timeout = ",
        "internal_port = 8080",
        "path = \"/health\"",
        "grace_period = ",
        "[mounts]",
        "destination = \"/data\"",
        "DATABASE_URL = \"sqlite:///data/",
        "EXPORT_PATH = \"/data/exports\"",
    ] {
        assert!(fly.contains(needle), "fly.toml lacks {needle}");
    }
    assert_eq!(read("Procfile").trim(), "web: helix-sync serve");
    let status = std::process::Command::new("sh")
        .args(["-n", &format!("{}/deploy/docker-entrypoint.sh", repo())])
        .status()
        .unwrap();
    assert!(status.success(), "the entrypoint is not valid sh");
}

/// Every variable the configuration reads is in the configuration reference's table.
#[test]
fn the_configuration_reference_documents_every_environment_variable() {
    let config = read("src/config/mod.rs");
    let readme = read("docs/configuration.md");
    let mut names = Vec::new();
    for marker in ["get(\"", "secrets_list(\"", "flag(\"", "number(\""] {
        for (at, _) in config.match_indices(marker) {
            let rest = &config[at + marker.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !name.is_empty() {
                names.push(name.to_owned());
            }
        }
    }
    names.extend(["RUST_LOG".to_owned()]);
    assert!(names.len() > 20, "{names:?}");
    for n in names {
        assert!(
            readme.contains(&format!("| `{n}` |")),
            "docs/configuration.md's table lacks {n}"
        );
    }
}
