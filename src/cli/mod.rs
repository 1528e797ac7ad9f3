//! Subcommands other than `serve`. Each opens the application context (`service::App`) on the
//! server's database and calls the very `service` operation the API, the console and MCP
//! call, acting as `cli:<user>` (an admin: whoever can run this can read the database
//! anyway), so its changes enter the audit log like any other. Nothing here decides anything
//! of its own: it parses arguments and prints answers.

pub mod backup;
pub mod discord;
pub mod export;
pub mod history;
pub mod queue;
pub mod sync;
pub mod user;
pub mod versions;

use anyhow::Context;

use helix_sync::config::Config;
use helix_sync::ingest::manual::TriggerRequest;
use helix_sync::service::{App, Open, Opened};

/// `--sources` and `--targets`: what a sync covers (all enabled ones when left out).
#[derive(clap::Args)]
pub struct Parts {
    /// Sources to collect (default: all enabled): github, ucf_state, agent_metrics.
    #[arg(long, value_delimiter = ',')]
    sources: Option<Vec<String>>,
    /// Targets to publish to (default: all enabled): discord, notion, portal.
    #[arg(long, value_delimiter = ',')]
    targets: Option<Vec<String>>,
}

impl Parts {
    /// The request `POST /api/sync` would carry.
    pub fn request(self) -> TriggerRequest {
        TriggerRequest {
            sources: self.sources,
            targets: self.targets,
        }
    }
}

/// Opens the context a one-shot command works in.
pub async fn open(config: Config) -> anyhow::Result<Opened> {
    let database = config.database_url.clone();
    App::open(config, Open::default())
        .await
        .with_context(|| format!("opening the database {database}"))
}

/// Runs `command` in a context opened for it, and closes the context (the last ingest
/// commit awaited) whatever the command's outcome.
pub async fn with_app<T, F>(config: Config, command: impl FnOnce(App) -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let opened = open(config).await?;
    let result = command(opened.app.clone()).await;
    opened.close().await;
    result
}
