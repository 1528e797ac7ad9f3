//! `helix-sync diff A B [--scope S] [--json]` and `helix-sync rollback --to RUN [--by NAME]`:
//! the same `service` functions as `GET /api/runs/diff` and `POST /api/runs/{id}/rollback`.
//!
//! A rollback from the command line writes the run, its exports and its deliveries to the
//! server's database, audited as `cli:<user>` (or `NAME (cli:<user>)` with `--by`); the
//! publish jobs are run by `serve`'s workers, like those of `helix-sync sync`.

use clap::Args;

use helix_sync::auth::Principal;
use helix_sync::config::Config;
use helix_sync::service::export::parse_scope;
use helix_sync::service::{rollback, versions};
use helix_sync::sync::publishers::stats::change_lines;

#[derive(Args)]
pub struct DiffArgs {
    /// The earlier run.
    from: String,
    /// The later run.
    to: String,
    /// full, ucf, agents or repos.
    #[arg(long, default_value = "full")]
    scope: String,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub async fn diff(config: Config, args: DiffArgs) -> anyhow::Result<()> {
    let scope = parse_scope(&args.scope)?;
    super::with_app(config, |app| async move {
        let d = versions::diff(&app, &args.from, &args.to, scope).await?;
        let (_, snapshot) = versions::load(&app, &d.to.id).await?;
        print_diff(&d, &snapshot, args.json)
    })
    .await
}

fn print_diff(
    d: &versions::Diff,
    snapshot: &helix_sync::sync::snapshot::Snapshot,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    println!(
        "{} ({}) → {} ({}), scope {}",
        d.from.id,
        d.from.finished_at.as_deref().unwrap_or("-"),
        d.to.id,
        d.to.finished_at.as_deref().unwrap_or("-"),
        d.scope
    );
    let lines = change_lines(&d.changes, snapshot, usize::MAX);
    if lines.is_empty() {
        println!("no changes");
    }
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

#[derive(Args)]
pub struct RollbackArgs {
    /// The run whose state to publish again.
    #[arg(long)]
    to: String,
    /// Who is rolling back, recorded on the run, in the audit log and in Discord as
    /// `NAME (cli:$USER)`; default `cli:$USER`.
    #[arg(long)]
    by: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn rollback(config: Config, args: RollbackArgs) -> anyhow::Result<()> {
    let who = match args.by.as_deref().map(str::trim) {
        Some("") => anyhow::bail!("--by needs a name"),
        Some(name) => Principal::cli_for(name),
        None => Principal::cli(),
    };
    let to = args.to;
    let outcome = super::with_app(config, |app| async move {
        Ok(rollback::requested(&app, &who, &to).await?)
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(());
    }
    println!(
        "rolled back to run {} as run {} ({}); publishing to {} (by the server's workers)",
        outcome.rollback_to,
        outcome.run_id,
        outcome.status,
        if outcome.targets.is_empty() {
            "no target".to_owned()
        } else {
            outcome.targets.join(", ")
        }
    );
    Ok(())
}
