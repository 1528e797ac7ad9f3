//! Discord interactions over HTTP: the bot's slash commands, signed with Ed25519.
//!
//! Discord POSTs every interaction to the application's Interactions Endpoint URL and signs
//! the bytes of `X-Signature-Timestamp` followed by the raw body with the application's key;
//! `X-Signature-Ed25519` holds the signature in hex. The signature is checked against
//! `DISCORD_PUBLIC_KEY` (ed25519-dalek's `verify_strict`) before anything is parsed, and a
//! timestamp more than five minutes from our clock is refused as well: both are 401s.
//! Discord sends bad signatures on purpose and removes an endpoint that accepts one.
//!
//! A verified `PING` is answered `{"type":1}` and stored nowhere. A slash command becomes an
//! [`Interaction`]: who asked (the member and their Discord role ids), what they asked for (a
//! [`Command`], or why its options are wrong, in words for the member) and the event to
//! store: the exact signed document under the interaction's id, so that a redelivery is a
//! duplicate, carrying the sync job `/helix sync` asks for. Whether the member may, and what
//! to answer, needs the application (roles, status, history, rollback): that is the Discord
//! front end's business (`crate::discord`), not ingest's.

use axum::http::HeaderMap;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::{json, Value};

use super::manual::TriggerRequest;
use super::{keep_headers, Inbound, IngestError, Scheme, Verdict};
use crate::config::Config;
use crate::queue::{JobPayload, SyncScope, Trigger};
use crate::store::Compressed;

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Allowed clock difference between Discord and us, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The one slash command; what it does is its subcommand.
pub const COMMAND: &str = "helix";
/// The subcommands, in the order the command lists them.
pub const SUBCOMMANDS: [&str; 4] = ["sync", "status", "history", "rollback"];
/// `/helix sync scope:…`, each with the sources it collects (`None`: every enabled one).
pub const SCOPES: [(&str, Option<&str>); 4] = [
    ("full", None),
    ("ucf", Some("ucf_state")),
    ("agents", Some("agent_metrics")),
    ("repos", Some("github")),
];
/// Most runs `/helix history` lists (a Discord message holds 2,000 characters).
pub const HISTORY_MAX: i64 = 20;
/// Runs `/helix history` lists when not told.
pub const HISTORY_DEFAULT: i64 = 5;

/// Interaction types (`type`).
const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
/// Option types (`data.options[].type`).
const SUB_COMMAND: u64 = 1;

/// Discord's interactions, as an ingest [`Scheme`].
pub struct Discord;

impl Scheme for Discord {
    const SOURCE: &'static str = "discord";
    /// Interactions are small documents.
    const BODY_LIMIT: usize = 256 * 1024;
    const CLAIMED: (Option<&'static str>, Option<&'static str>) = (None, None);
    type Body = ();

    fn admit(config: &Config, headers: &HeaderMap) -> Result<(), IngestError> {
        if config.discord_public_key.is_none() {
            return Err(IngestError::NotConfigured("DISCORD_PUBLIC_KEY"));
        }
        if config.discord_application_id.is_none() {
            return Err(IngestError::NotConfigured("DISCORD_APPLICATION_ID"));
        }
        super::json_only(headers)
    }

    fn verify(
        config: &Config,
        headers: &HeaderMap,
        raw: &[u8],
        now: i64,
    ) -> Result<(), IngestError> {
        let key = config
            .discord_public_key
            .as_ref()
            .ok_or(IngestError::NotConfigured("DISCORD_PUBLIC_KEY"))?;
        verify(key.bytes(), headers, raw, now / 1000)
    }

    fn decode(
        config: &Config,
        headers: &HeaderMap,
        _: (),
        raw: &[u8],
        now: i64,
    ) -> Result<Verdict, IngestError> {
        let envelope: Envelope = serde_json::from_slice(raw)
            .map_err(|e| IngestError::BadRequest(format!("invalid interaction: {e}")))?;
        let ours = config.discord_application_id.as_deref().unwrap_or("");
        if envelope.application_id != ours {
            return Err(IngestError::BadRequest(format!(
                "the interaction is for application {}, this server answers for {ours} \
                 (DISCORD_APPLICATION_ID)",
                crate::queue::truncate(&envelope.application_id, 40)
            )));
        }
        match envelope.kind {
            PING => Ok(Verdict::Reply(json!({"type": 1}))),
            APPLICATION_COMMAND => {
                let payload = std::str::from_utf8(raw)
                    .map(Compressed::new)
                    .map_err(|_| IngestError::BadRequest("body is not UTF-8".into()))?;
                interaction(config, headers, envelope, payload, now).map(Verdict::Interaction)
            }
            other => Err(IngestError::BadRequest(format!(
                "interaction type {other} is not handled (only PING and slash commands)"
            ))),
        }
    }
}

/// Checks `X-Signature-Ed25519` over `X-Signature-Timestamp` + `body` with the application's
/// public `key`, then the timestamp against `now_secs`.
pub fn verify(
    key: &[u8; 32],
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), IngestError> {
    let header = |name: &'static str, shown: &'static str| match headers.get(name) {
        None => Err(IngestError::MissingSignature(shown)),
        Some(v) => v.to_str().map_err(|_| IngestError::InvalidSignature),
    };
    let signature = header(SIGNATURE_HEADER, "X-Signature-Ed25519")?;
    let timestamp = header(TIMESTAMP_HEADER, "X-Signature-Timestamp")?;
    let signature: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(IngestError::InvalidSignature)?;
    // Config checked the key at start; a bad one verifies nothing.
    let key = VerifyingKey::from_bytes(key).map_err(|_| IngestError::InvalidSignature)?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify_strict(&signed, &Signature::from_bytes(&signature))
        .map_err(|_| IngestError::InvalidSignature)?;
    super::check_timestamp("X-Signature-Timestamp", timestamp, now_secs, TOLERANCE_SECS)
}

/// The fields of an interaction this service reads (Discord sends many more).
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: u64,
    #[serde(default)]
    data: Option<Data>,
    /// Who asked, in a server (absent in a direct message).
    #[serde(default)]
    member: Option<Member>,
}

#[derive(Debug, Deserialize)]
struct Data {
    name: String,
    #[serde(default)]
    options: Vec<CommandOption>,
}

#[derive(Debug, Deserialize)]
struct CommandOption {
    name: String,
    #[serde(rename = "type")]
    kind: u64,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

/// A server member, as an interaction names them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Member {
    /// The member's role ids.
    #[serde(default)]
    pub roles: Vec<String>,
    pub user: User,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    pub id: String,
    pub username: String,
}

impl Member {
    /// `<username> (<user id>)`, as runs and the audit log name the member.
    pub fn label(&self) -> String {
        crate::auth::discord_member(&self.user.username, &self.user.id)
    }
}

/// A verified slash command, for the Discord front end.
#[derive(Debug)]
pub struct Interaction {
    /// Discord's id of this interaction (the event's delivery id).
    pub id: String,
    /// Who asked; `None` outside a server (a direct message), where no role can be checked.
    pub member: Option<Member>,
    /// What was asked for, or what is wrong with it (a sentence for the member).
    pub command: Result<Command, String>,
    /// The event to store: the signed document, with the sync job `/helix sync` asks for.
    pub event: Inbound,
}

/// What a member asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `/helix sync [scope] [repo]`: the sync is the event's job; `what` says what it covers.
    Sync { what: String },
    /// `/helix status`: the health summary.
    Status,
    /// `/helix history [limit]`: the last runs.
    History { limit: i64 },
    /// `/helix rollback <run>`: publish run `run`'s state again.
    Rollback { run: String },
}

impl Command {
    /// The subcommand's name (a metric label).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Sync { .. } => "sync",
            Command::Status => "status",
            Command::History { .. } => "history",
            Command::Rollback { .. } => "rollback",
        }
    }
}

/// Builds the [`Interaction`] of a verified slash command.
fn interaction(
    config: &Config,
    headers: &HeaderMap,
    envelope: Envelope,
    payload: Compressed,
    now: i64,
) -> Result<Interaction, IngestError> {
    if envelope.id.is_empty() || envelope.id.len() > 200 {
        return Err(IngestError::BadRequest(
            "the interaction id is empty or too long".into(),
        ));
    }
    let data = envelope.data.ok_or_else(|| {
        IngestError::BadRequest("a slash command interaction needs `data`".into())
    })?;
    let parsed = parse(config, &data);
    let subcommand = parsed.as_ref().map_or("invalid", |(c, _)| c.name());
    let (command, route) = match parsed {
        Ok((command, route)) => (Ok(command), route),
        Err(why) => (Err(why), None),
    };
    let job = match (route, &envelope.member) {
        (Some((scope, sources)), Some(member)) => TriggerRequest {
            sources,
            targets: None,
        }
        .into_sync(Trigger::Discord {
            member: member.label(),
        })
        .map(|job| JobPayload::Sync(crate::queue::SyncJob { scope, ..job }))
        .ok(),
        _ => None,
    };
    let repo = match &job {
        Some(JobPayload::Sync(crate::queue::SyncJob {
            scope: SyncScope::Repo { repo },
            ..
        })) => Some(repo.clone()),
        _ => None,
    };
    let event = Inbound {
        source: Discord::SOURCE,
        delivery_id: envelope.id.clone(),
        event_type: format!("command.{subcommand}"),
        hook_id: None,
        repo,
        headers: keep_headers(headers, &[TIMESTAMP_HEADER, "user-agent"]),
        payload,
        received_at: now,
        job,
    };
    Ok(Interaction {
        id: envelope.id,
        member: envelope.member,
        command,
        event,
    })
}

/// The job a stored interaction asks for under today's rules (replay): `/helix sync`'s sync,
/// or none.
pub fn job_for(config: &Config, stored: &[u8]) -> Result<Option<JobPayload>, IngestError> {
    let envelope: Envelope = serde_json::from_slice(stored)
        .map_err(|e| IngestError::BadRequest(format!("stored interaction: {e}")))?;
    if envelope.kind != APPLICATION_COMMAND {
        return Ok(None);
    }
    let stored = interaction(config, &HeaderMap::new(), envelope, Compressed::new(""), 0)?;
    Ok(stored.event.job)
}

/// What a sync covers: its scope and its sources (`None`: every enabled one).
type Route = (SyncScope, Option<Vec<String>>);

/// The command and, for `/helix sync`, what it covers; `Err` says what is wrong, for the
/// member.
fn parse(config: &Config, data: &Data) -> Result<(Command, Option<Route>), String> {
    if data.name != COMMAND {
        return Err(format!(
            "unknown command /{}; this bot has /{COMMAND}",
            crate::queue::truncate(&data.name, 40)
        ));
    }
    let sub = match data.options.as_slice() {
        [sub] if sub.kind == SUB_COMMAND => sub,
        _ => {
            return Err(format!(
                "/{COMMAND} needs one of: {}",
                SUBCOMMANDS.join(", ")
            ))
        }
    };
    let options = Options(&sub.options);
    match sub.name.as_str() {
        "sync" => {
            let scope = options.text("scope")?;
            let repo = options.text("repo")?;
            let route = sync_route(config, scope, repo)?;
            let what = match (&route.0, scope) {
                (SyncScope::Repo { repo }, _) => format!("a sync of {repo}"),
                (SyncScope::Full, None | Some("full")) => "a full sync".to_owned(),
                (SyncScope::Full, Some(scope)) => format!("a sync of {scope}"),
            };
            Ok((Command::Sync { what }, Some(route)))
        }
        "status" => Ok((Command::Status, None)),
        "history" => {
            let limit = options.integer("limit")?.unwrap_or(HISTORY_DEFAULT);
            if !(1..=HISTORY_MAX).contains(&limit) {
                return Err(format!("limit must be between 1 and {HISTORY_MAX}"));
            }
            Ok((Command::History { limit }, None))
        }
        "rollback" => {
            let run = options
                .text("run")?
                .map(str::trim)
                .filter(|r| !r.is_empty() && r.len() <= 64)
                .ok_or("rollback needs the id of a run (see /helix history)")?;
            Ok((
                Command::Rollback {
                    run: run.to_owned(),
                },
                None,
            ))
        }
        other => Err(format!(
            "unknown subcommand {:?}; valid: {}",
            crate::queue::truncate(other, 40),
            SUBCOMMANDS.join(", ")
        )),
    }
}

/// `scope` and `repo` of `/helix sync` as a scope and sources, each checked against what
/// exists here.
fn sync_route(config: &Config, scope: Option<&str>, repo: Option<&str>) -> Result<Route, String> {
    let names = || SCOPES.map(|(n, _)| n).join(", ");
    let sources = match scope {
        None => None,
        Some(s) => match SCOPES.iter().find(|(name, _)| *name == s) {
            Some((_, source)) => source.map(|s| vec![s.to_owned()]),
            None => {
                let s = crate::queue::truncate(s, 40);
                return Err(format!("unknown scope {s:?}; valid: {}", names()));
            }
        },
    };
    let Some(repo) = repo.map(str::trim) else {
        return Ok((SyncScope::Full, sources));
    };
    if !matches!(scope, None | Some("repos")) {
        return Err("repo goes with scope repos (or no scope)".into());
    }
    if !repo.contains('/') || !config.github_repos.selects(repo) {
        let valid = if config.github_repos.is_empty() {
            "none is configured (GITHUB_REPOS)".to_owned()
        } else {
            format!(
                "GITHUB_REPOS selects {}",
                config.github_repos.texts().join(", ")
            )
        };
        let repo = crate::queue::truncate(repo, 100);
        return Err(crate::queue::truncate(
            &format!("unknown repo {repo:?}; {valid}"),
            1500,
        ));
    }
    Ok((
        SyncScope::Repo {
            repo: repo.to_owned(),
        },
        Some(vec!["github".into()]),
    ))
}

/// A subcommand's options, by name.
struct Options<'a>(&'a [CommandOption]);

impl Options<'_> {
    fn value(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|o| o.name == name)?.value.as_ref()
    }

    fn text(&self, name: &str) -> Result<Option<&str>, String> {
        self.value(name)
            .map(|v| v.as_str().ok_or(format!("{name} must be text")))
            .transpose()
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, String> {
        self.value(name)
            .map(|v| v.as_i64().ok_or(format!("{name} must be a whole number")))
            .transpose()
    }
}

#[cfg(test)]
mod tests;
