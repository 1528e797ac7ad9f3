//! `helix-sync backup <file>` and `helix-sync restore <file>`: the store does the work
//! (`store::backup`); this only reports it.

use std::path::PathBuf;

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
