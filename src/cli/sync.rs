//! `helix-sync sync [--sources ..] [--targets ..]`: one sync cycle in the foreground, the
//! same cycle the workers run, with a spinner on a terminal and a summary at the end.
//!
//! Publish jobs the run creates are left in the queue for `serve`'s workers (they are
//! durable rows; nothing is lost when this process exits).
//!
//! Exit status: 0 when the run succeeded, [`EXIT_PARTIAL`] (3) when it stored a snapshot
//! but a source or the exports failed (`partial`), 1 when it failed (2 is a usage error, from
//! the argument parser), so a script or cron job can tell "stale in part" from "all good".

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use helix_sync::auth::Principal;
use helix_sync::config::Config;
use helix_sync::service::{self, RunView};
use helix_sync::sync::exporters::report::count;
use helix_sync::sync::snapshot::ChangeSummary;

/// Exit status of a `partial` run.
pub const EXIT_PARTIAL: u8 = 3;

#[derive(Args)]
pub struct SyncArgs {
    #[command(flatten)]
    parts: super::Parts,
    /// Print the run record as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let request = args.parts.request();
    let json = args.json;
    super::with_app(config, |app| async move {
        let store = &app.store;
        let started = Instant::now();
        let spinner =
            (!json && std::io::stderr().is_terminal()).then(|| tokio::spawn(spin(started)));
        let result = service::sync_now(&app, &Principal::cli(), request).await?;
        if let Some(s) = spinner {
            s.abort();
            eprint!("\r\x1b[2K");
        }
        let latest = store.list_runs(1).await?.into_iter().next();
        let outcome = result.map_err(|e| anyhow::anyhow!("sync failed: {e}"));
        let run = match (&outcome, latest) {
            (Ok(o), _) => store
                .get_run(&o.run_id)
                .await?
                .context("the run was recorded")?,
            (Err(_), Some(r)) if r.status == "failed" => r,
            (Err(_), _) => return outcome.map(|_| ExitCode::SUCCESS),
        };
        let deliveries = store.deliveries_for_run(&run.id).await?;
        let view = RunView::from(run);
        if json {
            println!("{}", serde_json::to_string_pretty(&view)?);
        } else {
            print_summary(&view, &deliveries);
        }
        let outcome = outcome?;
        Ok(if outcome.status == "partial" {
            ExitCode::from(EXIT_PARTIAL)
        } else {
            ExitCode::SUCCESS
        })
    })
    .await
}

async fn spin(started: Instant) {
    const FRAMES: [&str; 4] = ["|", "/", "-", "\\"];
    for i in 0.. {
        eprint!(
            "\r{} syncing… {:.1}s",
            FRAMES[i % 4],
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_summary(run: &RunView, deliveries: &[helix_sync::store::DeliveryRow]) {
    println!(
        "run {}  {}  ({:.2}s)",
        run.id,
        run.status,
        run.duration_seconds.unwrap_or_default()
    );
    if let Some(sources) = run.sources.as_object() {
        for (name, s) in sources {
            let detail = match s["status"].as_str() {
                Some("ok") | Some("error") => format!(
                    "{} items, {} requests ({} not modified)",
                    s["items"], s["requests"], s["not_modified"]
                ),
                _ => String::new(),
            };
            println!(
                "  {name:<14} {:<9} {detail}",
                s["status"].as_str().unwrap_or("?")
            );
        }
    }
    if let Ok(c) = serde_json::from_value::<ChangeSummary>(run.change_summary.clone()) {
        for line in change_lines(&c) {
            println!("  {line}");
        }
    }
    if let Some(files) = run.exports.as_array().filter(|f| !f.is_empty()) {
        println!("  exports: {}", count(files.len() as u64, "file"));
    }
    for d in deliveries {
        println!("  publish {:<8} {}", d.target, d.state);
    }
    if deliveries.iter().any(|d| d.state == "pending") {
        println!("  (pending deliveries are sent by the workers of `helix-sync serve`)");
    }
    if let Some(e) = &run.error {
        println!("  error: {e}");
    }
}

fn change_lines(c: &ChangeSummary) -> Vec<String> {
    if c.is_empty() {
        return vec!["no changes since the previous run".into()];
    }
    let mut out = Vec::new();
    for (repo, r) in c.repos.iter().filter(|(_, r)| !r.is_empty()) {
        out.push(format!(
            "{repo}: {}, issues +{}/-{}, PRs +{} merged {} closed {}, {}, {}",
            count(r.new_commits, "new commit"),
            r.issues_opened.len(),
            r.issues_closed.len(),
            r.prs_opened.len(),
            r.prs_merged.len(),
            r.prs_closed.len(),
            count(r.new_releases.len() as u64, "release"),
            count(r.new_deployments.len() as u64, "deployment"),
        ));
    }
    for d in c.ucf.iter().filter(|d| d.direction != "same") {
        out.push(format!(
            "UCF {} {:.4} → {:.4} ({})",
            d.metric, d.before, d.after, d.direction
        ));
    }
    if !c.agents_activated.is_empty() {
        out.push(format!("agents active: {}", c.agents_activated.join(", ")));
    }
    if !c.agents_deactivated.is_empty() {
        out.push(format!(
            "agents inactive: {}",
            c.agents_deactivated.join(", ")
        ));
    }
    out
}
