//! What a sync job covers: which sources run and which publish targets get a delivery.
//!
//! Decided from the configuration and the job alone (no I/O), so the rules are unit-tested
//! here rather than through whole runs.

use super::snapshot::SourceStatus;
use crate::config::Config;
use crate::queue::{SyncJob, SyncScope};

/// A source status with no counts.
pub fn status(word: &str, error: Option<String>) -> SourceStatus {
    SourceStatus {
        status: word.to_owned(),
        error,
        ..SourceStatus::disabled()
    }
}

/// Whether `job` asks for source `name`: a repository-scoped job only syncs GitHub.
pub fn wants(job: &SyncJob, name: &str) -> bool {
    let in_scope = match job.scope {
        SyncScope::Full => true,
        SyncScope::Repo { .. } => name == "github",
    };
    in_scope
        && job
            .sources
            .as_ref()
            .is_none_or(|l| l.iter().any(|s| s == name))
}

/// The job's publish targets, each with whether it is configured on.
pub fn publish_targets(config: &Config, job: &SyncJob) -> Vec<(&'static str, bool)> {
    // Whether a target is configured is the publisher's own knowledge; the job only narrows.
    super::publishers::targets(config)
        .into_iter()
        .filter(|(t, _)| {
            job.targets
                .as_ref()
                .is_none_or(|l| l.iter().any(|x| x == t))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Trigger;

    fn job(scope: SyncScope, sources: Option<&[&str]>, targets: Option<&[&str]>) -> SyncJob {
        let list = |l: Option<&[&str]>| l.map(|l| l.iter().map(|s| s.to_string()).collect());
        SyncJob {
            scope,
            sources: list(sources),
            targets: list(targets),
            trigger: Trigger::Manual,
        }
    }

    #[test]
    fn repo_scope_only_syncs_github_and_filters_apply() {
        let repo = job(SyncScope::Repo { repo: "o/r".into() }, None, None);
        assert!(wants(&repo, "github") && !wants(&repo, "ucf_state"));
        let some = job(SyncScope::Full, Some(&["ucf_state"]), None);
        assert!(wants(&some, "ucf_state") && !wants(&some, "github"));
        assert!(wants(&job(SyncScope::Full, None, None), "agent_metrics"));
    }

    #[test]
    fn targets_need_their_switch_and_credentials() {
        let mut env: std::collections::HashMap<String, String> = [(
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        )]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
        let c = Config::load(&env).unwrap();
        let all = publish_targets(&c, &job(SyncScope::Full, None, None));
        assert_eq!(
            all,
            [("discord", false), ("notion", false), ("portal", true)]
        );
        env.insert(
            "DISCORD_SYNC_WEBHOOK".into(),
            "https://discord.example/api/webhooks/1/t".into(),
        );
        env.insert("NOTION_API_KEY".into(), "k".into());
        let c = Config::load(&env).unwrap();
        let all = publish_targets(&c, &job(SyncScope::Full, None, None));
        assert_eq!(all[..2], [("discord", true), ("notion", false)]);
        let only = publish_targets(&c, &job(SyncScope::Full, None, Some(&["discord"])));
        assert_eq!(only, [("discord", true)]);
    }
}
