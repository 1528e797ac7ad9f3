//! `helix-sync history [--limit N] [--json]`: past sync runs, newest first: the runs
//! `GET /api/sync/history` and the MCP history tool return (`service::history`).

use clap::Args;

use helix_sync::config::Config;
use helix_sync::service::{self, RunView};

#[derive(Args)]
pub struct HistoryArgs {
    /// How many runs to list (1-100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=100))]
    limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, args: HistoryArgs) -> anyhow::Result<()> {
    let runs = super::with_app(config, |app| async move {
        Ok(service::history(&app, args.limit).await?)
    })
    .await?;
    print(&runs, args.json)
}

fn print(runs: &[RunView], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(runs)?);
        return Ok(());
    }
    println!(
        "{:<36}  {:<9}  {:<24}  {:>8}  {:<20}  ERROR",
        "RUN", "STATUS", "STARTED", "SECONDS", "TRIGGER"
    );
    for r in runs {
        println!(
            "{:<36}  {:<9}  {:<24}  {:>8}  {:<20}  {}",
            r.id,
            r.status,
            r.started_at,
            r.duration_seconds
                .map(|d| format!("{d:.2}"))
                .unwrap_or_default(),
            r.trigger,
            r.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    Ok(())
}
