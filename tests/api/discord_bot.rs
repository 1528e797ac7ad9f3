//! The Discord bot: slash commands over signed interactions, against a fake Discord that signs
//! with a test key pair, probes with forged signatures, gives up after 3 seconds, keeps each
//! token alive for 15 minutes of a clock the test moves, and rate-limits the follow-up edit.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use helix_sync::auth::Principal;
use helix_sync::queue::{ClaimedJob, JobError, JobPayload, Trigger};
use helix_sync::store::now_ms;
use helix_sync::sync::SyncRunner;
use helix_sync::worker::JobRunner;
use serde_json::{json, Value};

use crate::fakes::discord_bot::{BotFake, Sent, APPLICATION_ID, BOT_TOKEN};
use crate::helpers::{error_code, spawn_app, spawn_with, Spawn, TestApp};

const OPERATOR: &str = "100000000000000001";
const VIEWER: &str = "100000000000000002";
const MEMBER: &str = "discord:ada (800000000000000001)";

struct Bot {
    app: TestApp,
    fake: BotFake,
    /// How far the workers' clock is ahead of real time (ms).
    shift: Arc<AtomicI64>,
    _config: tempfile::TempDir,
}

async fn bot() -> Bot {
    bot_with(Spawn::default()).await
}

/// The test app with the bot configured: the fake's key and application, operator and viewer
/// role ids mapped, a public URL for links.
async fn bot_with(spawn: Spawn) -> Bot {
    let dir = tempfile::tempdir().unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    let shipped = std::fs::read_to_string(format!("{repo}/config/sync_config.json")).unwrap();
    let mut config: Value = serde_json::from_str(&shipped).unwrap();
    config["publishers"]["discord"]["command_roles"] =
        json!({"operator": [OPERATOR], "viewer": [VIEWER]});
    let path = dir.path().join("sync_config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let app = spawn_with(
        spawn
            .env("HELIX_CONFIG", path.to_str().unwrap())
            .env(
                "DISCORD_PUBLIC_KEY",
                &crate::fakes::discord_bot::public_key_hex(),
            )
            .env("DISCORD_APPLICATION_ID", APPLICATION_ID)
            .env("HELIX_PUBLIC_URL", "https://helix.example"),
    )
    .await;
    let fake = BotFake::mount(&app.discord, app.url("/webhooks/discord")).await;
    Bot {
        app,
        fake,
        shift: Arc::new(AtomicI64::new(0)),
        _config: dir,
    }
}

impl Bot {
    /// `/helix <sub>` with `options` (text or a whole number each), by a member with `role`.
    async fn send(&self, sub: &str, options: &[(&str, Value)], role: &str) -> Sent {
        let options: Vec<Value> = options
            .iter()
            .map(|(name, value)| {
                let kind = if value.is_string() { 3 } else { 4 };
                json!({"name": name, "type": kind, "value": value})
            })
            .collect();
        let interaction = self.fake.command(sub, json!(options), &[role]);
        self.fake.send(&interaction).await
    }

    /// Moves the workers' clock and the fake's together.
    fn advance(&self, by: Duration) {
        self.shift
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        self.fake.advance(by);
    }

    async fn run_pending(&self) -> usize {
        let shift = self.shift.clone();
        let clock = Arc::new(move || now_ms() + shift.load(Ordering::SeqCst));
        self.app
            .pool
            .clone()
            .with_clock(clock)
            .run_pending()
            .await
            .unwrap()
    }

    async fn jobs(&self) -> Vec<helix_sync::store::JobRow> {
        self.app.store.list_jobs(None, 100).await.unwrap()
    }

    async fn job_of_kind(&self, kind: &str) -> helix_sync::store::JobRow {
        let jobs = self.jobs().await;
        jobs.into_iter()
            .find(|j| j.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} job"))
    }
}

/// Asserts an answer only the member who asked sees, which says `text`.
fn says_privately(sent: &Sent, text: &str) {
    assert!(
        sent.ephemeral() && sent.content().contains(text),
        "{:?}",
        sent.answer
    );
}

/// Holds every sync job waiting (as if it ran for ever) and runs the rest for real.
#[derive(Default)]
struct HoldSyncs(OnceLock<SyncRunner>);

#[async_trait]
impl JobRunner for HoldSyncs {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        match &job.payload {
            JobPayload::Sync(_) => Err(JobError::RateLimited {
                message: "held by the test".into(),
                retry_at: now_ms() + 86_400_000,
            }),
            _ => self.0.get().expect("wired").run(job).await,
        }
    }
}

async fn held_bot() -> Bot {
    let runner = Arc::new(HoldSyncs::default());
    let bot = bot_with(Spawn::default().runner(runner.clone())).await;
    let deps = bot.app.state.sync.clone();
    assert!(runner.0.set(SyncRunner { deps }).is_ok());
    bot
}

#[tokio::test]
async fn the_portals_endpoint_check_passes_and_forged_or_stale_requests_are_401() {
    let bot = bot().await;
    bot.fake.validate_endpoint().await.unwrap();
    let ping = json!({"id": "1", "application_id": APPLICATION_ID, "type": 1, "token": "t"});
    let body = serde_json::to_vec(&ping).unwrap();
    let now = now_ms() / 1000;
    let url = bot.app.url("/webhooks/discord");
    // No signature at all, and a signature made ten minutes ago (replayed).
    let unsigned = bot
        .app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone());
    assert_eq!(
        error_code(unsigned.send().await.unwrap(), 401).await,
        "unauthorized"
    );
    let stale = bot
        .fake
        .post(&body, BotFake::headers(now - 600, &body), &ping)
        .await;
    assert_eq!(stale.status, Some(401));
    assert_eq!(stale.answer["error"], "unauthorized");
    assert!(stale.answer["message"]
        .as_str()
        .unwrap()
        .contains("X-Signature-Timestamp"));
    assert_eq!(bot.app.count("events").await, 0);
}

#[tokio::test]
async fn without_a_public_key_the_endpoint_is_503() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/webhooks/discord"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 503).await, "not_configured");
}

#[tokio::test]
async fn a_sync_is_deferred_then_its_answer_edited_with_the_runs_result() {
    let bot = bot().await;
    let sent = bot.send("sync", &[("scope", json!("ucf"))], OPERATOR).await;
    assert_eq!(
        (sent.status, sent.response_type()),
        (Some(200), Some(5)),
        "{:?}",
        sent.answer
    );

    // Stored like any event, the sync job queued as the member's, the follow-up beside it.
    let sync = bot.job_of_kind("sync").await;
    let payload: JobPayload = serde_json::from_str(&sync.payload).unwrap();
    let JobPayload::Sync(job) = payload else {
        panic!()
    };
    assert_eq!(job.sources, Some(vec!["ucf_state".to_owned()]));
    assert_eq!(
        job.trigger,
        Trigger::Discord {
            member: "ada (800000000000000001)".into()
        }
    );
    let followup = bot.job_of_kind("discord_followup").await;
    assert!(
        !followup.payload.contains(&sent.token),
        "the token is not in the job"
    );
    let events: Value = bot
        .app
        .get_authed(&format!("/api/sync/jobs/{}", sync.id))
        .await
        .json()
        .await
        .unwrap();
    let event_id = events["events"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(events["events"][0]["source"], "discord");
    assert_eq!(events["events"][0]["delivery_id"], sent.id);
    let shown: Value = bot
        .app
        .get_authed(&format!("/api/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["payload"]["token"], "[redacted]");
    let console = helix_sync::service::events::event(&bot.app.state, &event_id)
        .await
        .unwrap();
    assert!(console.payload.contains("[redacted]") && !console.payload.contains(&sent.token));
    assert_eq!(shown["payload"]["member"]["user"]["username"], "ada");

    bot.run_pending().await;
    let edits = bot.fake.edits();
    assert_eq!(edits.len(), 1, "{:?}", bot.fake.state.lock().refusals);
    let (token, body) = &edits[0];
    assert_eq!(token, &sent.token);
    let run = bot.app.store.run_for_job(&sync.id).await.unwrap().unwrap();
    assert_eq!(run.trigger, format!("{MEMBER}"));
    let content = body["content"].as_str().unwrap();
    assert!(
        content.contains(&run.id) && content.contains("succeeded"),
        "{content}"
    );
    assert!(
        content.contains(&format!("https://helix.example/console/runs/{}", run.id)),
        "{content}"
    );
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(bot.job_of_kind("discord_followup").await.state, "succeeded");

    // The audit log names the member; the metrics count the interaction.
    let audit = bot.app.store.audit_page(None, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == MEMBER && a.action == "sync.trigger"),
        "{audit:?}"
    );
    let metrics = bot.app.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("helix_discord_interactions_total")
                && l.contains("command=\"sync\"")
                && l.contains("outcome=\"queued\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_acknowledged_sync_is_still_reported_after_the_process_dies() {
    // Both processes share one database and one Discord.
    let discord = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::test_database_url(dir.path()).await;
    let spawn = || {
        Spawn::default()
            .env("DATABASE_URL", &db)
            .env("DISCORD_API_URL", &discord.uri())
    };
    let first = bot_with(spawn()).await;
    let fake = BotFake::mount(&discord, first.app.url("/webhooks/discord")).await;
    let sent = fake
        .send(&fake.command("sync", json!([]), &[OPERATOR]))
        .await;
    assert_eq!(sent.response_type(), Some(5));
    // It dies before any worker ran a job: "thinking…" is all Discord has.
    drop(first);

    let second = bot_with(spawn()).await;
    second.run_pending().await;
    let edits = fake.edits();
    assert_eq!(edits.len(), 1, "{:?}", fake.state.lock().refusals);
    assert_eq!(edits[0].0, sent.token);
    assert!(edits[0].1["content"]
        .as_str()
        .unwrap()
        .contains("succeeded"));
}

#[tokio::test]
async fn a_run_still_going_when_the_token_nears_its_end_is_reported_with_a_console_link() {
    let bot = held_bot().await;
    let sent = bot.send("sync", &[], OPERATOR).await;
    assert_eq!(sent.response_type(), Some(5));
    bot.run_pending().await;
    // The sync is held; the follow-up waits for it without an edit and without a worker.
    assert!(bot.fake.edits().is_empty());
    let waiting = bot.job_of_kind("discord_followup").await;
    assert_eq!((waiting.state.as_str(), waiting.attempts), ("failed", 0));
    assert!(
        waiting.run_at <= now_ms() + 3_100,
        "it looks again within seconds"
    );

    bot.advance(Duration::from_secs(14 * 60 + 1));
    bot.run_pending().await;
    let edits = bot.fake.edits();
    assert_eq!(edits.len(), 1, "{:?}", bot.fake.state.lock().refusals);
    let content = edits[0].1["content"].as_str().unwrap();
    let sync = bot.job_of_kind("sync").await;
    assert!(content.contains("still running"), "{content}");
    assert!(
        content.contains(&format!("https://helix.example/console/jobs/{}", sync.id)),
        "{content}"
    );
    assert_eq!(bot.job_of_kind("discord_followup").await.state, "succeeded");
}

#[tokio::test]
async fn a_follow_up_whose_token_expired_gives_up_without_calling_discord() {
    let bot = held_bot().await;
    bot.send("sync", &[], OPERATOR).await;
    bot.run_pending().await;
    // The server was down for 16 minutes: when the follow-up runs again the token is dead.
    bot.advance(Duration::from_secs(16 * 60));
    bot.run_pending().await;
    let followup = bot.job_of_kind("discord_followup").await;
    assert_eq!(followup.state, "dead");
    assert!(followup.last_error.unwrap().contains("expired"));
    assert!(bot.fake.edits().is_empty());
    assert!(
        bot.fake.state.lock().refusals.is_empty(),
        "no call with a dead token"
    );
}

#[tokio::test]
async fn the_follow_up_waits_out_discords_rate_limit_and_edits_once() {
    let bot = bot().await;
    bot.fake.state.lock().throttle_next = 1;
    bot.send("sync", &[], OPERATOR).await;
    bot.run_pending().await;
    assert!(bot.fake.edits().is_empty());
    let followup = bot.job_of_kind("discord_followup").await;
    assert_eq!((followup.state.as_str(), followup.attempts), ("failed", 0));
    assert!(followup.last_error.unwrap().contains("429"));

    bot.advance(Duration::from_secs(1));
    bot.run_pending().await;
    assert_eq!(bot.fake.edits().len(), 1);
    assert_eq!(bot.job_of_kind("discord_followup").await.state, "succeeded");
}

#[tokio::test]
async fn members_without_a_mapped_role_are_refused_privately_and_nothing_is_stored() {
    let bot = bot().await;
    let nobody = bot.send("sync", &[], "999").await;
    assert_eq!(
        (nobody.status, nobody.response_type()),
        (Some(200), Some(4))
    );
    says_privately(&nobody, "command_roles");

    let viewer = bot.send("sync", &[], VIEWER).await;
    says_privately(&viewer, "operator");
    let rollback = bot.send("rollback", &[("run", json!("r"))], VIEWER).await;
    says_privately(&rollback, "operator");
    assert_eq!(bot.app.count("events").await, 0);
    assert!(bot.jobs().await.is_empty());

    // A viewer may read.
    let status = bot.send("status", &[], VIEWER).await;
    says_privately(&status, "helix-sync is");
    assert!(status.content().contains("https://helix.example/console"));
}

#[tokio::test]
async fn a_redelivered_interaction_queues_its_sync_once() {
    let bot = bot().await;
    let interaction = bot.fake.command("sync", json!([]), &[OPERATOR]);
    let first = bot.fake.send(&interaction).await;
    let again = bot.fake.send(&interaction).await;
    assert_eq!(
        (first.response_type(), again.response_type()),
        (Some(5), Some(5))
    );
    assert_eq!(bot.app.count("events").await, 1);
    let kinds: Vec<String> = bot.jobs().await.into_iter().map(|j| j.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "sync").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "discord_followup").count(),
        1,
        "{kinds:?}"
    );
    bot.run_pending().await;
    assert_eq!(bot.fake.edits().len(), 1);
}

#[tokio::test]
async fn bad_options_and_bad_bodies_get_clear_errors_and_queue_nothing() {
    let bot = bot().await;
    let scope = bot
        .send("sync", &[("scope", json!("everything"))], OPERATOR)
        .await;
    says_privately(&scope, "full, ucf, agents, repos");
    let repo = bot
        .send("sync", &[("repo", json!("o/unknown"))], OPERATOR)
        .await;
    says_privately(&repo, "GITHUB_REPOS");
    let limit = bot
        .send("history", &[("limit", json!(500))], OPERATOR)
        .await;
    says_privately(&limit, "between 1 and 20");

    // Signed, but not an interaction; for another application; of a type we do not take.
    let now = now_ms() / 1000;
    for (body, status) in [
        (b"{not json".to_vec(), 400),
        (
            serde_json::to_vec(&json!({"id": "1", "application_id": "1", "type": 1})).unwrap(),
            400,
        ),
        (
            serde_json::to_vec(&json!({"id": "1", "application_id": APPLICATION_ID, "type": 5}))
                .unwrap(),
            400,
        ),
    ] {
        let sent = bot
            .fake
            .post(&body, BotFake::headers(now, &body), &Value::Null)
            .await;
        assert_eq!(sent.status, Some(status), "{:?}", sent.answer);
        assert!(sent.answer["message"].is_string());
    }
    let form = bot
        .app
        .client
        .post(bot.app.url("/webhooks/discord"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(form, 415).await, "unsupported_media_type");
    let huge = vec![b' '; 300 * 1024];
    let big = bot
        .fake
        .post(&huge, BotFake::headers(now, &huge), &Value::Null)
        .await;
    assert_eq!(big.status, Some(413));
    assert_eq!(bot.app.count("events").await, 0);
    assert!(bot.jobs().await.is_empty());
    // The server is still up.
    bot.fake.validate_endpoint().await.unwrap();
}

#[tokio::test]
async fn history_and_rollback_go_through_the_service_and_name_the_member() {
    let bot = bot().await;
    bot.app.trigger(json!({})).await;
    bot.run_pending().await;
    let run = bot.app.store.list_runs(1).await.unwrap().remove(0);

    let history = bot.send("history", &[("limit", json!(3))], VIEWER).await;
    says_privately(&history, &run.id);

    let rollback = bot
        .send("rollback", &[("run", json!(run.id))], OPERATOR)
        .await;
    assert_eq!(rollback.response_type(), Some(4), "{:?}", rollback.answer);
    assert!(!rollback.ephemeral(), "the channel sees a rollback");
    assert!(
        rollback.content().contains(&run.id) && rollback.content().contains(MEMBER),
        "{}",
        rollback.content()
    );
    let audit = bot.app.store.audit_page(None, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == MEMBER && a.action == "run.rollback"),
        "{audit:?}"
    );

    let unknown = bot
        .send("rollback", &[("run", json!("no-such-run"))], OPERATOR)
        .await;
    says_privately(&unknown, "no-such-run");
    // Stored as events, each under its interaction id.
    let page = helix_sync::service::events::events(
        &bot.app.state,
        &helix_sync::store::EventFilter {
            source: Some("discord".into()),
            ..Default::default()
        },
        &None,
    )
    .await
    .unwrap();
    assert_eq!(page.events.len(), 3);
}

#[tokio::test]
async fn a_stored_sync_interaction_replays_as_its_sync() {
    let bot = bot().await;
    bot.send("sync", &[("scope", json!("agents"))], OPERATOR)
        .await;
    bot.run_pending().await;
    let sync = bot.job_of_kind("sync").await;
    let detail = helix_sync::service::job_detail(&bot.app.state, &sync.id)
        .await
        .unwrap()
        .unwrap();
    let replayed = helix_sync::service::events::replay(
        &bot.app.state,
        &Principal::cli(),
        &detail.events[0].id,
    )
    .await
    .unwrap();
    assert_eq!(replayed.jobs.len(), 1);
    let again = bot
        .app
        .store
        .get_job(&replayed.jobs[0])
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.id, sync.id);
    assert!(again.payload.contains("agent_metrics"), "{}", again.payload);
}

#[tokio::test]
async fn register_puts_the_command_definitions_with_the_bot_token() {
    let server = wiremock::MockServer::start().await;
    let fake = BotFake::mount(&server, String::new()).await;
    let uri = server.uri();
    let run = move |token: Option<&'static str>, args: &'static [&'static str]| {
        let uri = uri.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = crate::process::helix();
            cmd.env_clear()
                .env(
                    "HELIX_CONFIG",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
                )
                .env("DISCORD_APPLICATION_ID", APPLICATION_ID)
                .env("DISCORD_API_URL", uri)
                .env("RUST_LOG", "error")
                .arg("discord")
                .arg("register")
                .args(args);
            if let Some(t) = token {
                cmd.env("DISCORD_BOT_TOKEN", t);
            }
            cmd.output().unwrap()
        })
    };
    let out = run(Some(BOT_TOKEN), &["--guild", "700000000000000001"])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("registered /helix in server 700000000000000001"),
        "{stdout}"
    );
    let (path, body) = fake.state.lock().registrations[0].clone();
    assert_eq!(
        path,
        format!("/api/v10/applications/{APPLICATION_ID}/guilds/700000000000000001/commands")
    );
    assert_eq!(body, helix_sync::discord::commands::definitions());

    let wrong = run(Some("not-the-token"), &[]).await.unwrap();
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && stderr.contains("401"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-token"),
        "the token is never printed"
    );
    let missing = run(None, &[]).await.unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("DISCORD_BOT_TOKEN is not set"));
}
