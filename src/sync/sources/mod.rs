//! Sources: where a sync cycle's data comes from, one file per source behind [`Source`].
//!
//! A source fetches what changed since the cursors in the store and returns it as
//! [`SourceData`]: data to merge plus the cursors it *would* move. It never writes to the
//! store (the cycle commits data and cursors together in `finish_run`, so a failed run cannot
//! skip anything) and never decides the run's status. Adding a source is one file plus one
//! line in [`build`].

pub mod agents;
pub mod github;
pub mod ucf;

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::snapshot::{AgentData, AgentTotals, Snapshot, UcfState};
use super::SyncDeps;
use crate::config::Config;
use crate::queue::{JobError, SyncJob};
use crate::store::CursorRow;

/// What a source may read while collecting.
pub struct SourceContext<'a> {
    pub deps: &'a SyncDeps,
    pub job: &'a SyncJob,
    /// The queue job being run (its events carry webhook payloads), if any.
    pub job_id: Option<&'a str>,
    /// The last stored snapshot; `None` means "fetch everything, ignore cursors".
    pub previous: Option<&'a Snapshot>,
}

/// One source of a sync cycle.
#[async_trait]
pub trait Source: Send + Sync {
    /// One of [`super::snapshot::SOURCE_NAMES`].
    fn name(&self) -> &'static str;
    async fn collect(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError>;
}

/// What a source fetched. Only the part matching the source is set.
#[derive(Debug, Clone, Default)]
pub struct SourceData {
    pub repos: BTreeMap<String, github::RepoFetch>,
    pub ucf: Option<UcfState>,
    pub agents: Option<(BTreeMap<String, AgentData>, AgentTotals)>,
    /// Cursors to store if (and only if) the run's snapshot is stored.
    pub cursors: Vec<CursorRow>,
    /// Repositories whose cursors go with the run (no longer covered).
    pub forget: Vec<String>,
    /// Every repository a full sync covers (the GitHub source): the snapshot holds exactly
    /// these. `None` for other sources and repository syncs.
    pub repos_in_scope: Option<Vec<String>>,
    /// When a budget stopped the source early: the same sync runs again then (unix ms).
    pub resume_at: Option<i64>,
    /// Non-fatal failures (e.g. one repository of several); the run becomes `partial`.
    pub errors: Vec<String>,
    pub items: u64,
    pub requests: u64,
    pub not_modified: u64,
}

/// Why a source produced nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Github(#[from] github::GithubError),
    /// The data is there but wrong (out-of-range metric, malformed JSON): names key and value.
    #[error("{0}")]
    Invalid(String),
    /// The file or URL does not exist (404, no such file).
    #[error("{0}")]
    Missing(String),
    /// Network, I/O or a 5xx: worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

impl SourceError {
    /// The same error with any secret the upstream quoted back scrubbed.
    pub fn redacted(self, r: &crate::config::Redactor) -> Self {
        match self {
            SourceError::Github(g) => SourceError::Github(g.redacted(r)),
            SourceError::Invalid(m) => SourceError::Invalid(r.redact(&m)),
            SourceError::Missing(m) => SourceError::Missing(r.redact(&m)),
            SourceError::Unavailable(m) => SourceError::Unavailable(r.redact(&m)),
        }
    }

    /// Unix ms the upstream asked us to wait until, for a rate limit.
    pub fn retry_at(&self) -> Option<i64> {
        match self {
            SourceError::Github(g) => g.retry_at(),
            _ => None,
        }
    }

    /// The queue's view of this error: retry later, or give up at once.
    pub fn job_error(&self) -> JobError {
        let message = self.to_string();
        match self {
            SourceError::Github(g) => g.job_error(),
            SourceError::Invalid(_) | SourceError::Missing(_) => JobError::Permanent(message),
            SourceError::Unavailable(_) => JobError::Retryable(message),
        }
    }
}

/// Runs `source` and scrubs secrets from whatever error text it brings back (the one place a
/// source's upstream text enters the cycle, before it is logged or stored).
pub async fn collect(
    source: &dyn Source,
    cx: &SourceContext<'_>,
) -> Result<SourceData, SourceError> {
    let r = &cx.deps.redactor;
    match source.collect(cx).await {
        Ok(mut data) => {
            data.errors = data.errors.iter().map(|e| r.redact(e)).collect();
            Ok(data)
        }
        Err(e) => Err(e.redacted(r)),
    }
}

/// The registered sources that are configured on, in [`super::snapshot::SOURCE_NAMES`]
/// order; `None` for a source that is off in the configuration.
pub fn build(config: &Config) -> Vec<(&'static str, Option<Box<dyn Source>>)> {
    vec![
        (
            "github",
            github::GithubSource::from_config(config).map(boxed),
        ),
        ("ucf_state", ucf::UcfSource::from_config(config).map(boxed)),
        (
            "agent_metrics",
            agents::AgentsSource::from_config(config).map(boxed),
        ),
    ]
}

fn boxed<S: Source + 'static>(s: S) -> Box<dyn Source> {
    Box::new(s)
}

/// A JSON document read from a file path or an http(s) URL (the form every non-GitHub
/// source takes). `what` names the source in errors. Returns the document and whether it
/// came from a URL.
pub async fn read_document(
    deps: &SyncDeps,
    what: &str,
    location: &str,
) -> Result<(serde_json::Value, Origin), SourceError> {
    let (bytes, origin) = if location.starts_with("http://") || location.starts_with("https://") {
        let secs = deps.config.file.sources.timeout_secs.max(1);
        let unavailable = |e: reqwest::Error| {
            let why = if e.is_timeout() {
                format!("timed out after {secs} s")
            } else {
                format!("request failed: {}", e.without_url())
            };
            SourceError::Unavailable(format!("{what} {location}: {why}"))
        };
        let res = deps
            .http
            .get(location)
            .timeout(std::time::Duration::from_secs(secs))
            .send()
            .await
            .map_err(unavailable)?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SourceError::Missing(format!("{what} {location}: HTTP 404")));
        }
        if !status.is_success() {
            let msg = format!("{what} {location}: HTTP {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                SourceError::Unavailable(msg)
            } else {
                SourceError::Invalid(msg)
            });
        }
        (
            res.bytes().await.map_err(unavailable)?.to_vec(),
            Origin::Url,
        )
    } else {
        match tokio::fs::read(location).await {
            Ok(b) => (b, Origin::File),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::Missing(format!(
                    "{what} {location}: no such file"
                )))
            }
            Err(e) => {
                return Err(SourceError::Unavailable(format!(
                    "{what} {location}: cannot read: {e}"
                )))
            }
        }
    };
    let doc = serde_json::from_slice(&bytes)
        .map_err(|e| SourceError::Invalid(format!("{what} {location}: not valid JSON: {e}")))?;
    Ok((doc, origin))
}

/// Where a document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    File,
    Url,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::File => "file",
            Origin::Url => "url",
        }
    }
}
