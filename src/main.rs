//! The `helix-sync` binary: parse the command line, load config, start telemetry, and hand
//! over to the library. No business logic lives here.

use anyhow::Context;
use clap::{Parser, Subcommand};

use helix_sync::config::Config;
use helix_sync::startup::{Application, Options};
use helix_sync::telemetry;

mod cli;

#[derive(Parser)]
#[command(
    name = "helix-sync",
    version,
    about = "Webhook-to-sync service for the Helix ecosystem"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server, workers and scheduler (the default).
    Serve,
    /// Print the effective configuration (secrets redacted); non-zero exit when invalid.
    CheckConfig,
    /// Create the database and apply migrations, then exit.
    Migrate,
    /// Export a stored run (the latest by default) to a file or standard output.
    Export(cli::export::ExportArgs),
    /// Serve the MCP tools on stdin/stdout (for MCP clients that spawn a process). Logs go
    /// to stderr. Jobs it queues are run by the server sharing DATABASE_URL, or by this
    /// process with --with-workers.
    Mcp {
        /// Also run the worker pool in this process.
        #[arg(long)]
        with_workers: bool,
    },
    /// Inspect and manage the job queue (works whether or not the server runs).
    Queue {
        #[command(subcommand)]
        command: cli::queue::QueueCommand,
    },
    /// Manage console users (roles: viewer, operator, admin); passwords come from stdin.
    User {
        #[command(subcommand)]
        command: cli::user::UserCommand,
    },
    /// Run one sync cycle in the foreground (the same cycle the workers run).
    Sync(cli::sync::SyncArgs),
    /// Queue a sync for the server's workers (as `POST /api/sync`); prints the job id.
    Trigger(cli::Parts),
    /// Replay stored events: queue the job each asks for under today's rules.
    Replay(cli::queue::ReplayArgs),
    /// List past sync runs, newest first.
    History(cli::history::HistoryArgs),
    /// What changed between any two stored runs.
    Diff(cli::versions::DiffArgs),
    /// The Discord bot: put its slash commands (`register`).
    Discord {
        #[command(subcommand)]
        command: cli::discord::DiscordCommand,
    },
    /// Publish an earlier run's state again, as a new run (trigger `rollback`); the server's
    /// workers deliver it.
    Rollback(cli::versions::RollbackArgs),
    /// Write a consistent copy of the live SQLite database to a new file (ingest keeps
    /// running). For PostgreSQL use pg_dump (see the README).
    Backup(cli::backup::FileArg),
    /// Hold the machine up without serving or opening the database (until SIGTERM), so that
    /// `restore` can run on a platform that restarts stopped machines (Fly).
    Maintenance,
    /// Put a backup made by `backup` in place of the database. The service must be stopped;
    /// a file that is not a helix-sync database, or has a newer schema, is refused and
    /// nothing changes. The replaced database is kept beside it.
    Restore(cli::backup::FileArg),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the command; its exit status (only `sync` has one besides success, see
/// `cli::sync::EXIT_PARTIAL`).
async fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let config = Config::from_env().context("invalid configuration")?;
    telemetry::init_logging(&config.log_format);
    let done = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            telemetry::metrics_handle();
            Application::build(config, Options::default())
                .await?
                .run_until_stopped()
                .await
        }
        Command::CheckConfig => {
            println!("{}", serde_json::to_string_pretty(&config)?);
            Ok(())
        }
        Command::Migrate => {
            helix_sync::store::Store::connect(&config.database_url).await?;
            println!("database {} is up to date", config.database_url);
            Ok(())
        }
        Command::Mcp { with_workers } => {
            let options = Options {
                workers: with_workers,
                scheduler: false,
                runner: None,
            };
            let app = Application::build_headless(config, options).await?;
            let context = app.app().clone();
            app.run_until(async move {
                tokio::select! {
                    r = helix_sync::mcp::stdio::serve(context) => {
                        if let Err(e) = r {
                            tracing::error!(error = %e, "MCP stdio session failed");
                        }
                    }
                    _ = helix_sync::startup::shutdown_signal() => {}
                }
            })
            .await
        }
        Command::Queue { command } => cli::queue::run(config, command).await,
        Command::Trigger(args) => cli::queue::trigger(config, args).await,
        Command::Replay(args) => cli::queue::replay(config, args).await,
        Command::User { command } => cli::user::run(config, command).await,
        Command::Export(args) => cli::export::run(config, args).await,
        Command::Sync(args) => return cli::sync::run(config, args).await,
        Command::History(args) => cli::history::run(config, args).await,
        Command::Diff(args) => cli::versions::diff(config, args).await,
        Command::Rollback(args) => cli::versions::rollback(config, args).await,
        Command::Discord { command } => cli::discord::run(&config, command).await,
        Command::Backup(args) => cli::backup::backup(&config, args).await,
        Command::Restore(args) => cli::backup::restore_file(&config, args),
        Command::Maintenance => cli::backup::maintenance(&config).await,
    };
    done.map(|()| std::process::ExitCode::SUCCESS)
}
