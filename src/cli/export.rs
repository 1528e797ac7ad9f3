//! `helix-sync export --format <f> --scope <s> [--run <id>] [-o FILE|-]`: the same bytes as
//! `GET /api/export/{format}`, because both call `service::export::export_from_store`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use helix_sync::config::Config;
use helix_sync::service::export::{export_from_store, parse_scope};
use helix_sync::store::Store;

#[derive(Args)]
pub struct ExportArgs {
    /// notion, markdown, json or html.
    #[arg(long)]
    format: String,
    /// full, ucf, agents or repos.
    #[arg(long, default_value = "full")]
    scope: String,
    /// Export this run instead of the latest one.
    #[arg(long)]
    run: Option<String>,
    /// Output file; `-` (the default) is standard output.
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: PathBuf,
}

pub async fn run(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let scope = parse_scope(&args.scope)?;
    let store = Store::connect(&config.database_url).await?;
    let artifact =
        export_from_store(config, &store, &args.format, scope, args.run.as_deref()).await?;
    if args.output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&artifact.bytes)?;
        out.flush()?;
    } else {
        std::fs::write(&args.output, &artifact.bytes)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!(
            "wrote {} ({} bytes, {})",
            args.output.display(),
            artifact.bytes.len(),
            artifact.content_type
        );
    }
    Ok(())
}
