//! The Discord bot: slash commands over signed HTTP interactions, a front end over `service`
//! like the console and MCP. No gateway connection: Discord POSTs each interaction to
//! `POST /webhooks/discord`, which verifies and decodes it (`ingest::discord`) and hands the
//! slash commands to [`answer`].
//!
//! A member acts through the very service operations the API calls. Their Discord roles map
//! onto one of ours (`publishers.discord.command_roles`: operator, or viewer); a member with
//! no mapped role is refused, privately, and nothing is stored or queued. Otherwise they are a
//! [`Principal`] named `discord:<username> (<user id>)`, so the role checks, the audit log and
//! the run's trigger all name them. Each command the member may use is stored as an event
//! under its interaction id (visible and replayable in the console, deduplicated when Discord
//! delivers it again).
//!
//! Discord waits 3 seconds for an answer, and a sync takes longer. `/helix sync` stores the
//! interaction with its sync job (`service::trigger_event`, one commit), then queues the
//! follow-up job that will edit the answer with the run's result
//! (`sync::publishers::discord::followup`), and only then answers "thinking…" (deferred,
//! type 5): an acknowledged command always has its follow-up on disk, and a crash before the
//! answer leaves Discord with no answer rather than with a promise nobody keeps. Status and
//! history are answered at once, to the member only; a rollback at once when it is done
//! within [`ANSWER_WITHIN`], otherwise deferred and reported by a follow-up when it is.
//!
//! Nothing here touches the store or Discord's API, and nothing the member typed is echoed
//! with mentions enabled.

pub mod commands;
mod reply;

use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::{Principal, Role};
use crate::config::CommandRoles;
use crate::ingest::discord::{Command, Interaction, Member};
use crate::ingest::{Inbound, IngestError};
use crate::queue::{FollowupJob, Report};
use crate::service::{self, App, ServiceError};

/// How long an interaction's token lasts: its answer can be edited for this long.
pub const TOKEN_LIFE_MS: i64 = 15 * 60 * 1000;
/// How long a rollback's answer waits for the rollback before it is deferred (Discord
/// allows 3 seconds in all).
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2_000);

/// Discord's interaction response types.
const MESSAGE: u64 = 4;
const DEFERRED: u64 = 5;
/// The message flag that shows it to the member who asked only.
const EPHEMERAL: u64 = 1 << 6;

/// Discord's response to a verified slash command (answered 200). Counted in
/// `helix_discord_interactions_total{command, outcome}`.
pub async fn answer(app: &App, interaction: Interaction) -> Value {
    let command = interaction
        .command
        .as_ref()
        .map_or("invalid", Command::name);
    let (outcome, response) = match respond(app, interaction).await {
        Ok(answered) => answered,
        Err(e) => refusal(e),
    };
    metrics::counter!("helix_discord_interactions_total", "command" => command, "outcome" => outcome)
        .increment(1);
    response
}

/// The outcome label and the response.
type Answered = (&'static str, Value);

async fn respond(app: &App, i: Interaction) -> Result<Answered, ServiceError> {
    let Some(member) = &i.member else {
        return Ok(("refused", ephemeral("Use /helix in a server: roles decide what you may do, and a direct message has none.")));
    };
    let Some(who) = principal(&app.config.file.publishers.discord.command_roles, member) else {
        return Ok((
            "refused",
            ephemeral("None of your roles may use helix-sync. An admin maps Discord roles in publishers.discord.command_roles."),
        ));
    };
    let command = match i.command {
        Ok(c) => c,
        Err(why) => return Ok(("invalid", ephemeral(&why))),
    };
    match command {
        Command::Sync { what } => sync(app, &who, i.id, i.event, &what).await,
        Command::Status => {
            who.require(Role::Viewer)?;
            service::record(app, i.event).await?;
            let health = service::status(app).await;
            Ok(("answered", ephemeral(&reply::status(&health, &app.config))))
        }
        Command::History { limit } => {
            who.require(Role::Viewer)?;
            service::record(app, i.event).await?;
            let runs = service::history(app, limit).await?;
            Ok(("answered", ephemeral(&reply::history(&runs))))
        }
        Command::Rollback { run } => rollback(app, who, i.id, i.event, run).await,
    }
}

/// The member as a principal: operator when any of their roles is an operator role, else
/// viewer when any is a viewer role; `None` when none is mapped.
fn principal(roles: &CommandRoles, member: &Member) -> Option<Principal> {
    let role = if CommandRoles::grants(&roles.operator, &member.roles) {
        Role::Operator
    } else if CommandRoles::grants(&roles.viewer, &member.roles) {
        Role::Viewer
    } else {
        return None;
    };
    Some(Principal::discord(
        &member.user.username,
        &member.user.id,
        role,
    ))
}

/// `/helix sync`: stores the interaction with its sync, queues the follow-up, then defers.
async fn sync(
    app: &App,
    who: &Principal,
    interaction: String,
    event: Inbound,
    what: &str,
) -> Result<Answered, ServiceError> {
    let expires_at = event.received_at + TOKEN_LIFE_MS;
    let outcome = service::trigger_event(app, who, event).await?;
    let job_id = outcome
        .job_id
        .ok_or_else(|| ServiceError::Internal("a stored sync interaction has no job".into()))?;
    // Asked again on a redelivery too: it joins the waiting follow-up, or edits the same
    // answer once more.
    service::follow_up(
        app,
        FollowupJob {
            interaction_id: interaction,
            event_id: outcome.id,
            expires_at,
            report: Report::Job { job_id },
        },
    )
    .await?;
    tracing::info!(actor = %who.actor(), what, "Discord sync queued");
    let outcome = if outcome.duplicate {
        "duplicate"
    } else {
        "queued"
    };
    Ok((outcome, json!({"type": DEFERRED})))
}

/// `/helix rollback`: done in a task of its own (a client that hangs up cannot cut it
/// short), answered when it is done within [`ANSWER_WITHIN`], otherwise deferred and
/// reported by a follow-up.
async fn rollback(
    app: &App,
    who: Principal,
    interaction: String,
    event: Inbound,
    run: String,
) -> Result<Answered, ServiceError> {
    who.require(Role::Operator)?;
    let expires_at = event.received_at + TOKEN_LIFE_MS;
    let stored = service::record(app, event).await?;
    if stored.duplicate {
        return Ok((
            "duplicate",
            ephemeral(
                "This rollback was asked for already (Discord sent it twice); see /helix history.",
            ),
        ));
    }
    let task = {
        let app = app.clone();
        tokio::spawn(async move { service::rollback::requested(&app, &who, &run).await })
    };
    let mut task = task;
    if let Ok(done) = tokio::time::timeout(ANSWER_WITHIN, &mut task).await {
        let outcome = done.map_err(|e| ServiceError::Internal(format!("rollback task: {e}")))??;
        return Ok(("answered", public(&reply::rollback(&outcome))));
    }
    let app = app.clone();
    tokio::spawn(async move {
        let content = match task.await {
            Ok(Ok(outcome)) => reply::rollback(&outcome),
            Ok(Err(e)) => explain(e).1,
            Err(e) => format!("The rollback failed: {e}"),
        };
        let followup = FollowupJob {
            interaction_id: interaction,
            event_id: stored.id,
            expires_at,
            report: Report::Text { content },
        };
        if let Err(e) = service::follow_up(&app, followup).await {
            tracing::error!(error = %e, "could not queue the rollback's Discord follow-up");
        }
    });
    Ok(("deferred", json!({"type": DEFERRED})))
}

/// What a member is told when an operation refused or failed, privately.
fn refusal(e: ServiceError) -> Answered {
    let (outcome, text) = explain(e);
    (outcome, ephemeral(&text))
}

/// The outcome label of a refusal or failure, and what the member is told of it (our own
/// failures are logged, not shown).
fn explain(e: ServiceError) -> (&'static str, String) {
    match e {
        ServiceError::Forbidden(m) | ServiceError::Ingest(IngestError::Forbidden(m)) => {
            ("forbidden", m)
        }
        ServiceError::BadRequest(m)
        | ServiceError::NotFound(m)
        | ServiceError::Conflict(m)
        | ServiceError::Ingest(IngestError::BadRequest(m)) => ("invalid", m),
        other => {
            tracing::error!(error = %other, "a Discord command failed");
            (
                "failed",
                "helix-sync could not do that just now (the cause is in its log); try again \
                 in a moment."
                    .into(),
            )
        }
    }
}

/// A message only the member who asked sees.
fn ephemeral(text: &str) -> Value {
    message(text, EPHEMERAL)
}

/// A message everyone in the channel sees.
fn public(text: &str) -> Value {
    message(text, 0)
}

fn message(text: &str, flags: u64) -> Value {
    use crate::sync::publishers::limits::{discord::CONTENT, truncate};
    json!({
        "type": MESSAGE,
        "data": {
            "content": truncate(text, CONTENT),
            "flags": flags,
            "allowed_mentions": {"parse": []},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::discord::User;

    fn member(roles: &[&str]) -> Member {
        Member {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            user: User {
                id: "1".into(),
                username: "ada".into(),
            },
        }
    }

    #[test]
    fn the_highest_mapped_role_wins_and_unmapped_members_are_nobody() {
        let roles = CommandRoles {
            operator: vec!["10".into()],
            viewer: vec!["20".into()],
        };
        let p = principal(&roles, &member(&["20", "10"])).unwrap();
        assert_eq!(
            (p.role, p.name.as_str()),
            (Role::Operator, "discord:ada (1)")
        );
        assert_eq!(p.actor(), "discord:ada (1)");
        assert_eq!(
            principal(&roles, &member(&["20"])).unwrap().role,
            Role::Viewer
        );
        assert!(principal(&roles, &member(&["30"])).is_none());
        assert!(principal(&CommandRoles::default(), &member(&["10"])).is_none());
    }

    #[test]
    fn answers_fit_discord_and_mention_nobody() {
        let m = ephemeral(&"@everyone ".repeat(500));
        assert_eq!(m["data"]["flags"], 64);
        assert_eq!(m["data"]["allowed_mentions"]["parse"], json!([]));
        assert!(m["data"]["content"].as_str().unwrap().chars().count() <= 2000);
        let (outcome, r) = refusal(ServiceError::Forbidden("no".into()));
        assert_eq!(
            (outcome, r["data"]["flags"].as_u64()),
            ("forbidden", Some(64))
        );
    }
}
