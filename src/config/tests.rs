//! Configuration from the environment and the file: defaults, bad values refused with the
//! key named, secrets never shown.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.entry("HELIX_CONFIG".into())
        .or_insert_with(|| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json").into());
    m
}

#[test]
fn no_environment_gives_the_embedded_defaults() {
    let c = Config::load(&env(&[])).unwrap();
    assert_eq!(c.bind.to_string(), "0.0.0.0:8080");
    assert_eq!(c.database_url, "sqlite://data/helix-sync.db");
    assert_eq!(c.workers, 2);
    assert!(c.sync_enabled && c.manual_trigger);
    assert_eq!(c.export_formats, ["notion", "markdown", "json", "html"]);
    assert!(c.github_repos.is_empty());
    assert_eq!(c.disabled_parts().len(), 7);
}

#[test]
fn unknown_key_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(
        &p,
        r#"{"sync_schedule": {"hourly": true, "hourlly": false}}"#,
    )
    .unwrap();
    let err = Config::load(&env(&[("HELIX_CONFIG", p.to_str().unwrap())])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("c.json") && msg.contains("hourlly"), "{msg}");
}

#[test]
fn wrong_type_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(&p, r#"{"queue": {"max_attempts": "five"}}"#).unwrap();
    let msg = Config::load(&env(&[("HELIX_CONFIG", p.to_str().unwrap())]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("queue.max_attempts"), "{msg}");
}

#[test]
fn bad_cron_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(&p, r#"{"sync_schedule": {"cron": ["0 * * *"]}}"#).unwrap();
    let msg = Config::load(&env(&[("HELIX_CONFIG", p.to_str().unwrap())]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("sync_schedule.cron[0]"), "{msg}");
}

#[test]
fn bare_repo_names_take_the_owner() {
    let c = Config::load(&env(&[("GITHUB_REPOS", "a, o2/b"), ("GITHUB_OWNER", "o")])).unwrap();
    assert_eq!(c.github_repos.named(), ["o/a", "o2/b"]);
    assert!(Config::load(&env(&[("GITHUB_REPOS", "a")])).is_err());
}

#[test]
fn debug_never_shows_secrets() {
    let c = Config::load(&env(&[
        ("GITHUB_WEBHOOK_SECRET", "gh-secret-value"),
        ("HELIX_API_TOKEN", "api-token-value"),
        (
            "DISCORD_SYNC_WEBHOOK",
            "https://discord.com/api/webhooks/1/tok",
        ),
    ]))
    .unwrap();
    let printed = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
    for s in ["gh-secret-value", "api-token-value", "webhooks/1/tok"] {
        assert!(!printed.contains(s), "{s} leaked");
    }
}

#[test]
fn the_shipped_config_file_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sync_config.json");
    Config::load(&env(&[("HELIX_CONFIG", path)])).unwrap();
}

#[test]
fn a_database_url_of_another_scheme_is_refused_naming_the_variable() {
    for ok in ["sqlite://x.db", "postgres://u@h/d", "postgresql://u@h/d"] {
        Config::load(&env(&[("DATABASE_URL", ok)])).unwrap();
    }
    let err = Config::load(&env(&[("DATABASE_URL", "mysql://u@h/d")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("environment variable DATABASE_URL:"),
        "{msg}"
    );
    assert!(msg.contains("\"mysql\""), "{msg}");
}

#[test]
fn a_config_file_named_on_purpose_must_exist() {
    let err = Config::load(&env(&[("HELIX_CONFIG", "/nonexistent/helix.json")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("environment variable HELIX_CONFIG:") && msg.contains("does not exist"),
        "{msg}"
    );
    // Unset, the default path may be missing: all defaults (cargo runs unit tests in the
    // checkout, where config/sync_config.json exists, so ask from elsewhere).
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("config/sync_config.json");
    assert!(read_file(&missing, false).is_ok());
    assert!(read_file(&missing, true).is_err());
}

#[test]
fn a_zero_timeout_is_refused_under_its_own_key() {
    for (json, key) in [
        (
            r#"{"http": {"idle_timeout_secs": 0}}"#,
            "http.idle_timeout_secs",
        ),
        (
            r#"{"http": {"header_read_timeout_secs": 0}}"#,
            "http.header_read_timeout_secs",
        ),
        (
            r#"{"sources": {"timeout_secs": 0}}"#,
            "sources.timeout_secs",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, json).unwrap();
        let err = Config::load(&env(&[("HELIX_CONFIG", p.to_str().unwrap())])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{key}`")), "{json}: {msg}");
    }
}

#[test]
fn listening_beyond_loopback_without_a_public_url_is_warned_about() {
    let open = Config::load(&env(&[("HELIX_BIND", "0.0.0.0:8080")])).unwrap();
    let warning = open.public_url_warning().expect("a warning");
    assert!(warning.contains("HELIX_PUBLIC_URL") && warning.contains("0.0.0.0:8080"));
    let named = Config::load(&env(&[
        ("HELIX_BIND", "0.0.0.0:8080"),
        ("HELIX_PUBLIC_URL", "https://sync.example.org"),
    ]))
    .unwrap();
    assert_eq!(named.public_url_warning(), None);
    let local = Config::load(&env(&[("HELIX_BIND", "127.0.0.1:8080")])).unwrap();
    assert_eq!(local.public_url_warning(), None);
}

#[test]
fn discord_bot_settings_are_checked_at_start() {
    let key = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
            .verifying_key()
            .as_bytes(),
    );
    let c = Config::load(&env(&[
        ("DISCORD_PUBLIC_KEY", &key),
        ("DISCORD_APPLICATION_ID", "81384788765712384"),
    ]))
    .unwrap();
    assert!(c.discord_public_key.is_some());
    assert!(!c
        .disabled_parts()
        .iter()
        .any(|p| p.contains("/webhooks/discord")));
    for (name, value) in [
        ("DISCORD_PUBLIC_KEY", "abc"),
        ("DISCORD_PUBLIC_KEY", &"g".repeat(64)),
        ("DISCORD_APPLICATION_ID", "my-app"),
    ] {
        let msg = Config::load(&env(&[(name, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(&format!("environment variable {name}:")),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
}

#[test]
fn export_formats_are_checked_and_pdf_follows_the_build() {
    let err = Config::load(&env(&[("EXPORT_FORMATS", "json,docx")])).unwrap_err();
    assert!(err.to_string().contains("unknown format \"docx\""), "{err}");
    let pdf = Config::load(&env(&[("EXPORT_FORMATS", "json,pdf")]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.json");
    std::fs::write(&file, r#"{"exporters": {"pdf": {"enabled": true}}}"#).unwrap();
    let switched_on = Config::load(&env(&[("HELIX_CONFIG", file.to_str().unwrap())]));
    if cfg!(feature = "pdf") {
        assert_eq!(pdf.unwrap().export_formats, ["json", "pdf"]);
        assert_eq!(
            switched_on.unwrap().export_formats,
            ["notion", "markdown", "json", "html", "pdf"]
        );
    } else {
        for err in [pdf.unwrap_err(), switched_on.unwrap_err()] {
            let msg = err.to_string();
            assert!(msg.contains("built without PDF support"), "{msg}");
        }
    }
}
