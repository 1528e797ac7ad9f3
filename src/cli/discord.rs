//! `helix-sync discord register [--guild ID]`: puts the bot's slash command definitions
//! (`discord::commands`) with the bot token, so that setting the bot up is one command.
//!
//! Without `--guild` the commands are global (Discord may take a while to show them
//! everywhere); with it they are the guild's, and appear at once. The bulk overwrite is
//! idempotent: running it again replaces the definitions with the same ones. The bot token
//! only ever goes in the `Authorization` header, and errors are stripped of URLs.

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::Value;

use helix_sync::config::{discord::is_snowflake, Config};
use helix_sync::discord::commands::definitions;
use helix_sync::sync::publishers::discord::api_base;
use helix_sync::sync::SyncDeps;

#[derive(Subcommand)]
pub enum DiscordCommand {
    /// Put the /helix slash command (needs DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID).
    Register {
        /// Register in this server (guild) only: shown at once, handy to try the bot out.
        #[arg(long)]
        guild: Option<String>,
    },
}

pub async fn run(config: &Config, command: DiscordCommand) -> anyhow::Result<()> {
    match command {
        DiscordCommand::Register { guild } => register(config, guild.as_deref()).await,
    }
}

async fn register(config: &Config, guild: Option<&str>) -> anyhow::Result<()> {
    let token = config
        .secrets
        .discord_bot_token
        .as_ref()
        .context("DISCORD_BOT_TOKEN is not set (the bot's token, from the developer portal)")?;
    let application = config
        .discord_application_id
        .as_deref()
        .context("DISCORD_APPLICATION_ID is not set (the application's id)")?;
    let scope = match guild {
        Some(g) if !is_snowflake(g) => bail!("--guild {g:?} is not a server id (decimal digits)"),
        Some(g) => format!("/guilds/{g}"),
        None => String::new(),
    };
    let url = format!(
        "{}/api/v10/applications/{application}{scope}/commands",
        api_base(config)
    );
    let res = SyncDeps::http_client()
        .put(url)
        .header("authorization", format!("Bot {}", token.expose()))
        .json(&definitions())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("Discord: {}", e.without_url()))?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let said = body["message"].as_str().unwrap_or("no message");
        let hint = match status.as_u16() {
            401 => " (is DISCORD_BOT_TOKEN this application's bot token?)",
            403 | 404 => " (is DISCORD_APPLICATION_ID right, and the bot in that server?)",
            429 => " (rate limited: try again in a minute)",
            _ => "",
        };
        bail!("Discord answered {status} to the registration: {said}{hint}");
    }
    let names: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some(format!("/{}", c["name"].as_str()?)))
        .collect();
    let place = match guild {
        Some(g) => format!("in server {g}"),
        None => "globally (Discord may take a while to show them)".into(),
    };
    println!("registered {} {place}", names.join(", "));
    Ok(())
}
