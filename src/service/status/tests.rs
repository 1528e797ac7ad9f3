//! Unit tests of the health rules (`evaluate`) on hand-built inputs.

use std::collections::HashMap;

use super::*;

const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_800_000_000_000;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = [
        (
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        ),
        ("GITHUB_REPOS", "o/r"),
        (
            "DISCORD_SYNC_WEBHOOK",
            "https://discord.test/api/webhooks/1/secret-token-abcdef",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load(&env).unwrap()
}

fn run(id: &str, status: &str, finished_at: i64, sources: Value, error: Option<&str>) -> RunRow {
    RunRow {
        id: id.into(),
        job_id: None,
        trigger: "manual".into(),
        started_at: finished_at - 2000,
        finished_at: Some(finished_at),
        duration_ms: Some(2000),
        status: status.into(),
        sources: sources.to_string(),
        change_summary: "{}".into(),
        exports: "[]".into(),
        error: error.map(String::from),
    }
}

fn ok_sources() -> Value {
    serde_json::json!({
        "github": {"status": "ok", "error": null},
        "ucf_state": {"status": "ok", "error": null},
        "agent_metrics": {"status": "ok", "error": null},
    })
}

fn delivery(target: &str, state: &str, error: Option<&str>, at: i64) -> DeliveryRow {
    DeliveryRow {
        run_id: "r1".into(),
        target: target.into(),
        state: state.into(),
        attempts: 1,
        next_attempt_at: None,
        last_error: error.map(String::from),
        external_id: None,
        progress: "{}".into(),
        created_at: at,
        updated_at: at,
    }
}

fn observed(runs: Vec<RunRow>, deliveries: Vec<DeliveryRow>) -> Observed {
    let last_success = runs
        .iter()
        .find(|r| r.status == "succeeded" || r.status == "partial")
        .cloned();
    Observed {
        store_error: None,
        runs,
        last_success,
        deliveries,
        queue: QueueStats::default(),
        disk: None,
        ..Default::default()
    }
}

#[test]
fn the_default_interval_is_an_hour_and_none_without_schedules() {
    assert_eq!(sync_interval(&config(&[])), Some(Duration::from_secs(3600)));
    assert_eq!(
        sync_interval(&config(&[("HELIX_SYNC_ENABLED", "false")])),
        None
    );
    assert_eq!(
        sync_interval(&config(&[("HELIX_SYNC_INTERVAL", "600")])),
        Some(Duration::from_secs(600))
    );
}

#[test]
fn a_recent_success_with_every_part_ok_is_healthy() {
    let c = config(&[]);
    let o = observed(
        vec![run("r1", "succeeded", NOW - HOUR, ok_sources(), None)],
        vec![delivery("discord", "succeeded", None, NOW - HOUR)],
    );
    let h = evaluate(&c, &o, NOW - 10 * HOUR, None, NOW);
    assert_eq!(h.status, HealthStatus::Healthy);
    assert_ne!(h.status, HealthStatus::Unhealthy);
    assert_eq!(h.sources.github, PartStatus::Ok);
    assert_eq!(h.targets.discord, PartStatus::Ok);
    assert_eq!(h.targets.notion, PartStatus::Disabled, "no NOTION_API_KEY");
    assert_eq!(h.metrics.success_rate, Some(1.0));
    assert_eq!(h.metrics.avg_duration_seconds, Some(2.0));
    assert_eq!(h.data_freshness_seconds, Some(3600));
}

#[test]
fn no_success_for_three_intervals_is_unhealthy() {
    let c = config(&[]);
    let o = observed(
        vec![run(
            "r1",
            "succeeded",
            NOW - 3 * HOUR - 1,
            ok_sources(),
            None,
        )],
        vec![],
    );
    let h = evaluate(&c, &o, NOW - 10 * HOUR, None, NOW);
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!(h.status, HealthStatus::Unhealthy);
    // Just inside the window is fine.
    let o = observed(
        vec![run("r1", "succeeded", NOW - 3 * HOUR, ok_sources(), None)],
        vec![],
    );
    assert_eq!(
        evaluate(&c, &o, NOW - 10 * HOUR, None, NOW).status,
        HealthStatus::Healthy
    );
    // A fresh process with no run yet is not stale; an old one is.
    let empty = observed(vec![], vec![]);
    assert_eq!(
        evaluate(&c, &empty, NOW - HOUR, None, NOW).status,
        HealthStatus::Healthy
    );
    assert_eq!(
        evaluate(&c, &empty, NOW - 4 * HOUR, None, NOW).status,
        HealthStatus::Unhealthy
    );
    // Without schedules nothing is expected.
    let off = config(&[("HELIX_SYNC_ENABLED", "false")]);
    assert_eq!(
        evaluate(&off, &empty, NOW - 40 * HOUR, None, NOW).status,
        HealthStatus::Healthy
    );
}

#[test]
fn an_unreachable_store_is_unhealthy() {
    let c = config(&[]);
    let o = Observed {
        store_error: Some("store unreachable: pool closed".into()),
        ..Default::default()
    };
    let h = evaluate(&c, &o, NOW, None, NOW);
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!(
        h.metrics.last_error.as_deref(),
        Some("store unreachable: pool closed")
    );
}

#[test]
fn a_failed_source_or_target_degrades_and_names_the_newest_error() {
    let c = config(&[]);
    let mut sources = ok_sources();
    sources["ucf_state"] = serde_json::json!({"status": "error", "error": "file missing"});
    let o = observed(
        vec![run("r1", "partial", NOW - HOUR, sources, None)],
        vec![],
    );
    let h = evaluate(&c, &o, NOW - 10 * HOUR, None, NOW);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.sources.ucf_state, PartStatus::Error);
    assert_eq!(
        h.metrics.last_error.as_deref(),
        Some("ucf_state: file missing")
    );
    assert_eq!(h.metrics.success_rate, Some(0.0));

    let o = observed(
        vec![run("r1", "succeeded", NOW - HOUR, ok_sources(), None)],
        vec![delivery("discord", "failed", Some("HTTP 500"), NOW - 10)],
    );
    let h = evaluate(&c, &o, NOW - 10 * HOUR, None, NOW);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.targets.discord, PartStatus::Error);
    assert_eq!(h.metrics.last_error.as_deref(), Some("discord: HTTP 500"));
}

#[test]
fn a_source_skipped_by_a_partial_trigger_keeps_its_earlier_state() {
    let c = config(&[]);
    let mut older = ok_sources();
    older["github"] = serde_json::json!({"status": "error", "error": "HTTP 502"});
    let mut newer = ok_sources();
    newer["github"] = serde_json::json!({"status": "disabled", "error": null});
    let o = observed(
        vec![
            run("r2", "succeeded", NOW - 10, newer, None),
            run("r1", "partial", NOW - HOUR, older, None),
        ],
        vec![],
    );
    assert_eq!(
        evaluate(&c, &o, NOW, None, NOW).sources.github,
        PartStatus::Error
    );
}

#[test]
fn last_error_never_shows_a_secret_or_a_whole_body() {
    let c = config(&[]);
    let body = format!(
        "POST http://127.0.0.1:1/api/webhooks/1/secret-token-abcdef: {}",
        "<html>".repeat(500)
    );
    let o = observed(
        vec![run("r1", "succeeded", NOW - HOUR, ok_sources(), None)],
        vec![delivery("discord", "dead", Some(&body), NOW - 5)],
    );
    let e = evaluate(&c, &o, NOW, None, NOW).metrics.last_error.unwrap();
    assert!(!e.contains("secret-token-abcdef"), "{e}");
    assert!(e.len() <= LAST_ERROR_MAX, "{}", e.len());
}

#[test]
fn an_open_circuit_or_a_dead_delivery_degrades_with_the_target_in_error() {
    let c = config(&[(
        "DISCORD_SYNC_WEBHOOK",
        "https://discord.com/api/webhooks/1/tok",
    )]);
    let lane = crate::store::LaneRow {
        name: "discord".into(),
        max_running: Some(1),
        tokens: None,
        refilled_at: None,
        breaker: "open".into(),
        failures: 5,
        opened_at: Some(NOW - 1000),
        next_probe_at: Some(NOW + 59_000),
        updated_at: NOW - 1000,
    };
    let o = Observed {
        lanes: vec![lane],
        ..observed(vec![], vec![])
    };
    let h = evaluate(&c, &o, NOW, None, NOW);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.targets.discord, PartStatus::Error);
    assert!(h.metrics.last_error.unwrap().contains("circuit open"));

    let o = Observed {
        dead_deliveries: [("discord".to_owned(), 2)].into_iter().collect(),
        ..observed(vec![], vec![])
    };
    let h = evaluate(&c, &o, NOW, None, NOW);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(h.targets.discord, PartStatus::Error);
}

/// `sync_config.json` text in a temporary file, loaded with `extra` environment.
fn config_from_file(json: &str, extra: &[(&str, &str)]) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync_config.json");
    std::fs::write(&path, json).unwrap();
    let mut env: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("HELIX_CONFIG".into(), path.display().to_string());
    (Config::load(&env).unwrap(), dir)
}

#[test]
fn a_source_the_cycle_runs_is_on_in_the_report_and_its_failure_degrades_it() {
    // UCF fed by ritual events alone (no state file) and agents read from the profiles
    // database alone: the cycle runs both, so both count.
    let (c, _dir) = config_from_file(
        r#"{"sources": {"ucf_state": {"path": null}, "agent_metrics": {"path": null}}}"#,
        &[("AGENT_PROFILES_DB", "/var/lib/helix/profiles.db")],
    );
    let mut sources = ok_sources();
    sources["ucf_state"] = serde_json::json!({"status": "error", "error": "bad ritual state"});
    sources["agent_metrics"] = serde_json::json!({"status": "error", "error": "db locked"});
    let o = observed(
        vec![run("r1", "partial", NOW - HOUR, sources, None)],
        vec![],
    );
    let h = evaluate(&c, &o, NOW - 10 * HOUR, None, NOW);
    assert_eq!(h.sources.ucf_state, PartStatus::Error);
    assert_eq!(h.sources.agent_metrics, PartStatus::Error);
    assert_eq!(h.status, HealthStatus::Degraded);
}

#[test]
fn the_report_says_on_exactly_for_the_parts_the_cycle_builds() {
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("{}", &[]),
        (
            r#"{"sources": {"ucf_state": {"enabled": false}}}"#,
            &[("GITHUB_REPOS", "o/r")],
        ),
        (
            r#"{"sources": {"agent_metrics": {"path": null}}, "publishers": {"portal": {"enabled": false}}}"#,
            &[("NOTION_API_KEY", "k"), ("NOTION_DATABASE_ID", "d")],
        ),
        (
            r#"{"sources": {"ucf_state": {"path": null}, "agent_metrics": {"path": null}}}"#,
            &[
                ("AGENT_PROFILES_DB", "p.db"),
                ("DISCORD_SYNC_WEBHOOK", "https://d/1/t"),
            ],
        ),
    ];
    for (json, env) in cases {
        let (c, _dir) = config_from_file(json, env);
        let h = evaluate(&c, &observed(vec![], vec![]), NOW, None, NOW);
        let report = [
            ("github", h.sources.github),
            ("ucf_state", h.sources.ucf_state),
            ("agent_metrics", h.sources.agent_metrics),
        ];
        for ((name, built), (reported, status)) in
            crate::sync::sources::build(&c).into_iter().zip(report)
        {
            assert_eq!(name, reported);
            assert_eq!(
                built.is_some(),
                status != PartStatus::Disabled,
                "{name} in {json}"
            );
        }
        let report = [h.targets.discord, h.targets.notion, h.targets.portal];
        for ((name, on), status) in crate::sync::publishers::targets(&c).into_iter().zip(report) {
            assert_eq!(on, status != PartStatus::Disabled, "{name} in {json}");
        }
    }
}
