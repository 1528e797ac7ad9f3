//! Jobs are data: a serde enum tagged by `type`, one struct per kind.
//!
//! The payload is what a worker needs to run the job and nothing else; the coalesce key is
//! derived from it so that two jobs that would do the same work merge while they wait.

use serde::{Deserialize, Serialize};

/// Every kind of job the workers run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobPayload {
    /// One sync cycle.
    Sync(SyncJob),
    /// Deliver one finished run to one publish target (its own retries and backoff).
    Publish(PublishJob),
    /// Edit a deferred Discord answer with what came of the command (see [`FollowupJob`]).
    DiscordFollowup(FollowupJob),
}

impl JobPayload {
    /// The `kind` column: a stable name per variant.
    pub fn kind(&self) -> &'static str {
        match self {
            JobPayload::Sync(_) => SyncJob::NAME,
            JobPayload::Publish(_) => PublishJob::NAME,
            JobPayload::DiscordFollowup(_) => FollowupJob::NAME,
        }
    }

    /// The publish target a job competes for (its concurrency, rate and breaker lane).
    pub fn lane(&self) -> Option<String> {
        match self {
            JobPayload::Sync(_) | JobPayload::DiscordFollowup(_) => None,
            JobPayload::Publish(p) => Some(p.target.clone()),
        }
    }

    /// Whether bursts of this job are debounced: syncs asked for by webhooks are; a sync
    /// someone asked for by hand or by schedule runs at once.
    pub fn debounced(&self) -> bool {
        matches!(
            self,
            JobPayload::Sync(SyncJob {
                trigger: Trigger::Webhook { .. } | Trigger::Ritual { .. },
                ..
            })
        )
    }

    /// Jobs with equal keys merge while queued and never run at the same time.
    pub fn coalesce_key(&self) -> Option<String> {
        match self {
            JobPayload::Sync(s) => Some(s.coalesce_key()),
            // One delivery per (run, target): never merged, and targets never wait on each other.
            JobPayload::Publish(p) => Some(format!("publish:{}:{}", p.run_id, p.target)),
            // One follow-up per interaction, however often it is asked for.
            JobPayload::DiscordFollowup(f) => {
                Some(format!("{}:{}", FollowupJob::NAME, f.interaction_id))
            }
        }
    }
}

/// What a sync covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncScope {
    /// Every configured repository and source.
    Full,
    /// One repository (a push or other repository event).
    Repo { repo: String },
}

/// Why a sync was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Webhook {
        event: String,
    },
    Ritual {
        event: String,
    },
    Manual,
    Schedule {
        schedule: String,
        fire_at: i64,
    },
    Cli,
    /// A Discord member's `/helix sync`; `member` is `<username> (<user id>)`.
    Discord {
        member: String,
    },
}

impl Trigger {
    /// Short label stored on the run.
    pub fn label(&self) -> String {
        match self {
            Trigger::Webhook { event } => format!("webhook:{event}"),
            Trigger::Ritual { event } => format!("ritual:{event}"),
            Trigger::Manual => "manual".into(),
            Trigger::Schedule { schedule, .. } => format!("schedule:{schedule}"),
            Trigger::Cli => "cli".into(),
            Trigger::Discord { member } => format!("discord:{member}"),
        }
    }
}

/// One sync cycle over a scope, optionally limited to some sources and targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncJob {
    pub scope: SyncScope,
    /// `None` = every enabled source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    /// `None` = every enabled target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    pub trigger: Trigger,
}

impl SyncJob {
    pub const NAME: &'static str = "sync";

    pub fn coalesce_key(&self) -> String {
        let mut key = match &self.scope {
            SyncScope::Full => "sync:full".to_owned(),
            SyncScope::Repo { repo } => format!("sync:repo:{repo}"),
        };
        let mut part = |name: &str, list: &Option<Vec<String>>| {
            if let Some(list) = list {
                let mut l = list.clone();
                l.sort();
                l.dedup();
                key.push_str(&format!(";{name}={}", l.join(",")));
            }
        };
        part("sources", &self.sources);
        part("targets", &self.targets);
        key
    }
}

/// Publish run `run_id` to `target` (its `deliveries` row holds the state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishJob {
    pub run_id: String,
    pub target: String,
}

impl PublishJob {
    pub const NAME: &'static str = "publish";
}

/// Edit the deferred answer of Discord interaction `interaction_id` with `report`, before its
/// token expires at `expires_at` (unix ms). The token itself is not here: it is read from the
/// stored interaction, event `event_id`, so no job view can show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowupJob {
    pub interaction_id: String,
    pub event_id: String,
    pub expires_at: i64,
    pub report: Report,
}

impl FollowupJob {
    pub const NAME: &'static str = "discord_followup";
}

/// What a follow-up edits the answer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    /// The result of sync job `job_id`'s run, once it finished (or that it still runs, when
    /// the token is about to expire).
    Job { job_id: String },
    /// A text known already (a rollback that outlived Discord's 3 seconds).
    Text { content: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_tagged_by_type() {
        let p = JobPayload::Sync(SyncJob {
            scope: SyncScope::Repo { repo: "o/r".into() },
            sources: None,
            targets: Some(vec!["discord".into()]),
            trigger: Trigger::Manual,
        });
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "sync");
        assert_eq!(v["scope"]["kind"], "repo");
        assert_eq!(serde_json::from_value::<JobPayload>(v).unwrap(), p);
    }

    #[test]
    fn coalesce_key_ignores_order_and_trigger() {
        let a = SyncJob {
            scope: SyncScope::Full,
            sources: Some(vec!["ucf_state".into(), "github".into()]),
            targets: None,
            trigger: Trigger::Manual,
        };
        let b = SyncJob {
            sources: Some(vec!["github".into(), "ucf_state".into()]),
            trigger: Trigger::Cli,
            ..a.clone()
        };
        assert_eq!(a.coalesce_key(), b.coalesce_key());
        assert_ne!(
            a.coalesce_key(),
            SyncJob {
                sources: None,
                ..a.clone()
            }
            .coalesce_key()
        );
    }
}
