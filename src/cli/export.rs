//! `helix-sync export --format <f> --scope <s> [--run <id>] [-o FILE|-]`: the same bytes as
//! `GET /api/export/{format}`, because both call `service::export::export`.
//!
//! `helix-sync export --run <id> -o DIR` (no format) makes every file that run wrote again,
//! under the same relative paths, byte for byte (`service::export::regenerate`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use helix_sync::config::Config;
use helix_sync::service::export::{export, parse_scope, regenerate};
use helix_sync::service::App;

#[derive(Args)]
pub struct ExportArgs {
    /// notion, markdown, json, html or pdf (pdf in a build with the `pdf` feature). Without
    /// it, `--run` and `-o DIR` make every file the run wrote again under DIR, with the names
    /// and bytes of the time.
    #[arg(long, required_unless_present = "run")]
    format: Option<String>,
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

pub async fn run(config: Config, args: ExportArgs) -> anyhow::Result<()> {
    let scope = parse_scope(&args.scope)?;
    super::with_app(config, |app| async move {
        let Some(format) = &args.format else {
            let run = args
                .run
                .as_deref()
                .expect("clap requires --run without --format");
            return regenerate_into(&app, run, &args.output).await;
        };
        let to_stdout = args.output.as_os_str() == "-";
        // A PDF's bytes written to a terminal garble it and help nobody (as curl refuses).
        if to_stdout && format == "pdf" && std::io::stdout().is_terminal() {
            anyhow::bail!(
                "the PDF report is binary: give a file with -o FILE, or redirect standard output"
            );
        }
        let artifact = export(&app, format, scope, args.run.as_deref()).await?;
        if to_stdout {
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
    })
    .await
}

/// Writes every export file of run `run` again under directory `dir`.
async fn regenerate_into(app: &App, run: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.as_os_str() == "-" {
        anyhow::bail!("--run without --format writes several files: give a directory with -o DIR");
    }
    for (path, bytes) in regenerate(app, run).await? {
        let file = dir.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&file, &bytes)
            .with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!("wrote {} ({} bytes)", file.display(), bytes.len());
    }
    Ok(())
}
