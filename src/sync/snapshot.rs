//! The normalised model of one sync: what every exporter and publisher reads.
//!
//! A `Snapshot` is the merged state after a run (the previous snapshot plus what the sources
//! fetched incrementally), not just the delta; the `ChangeSummary` is the delta. Every
//! collection is a `BTreeMap` or a `Vec` in a documented order so that the same snapshot always
//! serialises to the same bytes: exporters are golden-tested on that. Nothing here does I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Version of the snapshot / export JSON shape. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The six UCF metrics, in the order reports show them (named in `config`, which validates
/// `sources.ucf_state.metrics` against them).
pub use crate::config::UCF_METRICS;

/// Source names, as used in config, jobs, health and the API.
pub const SOURCE_NAMES: [&str; 3] = ["github", "ucf_state", "agent_metrics"];

/// Publish target names.
pub const TARGET_NAMES: [&str; 3] = ["discord", "notion", "portal"];

/// Commits kept per repository in a snapshot (newest first); older ones live in earlier snapshots.
pub const RECENT_COMMITS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    /// When the run that produced it collected its data.
    pub taken_at: DateTime<Utc>,
    /// Keyed by `owner/name`.
    pub repos: BTreeMap<String, RepoData>,
    /// `None` when the UCF source is disabled or has never succeeded.
    pub ucf: Option<UcfState>,
    /// Keyed by agent name.
    pub agents: BTreeMap<String, AgentData>,
    pub agent_totals: AgentTotals,
    /// Outcome of each source in this run, keyed by source name.
    pub sources: BTreeMap<String, SourceStatus>,
}

impl Snapshot {
    pub fn empty(taken_at: DateTime<Utc>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            taken_at,
            repos: BTreeMap::new(),
            ucf: None,
            agents: BTreeMap::new(),
            agent_totals: AgentTotals::default(),
            sources: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepoData {
    pub full_name: String,
    pub stats: Option<RepoStats>,
    /// Newest first, at most [`RECENT_COMMITS`].
    pub commits: Vec<Commit>,
    /// Ordered by number, descending. Pull requests are not here.
    pub issues: Vec<Issue>,
    /// Ordered by number, descending.
    pub pulls: Vec<PullRequest>,
    /// Newest first.
    pub releases: Vec<Release>,
    /// Newest first.
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepoStats {
    pub description: Option<String>,
    pub html_url: String,
    pub default_branch: String,
    pub stars: u64,
    pub forks: u64,
    pub open_issues: u64,
    /// Bytes of code per language.
    pub languages: BTreeMap<String, u64>,
    pub has_readme: bool,
    pub pushed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: String,
    pub date: DateTime<Utc>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    pub author: String,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    /// `open` or `closed` (a merged PR is `closed` with `merged_at`).
    pub state: String,
    pub author: String,
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    pub name: String,
    pub draft: bool,
    pub prerelease: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: u64,
    pub environment: String,
    pub git_ref: String,
    pub sha: String,
    pub creator: String,
    /// Latest known status (`success`, `failure`, …) when a webhook told us.
    pub state: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UcfState {
    /// The selected metrics, keyed by name (see [`UCF_METRICS`] for display order).
    pub metrics: BTreeMap<String, f64>,
    /// Derived from harmony: `HARMONIC` (> 0.7), `COHERENT` (> 0.3) or `FRAGMENTED`.
    pub status: String,
    pub timestamp: Option<String>,
    pub phase: Option<String>,
    /// Where the values came from: `file`, `url` or `ritual:<id>`.
    pub origin: String,
    /// Every other key of the source document, kept verbatim.
    pub extra: Map<String, Value>,
}

/// The status word for a harmony value.
pub fn harmony_status(harmony: f64) -> &'static str {
    if harmony > 0.7 {
        "HARMONIC"
    } else if harmony > 0.3 {
        "COHERENT"
    } else {
        "FRAGMENTED"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentData {
    pub name: String,
    pub emoji: Option<String>,
    pub role: Option<String>,
    pub layer: Option<String>,
    pub capabilities: Vec<String>,
    pub active: bool,
    pub memory_size: Option<u64>,
    pub last_heartbeat: Option<String>,
    pub tasks_total: u64,
    pub tasks_succeeded: u64,
    /// In [0, 1]; `None` without tasks.
    pub success_rate: Option<f64>,
    pub mean_duration_secs: Option<f64>,
    pub collaborations: u64,
    pub harmony_impact: Option<f64>,
    pub last_active: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTotals {
    pub agents: u64,
    pub active: u64,
    pub tasks_total: u64,
    pub tasks_succeeded: u64,
    pub collaborations: u64,
}

/// What one source did in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// `ok`, `error`, `disabled` or `skipped` (not asked for by this job, e.g. UCF in a
    /// repository-scoped sync; its data is carried over from the previous snapshot).
    pub status: String,
    pub error: Option<String>,
    /// Items fetched (new or updated) in this run.
    pub items: u64,
    /// HTTP requests made, and how many of them were answered 304.
    pub requests: u64,
    pub not_modified: u64,
}

impl SourceStatus {
    pub fn disabled() -> Self {
        Self {
            status: "disabled".into(),
            error: None,
            items: 0,
            requests: 0,
            not_modified: 0,
        }
    }
}

/// The difference between a run's snapshot and the one before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub repos: BTreeMap<String, RepoChanges>,
    /// One entry per metric present in both snapshots, in [`UCF_METRICS`] order.
    pub ucf: Vec<UcfDelta>,
    pub agents_activated: Vec<String>,
    pub agents_deactivated: Vec<String>,
    /// Change of each agent's task count (only non-zero entries).
    pub task_deltas: BTreeMap<String, i64>,
}

impl ChangeSummary {
    /// The repositories that changed, at most `n`: when more did, the busiest ones (by
    /// [`RepoChanges::weight`], then name). In name order, with how many were left out.
    pub fn changed_repos(&self, n: usize) -> (Vec<(&str, &RepoChanges)>, usize) {
        let mut changed: Vec<(&str, &RepoChanges)> = self
            .repos
            .iter()
            .filter(|(_, rc)| !rc.is_empty())
            .map(|(name, rc)| (name.as_str(), rc))
            .collect();
        let left_out = changed.len().saturating_sub(n);
        if left_out > 0 {
            changed.sort_by(|a, b| b.1.weight().cmp(&a.1.weight()).then(a.0.cmp(b.0)));
            changed.truncate(n);
            changed.sort_by(|a, b| a.0.cmp(b.0));
        }
        (changed, left_out)
    }

    /// `Agents activated: …` and `Agents deactivated: …`, each when its list is not empty.
    pub fn agent_state_lines(&self) -> Vec<String> {
        [
            ("Agents activated", &self.agents_activated),
            ("Agents deactivated", &self.agents_deactivated),
        ]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(label, names)| format!("{label}: {}", names.join(", ")))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.repos.values().all(RepoChanges::is_empty)
            && self.ucf.iter().all(|d| d.delta == 0.0)
            && self.agents_activated.is_empty()
            && self.agents_deactivated.is_empty()
            && self.task_deltas.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepoChanges {
    pub new_commits: u64,
    /// Distinct authors of the new commits, sorted.
    pub authors: Vec<String>,
    /// `(short sha, first line)` of the new commits, newest first, at most 20.
    pub commit_lines: Vec<(String, String)>,
    pub issues_opened: Vec<u64>,
    pub issues_closed: Vec<u64>,
    pub prs_opened: Vec<u64>,
    pub prs_closed: Vec<u64>,
    pub prs_merged: Vec<u64>,
    /// Tags of new releases.
    pub new_releases: Vec<String>,
    /// Ids of new deployments.
    pub new_deployments: Vec<u64>,
}

impl RepoChanges {
    /// The numbered lists (pull requests and issues) with their labels, in report order.
    pub fn numbered(&self) -> [(&'static str, &Vec<u64>); 5] {
        [
            ("PRs merged", &self.prs_merged),
            ("PRs opened", &self.prs_opened),
            ("PRs closed", &self.prs_closed),
            ("issues opened", &self.issues_opened),
            ("issues closed", &self.issues_closed),
        ]
    }

    /// How much happened: new commits plus every issue, pull request, release and
    /// deployment event. Ranks repositories when a report has room for only some.
    pub fn weight(&self) -> u64 {
        let numbered: usize = self.numbered().iter().map(|(_, ns)| ns.len()).sum();
        let items = numbered + self.new_releases.len() + self.new_deployments.len();
        self.new_commits + items as u64
    }

    pub fn is_empty(&self) -> bool {
        self.new_commits == 0
            && self.issues_opened.is_empty()
            && self.issues_closed.is_empty()
            && self.prs_opened.is_empty()
            && self.prs_closed.is_empty()
            && self.prs_merged.is_empty()
            && self.new_releases.is_empty()
            && self.new_deployments.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UcfDelta {
    pub metric: String,
    pub before: f64,
    pub after: f64,
    pub delta: f64,
    /// `up`, `down` or `same`.
    pub direction: String,
}
