//! The deployment files say what the documents promise, and do it: the image's entrypoint
//! runs the way the image runs it (as root, dropping to the `helix` user with setpriv), the
//! Fly restore recipe holds the machine up while `restore` runs beside it, `fly.toml` names
//! the public URL, and `.env.example` is an environment file the service takes.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{repo, tool_available};

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
        // /mcp refuses other hosts and cookies are not Secure without it.
        "HELIX_PUBLIC_URL = \"https://",
    ] {
        assert!(fly.contains(needle), "fly.toml lacks {needle}");
    }
    // One layout for the image: Docker's paths are Fly's.
    for needle in [
        "DATABASE_URL=sqlite:///data/helix-sync.db",
        "EXPORT_PATH=/data/exports",
        "VOLUME [\"/data\"]",
    ] {
        assert!(docker.contains(needle), "Dockerfile lacks {needle}");
    }
    // The restore recipe uses a command the entrypoint can run.
    let deployment = read("docs/deployment.md");
    assert!(deployment.contains("--command maintenance"));
    assert!(
        !deployment.contains("sleep inf\""),
        "helix-sync has no `sleep` command"
    );
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
    let readme = read("docs/configuration.md");
    let names = config_variables();
    assert!(names.len() > 20, "{names:?}");
    for n in names {
        assert!(
            readme.contains(&format!("| `{n}` |")),
            "docs/configuration.md's table lacks {n}"
        );
    }
}

/// The variables the configuration reads (`src/config/mod.rs`), and `RUST_LOG`.
fn config_variables() -> Vec<String> {
    let config = read("src/config/mod.rs");
    let mut names = vec!["RUST_LOG".to_owned()];
    for marker in ["get(\"", "secrets_list(\"", "flag(\"", "number(\""] {
        for (at, _) in config.match_indices(marker) {
            let rest = &config[at + marker.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !name.is_empty() {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// `.env.example` holds every variable, as an environment file (`docker run --env-file`'s
/// `KEY=VALUE` lines; a `#NAME=` line shows a default), and the service takes it as it is:
/// blank values are unset.
#[test]
fn the_example_env_file_names_every_variable_and_loads() {
    let text = read(".env.example");
    // What `--env-file .env` sets as the file is, and what it sets with every `#NAME=value`
    // line (a default or an example) uncommented, as the header invites.
    let mut env: HashMap<String, String> = HashMap::new();
    let mut uncommented: HashMap<String, String> = HashMap::new();
    for line in text.lines().map(str::trim) {
        let (line, commented) = match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => (rest, true),
            Some(_) => continue,
            None if line.is_empty() => continue,
            None => (line, false),
        };
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=VALUE: {line:?}"));
        // Docker takes the rest of the line as the value: a note after it would become part
        // of it.
        assert!(
            !k.contains(' ') && !v.contains([' ', '#', '"', '\'', '<']),
            "docker takes no spaces, quotes or notes after a value: {line:?}"
        );
        uncommented.insert(k.to_owned(), v.to_owned());
        if !commented {
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    for n in config_variables() {
        assert!(uncommented.contains_key(&n), ".env.example lacks {n}");
    }
    // `--env-file` replaces the image's own ENV, blank or not: a blank DATABASE_URL there
    // put the database in /app/data, off the volume, where removing the container loses it.
    for n in dockerfile_env() {
        assert!(
            !env.contains_key(&n),
            ".env.example sets {n}, which the image sets: comment it out"
        );
    }
    // It leaves HELIX_CONFIG unset: the default file, relative to the checkout, which is
    // where cargo runs the tests.
    let config = helix_sync::config::Config::load(&env).expect(".env.example loads");
    assert!(config.secrets.api_token.is_none() && config.github_repos.is_empty());
    if let Err(e) = helix_sync::config::Config::load(&uncommented) {
        panic!(".env.example with its defaults and examples uncommented does not load: {e}");
    }
}

/// The names the Dockerfile's `ENV` instructions set.
fn dockerfile_env() -> Vec<String> {
    let text = read("Dockerfile");
    let mut names = Vec::new();
    let mut in_env = false;
    for line in text.lines().map(str::trim) {
        let rest = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = line.ends_with('\\');
        for word in rest.split_whitespace() {
            if let Some((name, _)) = word.split_once('=') {
                names.push(name.to_owned());
            }
        }
    }
    assert!(names.iter().any(|n| n == "DATABASE_URL"), "{names:?}");
    names
}

/// The entrypoint as the image runs it: as root, it hands the database's folder to `helix`
/// and drops to that user; `maintenance` then holds the process up without opening the
/// database, so `restore` works beside it, and SIGTERM ends it. Needs root and the image's
/// user (`.ci/run` creates it as the Dockerfile does).
#[tokio::test]
async fn the_entrypoint_drops_to_helix_and_maintenance_leaves_the_database_to_restore() {
    // As root, like the image's entrypoint; CI (HELIX_REQUIRE_TOOLS=1) fails without it.
    let root = "root (the image's entrypoint starts as root)";
    if !tool_available(
        root,
        Command::new("sh").args(["-c", "test \"$(id -u)\" = 0"]),
    ) {
        return;
    }
    let user = "the image's user `helix` (useradd --system --uid 10001 helix)";
    if !tool_available(user, Command::new("id").arg("helix")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The folders above the database must be passable for `helix`, as / and /data are.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let data = dir.path().join("data");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_helix-sync"))
        .parent()
        .unwrap()
        .to_owned();
    let entrypoint = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.arg(format!("{}/deploy/docker-entrypoint.sh", repo()))
            .args(args)
            .env(
                "PATH",
                format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display()),
            )
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/helix-sync.db", data.display()),
            )
            .env("EXPORT_PATH", dir.path().join("exports"))
            .env(
                "HELIX_CONFIG",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
            )
            .env("RUST_LOG", "warn");
        cmd
    };
    let ok = |args: &[&str]| {
        let out = entrypoint(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["migrate"]);
    let backup = data.join("backups/helix.db");
    ok(&["backup", backup.to_str().unwrap()]);
    let helix_uid = String::from_utf8(
        Command::new("id")
            .args(["-u", "helix"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let owner = |p: &std::path::Path| {
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(p).unwrap()).to_string()
    };
    assert_eq!(
        owner(&data.join("helix-sync.db")),
        helix_uid,
        "written as helix"
    );
    assert_eq!(owner(&backup), helix_uid);

    let mut held = entrypoint(&["maintenance"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(held.try_wait().unwrap().is_none(), "maintenance stays up");
    let status = std::fs::read_to_string(format!("/proc/{}/status", held.id())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid.split_whitespace().nth(1) == Some(helix_uid.as_str()),
        "{uid}"
    );
    // The database is free: restore goes through while maintenance holds the machine.
    ok(&["restore", backup.to_str().unwrap()]);
    Command::new("kill")
        .args(["-TERM", &held.id().to_string()])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = held.try_wait().unwrap() {
            assert!(
                status.success(),
                "SIGTERM ends maintenance cleanly: {status}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGTERM ends it"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
