//! The GitHub source: the repositories `GITHUB_REPOS` names or finds (`discover`), each
//! included resource fetched incrementally from its stored cursor, as a personal token or
//! as the GitHub App installation the repository belongs to (`auth`).
//!
//! A full cycle first asks which repositories changed at all (`markers`: one GraphQL query
//! per hundred) and reads only those; a repository whose marker did not move keeps its data
//! and costs nothing more. Each (repository, resource) is fetched on its own, so one failing
//! resource costs only itself: the rest is merged and their cursors move, and the failure is
//! reported (the run becomes `partial`). A rate limit GitHub answers stops the whole source,
//! because the run will be retried after the reset anyway; a budget down to its reserve
//! (`budget`) stops the cycle early instead, as a `partial` run that resumes at the reset.
//! Cursors are used only for repositories the previous snapshot holds; otherwise the data
//! they point past would be missing. A repository a full cycle no longer covers (removed from
//! the installation, excluded, archived) leaves the snapshot, and its cursors and ETags go
//! with it.

mod auth;
mod budget;
mod client;
mod discover;
mod events;
mod markers;
mod model;
mod resources;

pub use auth::{Auth, Installation};
pub use budget::{Budget, Budgets, KV_PREFIX as BUDGET_KV_PREFIX};
pub use client::GithubError;
pub use discover::Found;
pub use resources::Resource;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use futures::future::join_all;

use super::{Source, SourceContext, SourceData, SourceError};
use crate::config::{Config, GithubSource as Settings, RepoSelection};
use crate::queue::SyncScope;
use crate::store::{now_ms, CursorRow};
use crate::sync::snapshot::{Commit, Deployment, Issue, PullRequest, Release, RepoStats};
use client::Client;
use resources::Fetched;

/// What the GitHub source keeps across cycles, for the life of the process: who it asks as
/// (and the App's installation tokens) and each token's budget.
pub struct GithubState {
    pub auth: Auth,
    pub budgets: Budgets,
}

impl GithubState {
    pub fn from_config(config: &Config, http: reqwest::Client) -> Self {
        let auth = Auth::new(
            config.github_app.as_ref(),
            config.secrets.github_token.as_ref(),
            http,
            &config.github_api_url,
        )
        .unwrap_or_else(|e| {
            // Config checked the key at start; this cannot happen, and is loud if it does.
            tracing::error!(error = %e, "GitHub App credentials unusable; reading anonymously");
            Auth::Anonymous
        });
        Self {
            auth,
            budgets: Budgets::default(),
        }
    }
}

/// What one run fetched for one repository; `None` = unchanged (304) or not included.
#[derive(Debug, Clone, Default)]
pub struct RepoFetch {
    pub stats: Option<RepoStats>,
    pub commits: Option<Vec<Commit>>,
    pub issues: Option<Vec<Issue>>,
    pub pulls: Option<Vec<PullRequest>>,
    pub releases: Option<Vec<Release>>,
    pub deployments: Option<Vec<Deployment>>,
    /// Deployment states reported by `deployment_status` webhooks.
    pub deployment_states: BTreeMap<u64, String>,
}

impl RepoFetch {
    fn put(&mut self, f: Fetched) {
        match f {
            Fetched::Commits(v) => self.commits = Some(v),
            Fetched::Issues(v) => self.issues = Some(v),
            Fetched::Pulls(v) => self.pulls = Some(v),
            Fetched::Releases(v) => self.releases = Some(v),
            Fetched::Deployments(v) => self.deployments = Some(v),
            Fetched::Stats(s) => self.stats = Some(s),
        }
    }
}

pub struct GithubSource {
    selection: RepoSelection,
    settings: Settings,
    include: Vec<Resource>,
    api_url: String,
}

impl GithubSource {
    /// `None` when switched off or no repository is configured.
    pub fn from_config(config: &Config) -> Option<Self> {
        let c = &config.file.sources.github;
        (c.enabled && !config.github_repos.is_empty()).then(|| Self {
            selection: config.github_repos.clone(),
            settings: c.clone(),
            include: Resource::ALL
                .into_iter()
                .filter(|r| c.include.iter().any(|i| i == r.name()))
                .collect(),
            api_url: config.github_api_url.clone(),
        })
    }

    /// The repositories this job covers: every one the selection finds for a full sync; the
    /// named one, when selected, for a repository sync (with the installation its webhook
    /// named, else the one discovery finds).
    async fn targets(
        &self,
        cx: &SourceContext<'_>,
        client: &Client,
        hint: Option<u64>,
        now: i64,
    ) -> Result<Vec<Found>, GithubError> {
        let store = &cx.deps.store;
        match &cx.job.scope {
            SyncScope::Full => {
                discover::discover(client, store, &self.selection, &self.settings, now).await
            }
            SyncScope::Repo { repo } if !self.selection.selects(repo) => {
                tracing::warn!(
                    repo,
                    "repository is not selected by GITHUB_REPOS; nothing to sync"
                );
                Ok(Vec::new())
            }
            SyncScope::Repo { repo } => {
                let mut installation = hint;
                if installation.is_none() && client.state().auth.is_app() {
                    let all =
                        discover::discover(client, store, &self.selection, &self.settings, now)
                            .await?;
                    installation = all
                        .iter()
                        .find(|f| f.full_name.eq_ignore_ascii_case(repo))
                        .and_then(|f| f.installation);
                }
                Ok(vec![Found {
                    full_name: repo.clone(),
                    installation,
                    node_id: None,
                    archived: false,
                    fork: false,
                }])
            }
        }
    }
}

#[async_trait]
impl Source for GithubSource {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn collect(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError> {
        let read = self.read(cx).await;
        // Whatever the outcome: a cycle stopped by its budget is when it matters most.
        publish_budgets(cx, now_ms()).await;
        read
    }
}

impl GithubSource {
    /// One cycle's reads (see the module docs).
    async fn read(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError> {
        let store = &cx.deps.store;
        let unavailable =
            |e: crate::store::StoreError| SourceError::Unavailable(format!("store: {e}"));
        let client = Client::new(
            cx.deps.http.clone(),
            &self.api_url,
            cx.deps.github.clone(),
            self.settings.max_in_flight,
            self.settings.rate_reserve,
        );
        let now = now_ms();
        let job_events = match (&cx.job.scope, cx.job_id) {
            (SyncScope::Repo { .. }, Some(id)) => {
                store.events_for_job(id).await.map_err(unavailable)?
            }
            _ => Vec::new(),
        };
        let hint = events::installation(&job_events);
        let targets = self.targets(cx, &client, hint, now).await?;
        let full = cx.job.scope == SyncScope::Full;

        let mut stored: BTreeMap<String, Vec<CursorRow>> = BTreeMap::new();
        for c in store.cursors_all().await.map_err(unavailable)? {
            stored
                .entry(c.repo.to_ascii_lowercase())
                .or_default()
                .push(c);
        }
        let known = |repo: &str| cx.previous.is_some_and(|p| p.repos.contains_key(repo));
        // Change markers: a full cycle reads only the repositories that changed.
        let markers = if full && self.settings.change_markers == "graphql" {
            let asked: Vec<&Found> = targets.iter().collect();
            markers::fetch(&client, &asked).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "change markers unavailable; reading every repository");
                BTreeMap::new()
            })
        } else {
            BTreeMap::new()
        };
        // What is read is part of the marker: a resource added to `include` later moves every
        // marker, so each repository is read once for it instead of skipped as unchanged.
        let included: Vec<&str> = self.include.iter().map(|r| r.name()).collect();
        let markers: BTreeMap<String, String> = markers
            .into_iter()
            .map(|(repo, m)| (repo, format!("{}|{m}", included.join(","))))
            .collect();
        let marker_of = |repo: &str| markers.get(&repo.to_ascii_lowercase());
        let unchanged = |t: &Found| {
            known(&t.full_name)
                && marker_of(&t.full_name).is_some_and(|m| {
                    stored
                        .get(&t.full_name.to_ascii_lowercase())
                        .into_iter()
                        .flatten()
                        .any(|c| {
                            c.resource == markers::RESOURCE && c.position.as_deref() == Some(m)
                        })
                })
        };
        let read: Vec<&Found> = targets.iter().filter(|t| !unchanged(t)).collect();

        let mut data = SourceData::default();
        let mut tasks = Vec::new();
        for target in &read {
            let repo = &target.full_name;
            let cursors: BTreeMap<&str, &CursorRow> = if known(repo) {
                stored
                    .get(&repo.to_ascii_lowercase())
                    .into_iter()
                    .flatten()
                    .map(|c| (c.resource.as_str(), c))
                    .collect()
            } else {
                BTreeMap::new()
            };
            // A push's commits stand in for the commits request only where the snapshot
            // already holds the repository's history; a repository seen first reads it all.
            let mut from_events = events::from_events(repo, &job_events);
            if !known(repo) {
                from_events.commits = None;
            }
            let entry = data.repos.entry(repo.clone()).or_default();
            entry.deployment_states = from_events.deployment_states;
            for resource in &self.include {
                if *resource == Resource::Commits && from_events.commits.is_some() {
                    continue;
                }
                let cursor = cursors.get(resource.name()).copied();
                let client = &client;
                let installation = target.installation;
                tasks.push(async move {
                    let repo_client = client.repo(installation);
                    (
                        repo,
                        resources::fetch(&repo_client, repo, *resource, cursor, now).await,
                    )
                });
            }
            if let Some(pushed) = from_events
                .commits
                .filter(|_| self.include.contains(&Resource::Commits))
            {
                data.items += pushed.len() as u64;
                entry.commits = Some(pushed);
            }
        }

        let mut failures: Vec<GithubError> = Vec::new();
        let mut failed_repos: BTreeSet<&str> = BTreeSet::new();
        let mut succeeded = 0;
        for (repo, result) in join_all(tasks).await {
            match result {
                Ok(fetched) => {
                    succeeded += 1;
                    if let Some((f, cursor)) = fetched {
                        data.items += f.len() as u64;
                        data.repos.get_mut(repo).expect("entry made above").put(f);
                        data.cursors.push(cursor);
                    }
                }
                Err(e) => {
                    failed_repos.insert(repo.as_str());
                    failures.push(e);
                }
            }
        }
        if let Some(limited) = failures
            .iter()
            .filter(|e| e.retry_at().is_some() && !e.is_budget())
            .max_by_key(|e| e.retry_at())
        {
            return Err(limited.clone().into());
        }
        // A read repository's marker moves only when every one of its reads succeeded.
        for t in &read {
            if let (Some(m), false) = (
                marker_of(&t.full_name),
                failed_repos.contains(t.full_name.as_str()),
            ) {
                data.cursors.push(CursorRow {
                    repo: t.full_name.clone(),
                    resource: markers::RESOURCE.into(),
                    position: Some(m.clone()),
                    etag: None,
                    updated_at: now,
                });
            }
        }
        if full {
            let covered: BTreeSet<String> = targets
                .iter()
                .map(|t| t.full_name.to_ascii_lowercase())
                .collect();
            data.forget = stored
                .keys()
                .filter(|r| !covered.contains(*r))
                .cloned()
                .collect();
            data.repos_in_scope = Some(targets.iter().map(|t| t.full_name.clone()).collect());
        }
        // A budget down to its reserve: stop early, say which, and resume at its reset.
        let (spent, other): (Vec<&GithubError>, Vec<&GithubError>) =
            failures.iter().partition(|e| e.is_budget());
        if let Some(first) = spent.iter().max_by_key(|e| e.retry_at()) {
            data.resume_at = first.retry_at();
            data.errors.push(format!(
                "{first}; {} request(s) of this cycle were not made and resume then",
                spent.len()
            ));
        }
        if succeeded == 0 && !other.is_empty() && spent.is_empty() {
            return Err(other[0].clone().into());
        }
        // A repository none of whose resources could be read keeps its previous data.
        data.errors.extend(other.iter().map(|e| e.to_string()));
        (data.requests, data.not_modified) = client.counts();
        metrics::counter!("helix_github_repositories_unchanged_total")
            .increment((targets.len() - read.len()) as u64);
        Ok(data)
    }
}

/// Publishes every budget this process knows through the store, so `/health`, `/metrics` and
/// the console of every replica show it. A failure only leaves an older figure in sight.
async fn publish_budgets(cx: &SourceContext<'_>, now: i64) {
    for b in cx.deps.github.budgets.all() {
        let text = serde_json::to_string(&b).expect("a budget serializes");
        if let Err(e) = cx.deps.store.kv_set(&b.key(), &text, now).await {
            tracing::warn!(error = %e, "could not publish a GitHub rate budget");
        }
    }
}
