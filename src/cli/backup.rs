//! `helix-sync backup <file>` and `helix-sync restore <file>`: the store does the work
//! (`store::backup`); this only reports it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use helix_sync::config::Config;
use helix_sync::store::{binary_schema_version, restore, Backend, Store};

#[derive(Args)]
pub struct FileArg {
    /// The backup file.
    file: PathBuf,
}

/// Copies the live SQLite database to a new file; ingest keeps running meanwhile.
pub async fn backup(config: &Config, args: FileArg) -> anyhow::Result<()> {
    // Refused before anything is opened: PostgreSQL has its own tool, and trying to reach
    // the server first only delays the same answer.
    if !config.database_url.starts_with("sqlite:") {
        anyhow::bail!(
            "backup copies a SQLite database; DATABASE_URL is PostgreSQL: use pg_dump \
             (docs/deployment.md#backup-and-restore-on-postgresql)"
        );
    }
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let store = Store::connect(&config.database_url).await?;
    let version = store.backup_to(&args.file).await;
    store.close().await;
    let version = version?;
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({size} bytes, schema version {version})",
        config.database_url,
        args.file.display()
    );
    Ok(())
}

/// Puts a backup in place of the database; refuses while it is open anywhere.
pub fn restore_file(config: &Config, args: FileArg) -> anyhow::Result<()> {
    let done = restore(&args.file, &config.database_url)?;
    println!(
        "restored {} into {} (schema version {}; this binary knows up to {})",
        args.file.display(),
        config.database_url,
        done.schema_version,
        binary_schema_version(Backend::Sqlite)
    );
    match done.previous {
        Some(p) => println!("the database it replaced is kept as {}", p.display()),
        None => println!("there was no database there before"),
    }
    println!("start helix-sync as usual: it applies any newer migrations on start");
    Ok(())
}

/// Holds the process up without opening the database or serving anything, until SIGTERM or
/// Ctrl-C: a platform that restarts a stopped machine (Fly) keeps the volume attached while
/// `restore` runs beside it.
pub async fn maintenance(config: &Config) -> anyhow::Result<()> {
    tracing::warn!(
        database = %config.database_url,
        "maintenance mode: not serving and not opening the database; run `helix-sync restore \
         <file>` now, then start `helix-sync serve` again (SIGTERM ends this)"
    );
    helix_sync::startup::shutdown_signal().await;
    Ok(())
}
