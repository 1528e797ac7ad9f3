//! The real binary with `HELIX_LOG_FORMAT=json` and every secret configured, driven through
//! webhooks, the API and MCP until its jobs finish, then stopped with SIGTERM: every log
//! line is one JSON object, request and job spans carry their ids, and no secret (nor any
//! piece of one) appears anywhere in the output.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use wiremock::MockServer;

use super::repo;
use crate::helpers::{github_signature, push_payload, ritual_signature};

const SECRETS: [(&str, &str); 7] = [
    ("GITHUB_WEBHOOK_SECRET", "gh-webhook-secret-value-7f3a9c"),
    (
        "RITUAL_WEBHOOK_SECRET",
        "whsec_c2VjcmV0LXJpdHVhbC1rZXktYnl0ZXMtMDAx",
    ),
    ("HELIX_API_TOKEN", "api-token-value-5d2e8b41"),
    ("GITHUB_TOKEN", "ghp_githubtokenvalue0123456789abcdef"),
    ("NOTION_API_KEY", "ntn_notionkeyvalue0123456789abcdef"),
    // The Discord URL is completed with the fake's address below; its token is the secret.
    (
        "DISCORD_SYNC_WEBHOOK",
        "/api/webhooks/112233445566/discordtokenvalue-0123456789abcdef",
    ),
    ("NOTION_DATABASE_ID", "0f5e7a2b6c1d4e3f8a9b0c1d2e3f4a5b"),
];

#[tokio::test]
async fn json_logs_of_a_full_cycle_never_contain_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (github, discord, notion) = (
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
    );
    let secrets: HashMap<&str, String> = SECRETS
        .iter()
        .map(|(k, v)| {
            let v = if *k == "DISCORD_SYNC_WEBHOOK" {
                format!("{}{v}", discord.uri())
            } else {
                (*v).to_owned()
            };
            (*k, v)
        })
        .collect();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_helix-sync"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(secrets.iter().map(|(k, v)| (*k, v.as_str())))
        .env("HELIX_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,helix_sync=debug")
        .env("HELIX_BIND", "127.0.0.1:0")
        .env("HEALTH_CHECK_PORT", "0")
        .env(
            "HELIX_CONFIG",
            format!("{}/config/sync_config.json", repo()),
        )
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/helix.db", dir.path().display()),
        )
        .env("EXPORT_PATH", dir.path().join("exports"))
        .env("GITHUB_REPOS", "helix-org/helix-core")
        .env("GITHUB_API_URL", github.uri())
        .env("DISCORD_API_URL", discord.uri())
        .env("NOTION_API_URL", notion.uri())
        .env(
            "UCF_STATE_SOURCE",
            format!("{}/config/examples/ucf_state.json", repo()),
        )
        .env(
            "AGENT_METRICS_SOURCE",
            format!("{}/config/examples/agents_state.json", repo()),
        )
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let pid = child.id().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut r = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = r.next_line().await {
            let _ = tx.send(line);
        }
    });
    let mut log: Vec<String> = Vec::new();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.recv())
            .await
            .expect("the server logs its address within 60 s")
            .expect("the server is running");
        log.push(line.clone());
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["fields"]["message"] == "helix-sync listening" {
            break v["fields"]["address"].as_str().unwrap().to_owned();
        }
    };
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let token = secrets["HELIX_API_TOKEN"].clone();

    let body =
        serde_json::to_vec(&push_payload("helix-org/helix-core", "main", "feat: x")).unwrap();
    let res = client
        .post(format!("{base}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", "delivery-logs-1")
        .header(
            "x-hub-signature-256",
            github_signature(&secrets["GITHUB_WEBHOOK_SECRET"], &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let ritual = br#"{"type":"ritual.completed","timestamp":"2026-11-20T10:00:00Z","data":{"ritual_id":"z88-9","name":"Z-88","steps":108,"ucf_after":{"harmony":0.9,"resilience":1.1,"prana":0.6,"drishti":0.7,"klesha":0.04,"zoom":1.0}}}"#;
    let ts = chrono::Utc::now().timestamp();
    let res = client
        .post(format!("{base}/webhooks/ritual"))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_logs_1")
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            ritual_signature(&secrets["RITUAL_WEBHOOK_SECRET"], "msg_logs_1", ts, ritual),
        )
        .body(ritual.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let res = client
        .post(format!("{base}/api/sync"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let job_id = res.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{base}/mcp"))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for path in ["/health", "/metrics", "/", "/api/sync/history"] {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }

    // The workers run the jobs; wait until the manual job has left the queue.
    let mut state = String::new();
    for _ in 0..600 {
        let job: Value = client
            .get(format!("{base}/api/sync/jobs/{job_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = job["state"].as_str().unwrap_or("").to_owned();
        if !matches!(state.as_str(), "queued" | "running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !matches!(state.as_str(), "queued" | "running"),
        "the job never ran"
    );

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("stops within 60 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    reader.await.unwrap();
    while let Ok(line) = lines.try_recv() {
        log.push(line);
    }

    let text = log.join("\n");
    let config_secrets = helix_sync::config::Secrets {
        github_webhook: vec![helix_sync::config::Secret::new(
            &secrets["GITHUB_WEBHOOK_SECRET"],
        )],
        ritual_webhook: vec![helix_sync::config::Secret::new(
            &secrets["RITUAL_WEBHOOK_SECRET"],
        )],
        api_token: Some(helix_sync::config::Secret::new(&token)),
        github_token: Some(helix_sync::config::Secret::new(&secrets["GITHUB_TOKEN"])),
        discord_webhook: Some(helix_sync::config::Secret::new(
            &secrets["DISCORD_SYNC_WEBHOOK"],
        )),
        notion_api_key: Some(helix_sync::config::Secret::new(&secrets["NOTION_API_KEY"])),
        discord_bot_token: None,
        summary_api_key: None,
        github_app_key: None,
    };
    for fragment in helix_sync::service::redact::secret_fragments(&config_secrets) {
        assert!(
            !text.contains(&fragment),
            "secret {fragment:?} appears in the logs:\n{text}"
        );
    }
    assert!(log.len() > 10, "too few log lines:\n{text}");
    for line in &log {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        log.iter()
            .any(|l| l.contains("\"request_id\":\"") && l.contains("/webhooks/github")),
        "no request span with an id:\n{text}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("\"job_id\":\"{job_id}\""))),
        "no job span with the job id:\n{text}"
    );
    assert!(
        text.contains("\"message\":\"stopped\""),
        "no clean stop:\n{text}"
    );
}
