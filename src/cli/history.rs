//! `helix-sync history [--limit N] [--json]`: past sync runs, newest first.

use clap::Args;

use helix_sync::config::Config;
use helix_sync::service::RunView;
use helix_sync::store::Store;

#[derive(Args)]
pub struct HistoryArgs {
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: HistoryArgs) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url).await?;
    let runs: Vec<RunView> = store
        .list_runs(args.limit.max(1))
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
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
