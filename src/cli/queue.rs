//! `helix-sync queue list|retry|cancel|stats`.

use anyhow::{bail, Context};
use clap::Subcommand;

use helix_sync::config::Config;
use helix_sync::service::{iso, JobView};
use helix_sync::store::{now_ms, JobState, Store};

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (queued, running, failed, succeeded, dead, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Requeue a dead, failed or cancelled job (or every dead job with --all-dead).
    Retry {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
    /// Cancel a job that is not running.
    Cancel { id: String },
    /// Queue depth by state and the age of the oldest queued job.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, cmd: QueueCommand) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url).await?;
    match cmd {
        QueueCommand::List { state, limit, json } => {
            let state = state
                .map(|s| JobState::parse(&s).with_context(|| format!("unknown state {s:?}")))
                .transpose()?;
            let jobs: Vec<JobView> = store
                .list_jobs(state, limit)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                println!(
                    "{:<36}  {:<7}  {:<9}  {:>8}  {:<24}  {:<24}  LAST ERROR",
                    "ID", "KIND", "STATE", "ATTEMPTS", "CREATED", "NEXT ATTEMPT"
                );
                for j in jobs {
                    let err = j.last_error.unwrap_or_default();
                    println!(
                        "{:<36}  {:<7}  {:<9}  {:>4}/{:<3}  {:<24}  {:<24}  {}",
                        j.id,
                        j.kind,
                        j.state,
                        j.attempts,
                        j.max_attempts,
                        j.created_at,
                        j.next_attempt_at.as_deref().unwrap_or("-"),
                        err.lines().next().unwrap_or("")
                    );
                }
            }
        }
        QueueCommand::Retry { id, all_dead } => {
            let n = match (id, all_dead) {
                (Some(id), _) => store.retry_jobs(Some(&id), now_ms()).await?,
                (None, true) => store.retry_jobs(None, now_ms()).await?,
                (None, false) => bail!("give a job id or --all-dead"),
            };
            println!("requeued {n} job(s)");
            if n == 0 {
                bail!("nothing to retry (only dead, failed or cancelled jobs can be retried)");
            }
        }
        QueueCommand::Cancel { id } => {
            if !store.cancel_job(&id, now_ms()).await? {
                bail!("job {id} does not exist or is running or finished");
            }
            println!("cancelled {id}");
        }
        QueueCommand::Stats { json } => {
            let s = store.queue_stats(now_ms()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                for (state, n) in &s.by_state {
                    println!("{state:<10} {n}");
                }
                if let Some(age) = s.oldest_queued_age_ms {
                    println!(
                        "oldest queued: {:.1}s (since {})",
                        age as f64 / 1000.0,
                        iso(now_ms() - age)
                    );
                }
            }
        }
    }
    Ok(())
}
