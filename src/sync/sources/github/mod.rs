//! The GitHub source: every configured repository (or the one a webhook named), each
//! included resource fetched incrementally from its stored cursor.
//!
//! Each (repository, resource) is fetched on its own, so one failing resource costs only
//! itself: the rest is merged and their cursors move, and the failure is reported (the run
//! becomes `partial`). A rate limit anywhere stops the whole source, because the run will be
//! retried after the reset anyway. Cursors are used only for repositories the previous
//! snapshot holds; otherwise the data they point past would be missing.

mod client;
mod events;
mod model;
mod resources;

pub use client::GithubError;
pub use resources::Resource;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::future::join_all;

use super::{Source, SourceContext, SourceData, SourceError};
use crate::config::Config;
use crate::queue::SyncScope;
use crate::store::{now_ms, CursorRow};
use crate::sync::snapshot::{Commit, Deployment, Issue, PullRequest, Release, RepoStats};
use client::Client;
use resources::Fetched;

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
    repos: Vec<String>,
    include: Vec<Resource>,
    api_url: String,
    token: Option<crate::config::Secret>,
}

impl GithubSource {
    /// `None` when switched off or no repository is configured.
    pub fn from_config(config: &Config) -> Option<Self> {
        let c = &config.file.sources.github;
        (c.enabled && !config.github_repos.is_empty()).then(|| Self {
            repos: config.github_repos.clone(),
            include: Resource::ALL
                .into_iter()
                .filter(|r| c.include.iter().any(|i| i == r.name()))
                .collect(),
            api_url: config.github_api_url.clone(),
            token: config.secrets.github_token.clone(),
        })
    }

    /// The repositories this job covers, spelled as configured.
    fn repos_for(&self, scope: &SyncScope) -> Vec<String> {
        match scope {
            SyncScope::Full => self.repos.clone(),
            SyncScope::Repo { repo } => self
                .repos
                .iter()
                .filter(|r| r.eq_ignore_ascii_case(repo))
                .cloned()
                .collect(),
        }
    }
}

#[async_trait]
impl Source for GithubSource {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn collect(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError> {
        let store = &cx.deps.store;
        let unavailable =
            |e: crate::store::StoreError| SourceError::Unavailable(format!("store: {e}"));
        let repos = self.repos_for(&cx.job.scope);
        if repos.is_empty() {
            tracing::warn!(scope = ?cx.job.scope, "repository is not in GITHUB_REPOS; nothing to sync");
        }
        let job_events = match (&cx.job.scope, cx.job_id) {
            (SyncScope::Repo { .. }, Some(id)) => {
                store.events_for_job(id).await.map_err(unavailable)?
            }
            _ => Vec::new(),
        };
        let mut cursors: BTreeMap<(String, String), CursorRow> = BTreeMap::new();
        for repo in &repos {
            if cx.previous.is_some_and(|p| p.repos.contains_key(repo)) {
                for c in store.cursors_for(repo).await.map_err(unavailable)? {
                    cursors.insert((repo.clone(), c.resource.clone()), c);
                }
            }
        }

        let client = Client::new(cx.deps.http.clone(), &self.api_url, self.token.clone());
        let now = now_ms();
        let mut data = SourceData::default();
        let mut tasks = Vec::new();
        for repo in &repos {
            let known = events::from_events(repo, &job_events);
            let entry = data.repos.entry(repo.clone()).or_default();
            entry.deployment_states = known.deployment_states;
            for resource in &self.include {
                if *resource == Resource::Commits && known.commits.is_some() {
                    continue;
                }
                let cursor = cursors.get(&(repo.clone(), resource.name().to_owned()));
                let client = &client;
                tasks.push(async move {
                    (
                        repo,
                        resources::fetch(client, repo, *resource, cursor, now).await,
                    )
                });
            }
            if let Some(pushed) = known
                .commits
                .filter(|_| self.include.contains(&Resource::Commits))
            {
                data.items += pushed.len() as u64;
                entry.commits = Some(pushed);
            }
        }

        let mut failures: Vec<GithubError> = Vec::new();
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
                Err(e) => failures.push(e),
            }
        }
        if let Some(limited) = failures
            .iter()
            .filter(|e| e.retry_at().is_some())
            .max_by_key(|e| e.retry_at())
        {
            return Err(limited.clone().into());
        }
        if succeeded == 0 && !failures.is_empty() {
            return Err(failures.swap_remove(0).into());
        }
        // A repository none of whose resources could be read keeps its previous data.
        data.errors = failures.iter().map(ToString::to_string).collect();
        (data.requests, data.not_modified) = client.counts();
        Ok(data)
    }
}
