//! `helix-sync queue list|retry|cancel|stats`, and `helix-sync trigger`: retry and cancel are
//! the console's and the API's operations (`service::jobs`), trigger is `POST /api/sync`'s
//! (`service::trigger`), all audited as `cli:<user>`.

use clap::{ArgGroup, Args, Subcommand};

use helix_sync::auth::Principal;
use helix_sync::config::Config;
use helix_sync::service::{self, jobs, JobView};
use helix_sync::store::{now_ms, JobFilter, JobState};
use helix_sync::timestamp::millis;

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (queued, running, failed, succeeded, dead, cancelled).
        #[arg(long, value_parser = parse_state)]
        state: Option<JobState>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Requeue a dead, failed or cancelled job (or every dead job with --all-dead).
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all_dead"])))]
    Retry {
        id: Option<String>,
        #[arg(long)]
        all_dead: bool,
    },
    /// Cancel a job that is waiting (queued, failed or dead).
    Cancel { id: String },
    /// Queue depth by state and the age of the oldest queued job.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s).ok_or_else(|| {
        let all: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown state {s:?}; valid: {}", all.join(", "))
    })
}

pub async fn run(config: Config, cmd: QueueCommand) -> anyhow::Result<()> {
    super::with_app(config, |app| async move {
        let me = Principal::cli();
        match cmd {
            QueueCommand::List { state, limit, json } => {
                let jobs: Vec<JobView> = app
                    .store
                    .list_jobs(state, limit)
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect();
                if json {
                    println!("{}", serde_json::to_string_pretty(&jobs)?);
                } else {
                    print_jobs(jobs);
                }
            }
            QueueCommand::Retry { id: Some(id), .. } => {
                jobs::act(&app, &me, &id, true).await?;
                println!("requeued {id}");
            }
            QueueCommand::Retry { id: None, .. } => {
                let dead = JobFilter {
                    state: Some("dead".into()),
                    ..Default::default()
                };
                let n = jobs::act_matching(&app, &me, &dead, "state=dead", true).await?;
                match n {
                    0 => println!("no dead jobs: nothing to retry"),
                    n => println!("requeued {n} dead job(s)"),
                }
            }
            QueueCommand::Cancel { id } => {
                jobs::act(&app, &me, &id, false).await?;
                println!("cancelled {id}");
            }
            QueueCommand::Stats { json } => {
                let s = app.store.queue_stats(now_ms()).await?;
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
                            millis(now_ms() - age)
                        );
                    }
                }
            }
        }
        Ok(())
    })
    .await
}

fn print_jobs(jobs: Vec<JobView>) {
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

/// Queues a sync for the server's workers, as `POST /api/sync` does; prints the job id.
pub async fn trigger(config: Config, parts: super::Parts) -> anyhow::Result<()> {
    let req = parts.request();
    super::with_app(config, |app| async move {
        let job_id = service::trigger(&app, &Principal::cli(), req).await?;
        println!("{job_id}");
        Ok(())
    })
    .await
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The stored events to replay (their ids, as the console and `GET /api/events/{id}`
    /// show them).
    #[arg(required = true)]
    ids: Vec<String>,
}

/// Replays stored events: queues the job each asks for under today's rules, as the
/// console's replay does.
pub async fn replay(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    super::with_app(config, |app| async move {
        let me = Principal::cli();
        for id in &args.ids {
            let r = service::events::replay(&app, &me, id).await?;
            match r.jobs.as_slice() {
                [] => println!("{id}: nothing to do under today's rules"),
                jobs => println!("{id}: queued {}", jobs.join(" ")),
            }
        }
        Ok(())
    })
    .await
}
