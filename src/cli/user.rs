//! `helix-sync user add|list|remove|passwd`: console users on the server's database.
//!
//! Passwords are read from standard input (the first line), never from the command line,
//! where `ps` and shell history would show them: `helix-sync user add alice --role admin`
//! then type it, or pipe it in. Changes are audited as `cli:<$USER>`.

use std::io::BufRead;

use anyhow::{bail, Context};
use clap::Subcommand;

use helix_sync::auth::Principal;
use helix_sync::config::Config;
use helix_sync::service::users;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        name: String,
        /// viewer (read), operator (replay, retry, run now) or admin (users, tokens).
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List users and their roles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user with their sessions and API tokens.
    Remove { name: String },
    /// Set a user's password (read from standard input); ends their sessions.
    Passwd { name: String },
}

fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as you type; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pass = line.trim_end_matches(['\r', '\n']).to_owned();
    if pass.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pass)
}

pub async fn run(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    // Read before the database is opened: a missing password changes nothing.
    let pass = match &cmd {
        UserCommand::Add { .. } | UserCommand::Passwd { .. } => Some(read_password()?),
        _ => None,
    };
    super::with_app(config, |app| async move {
        let me = Principal::cli();
        let pass = pass.as_deref().unwrap_or_default();
        match cmd {
            UserCommand::Add { name, role } => {
                users::add_user(&app, &me, &name, &role, pass).await?;
                println!("added {name} ({role})");
            }
            UserCommand::List { json } => {
                let list = users::users(&app).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    println!("{:<32}  {:<8}  CREATED", "USER", "ROLE");
                    for u in list {
                        println!("{:<32}  {:<8}  {}", u.username, u.role, u.created_at);
                    }
                }
            }
            UserCommand::Remove { name } => {
                users::remove_user(&app, &me, &name).await?;
                println!("removed {name}");
            }
            UserCommand::Passwd { name } => {
                users::change_user(&app, &me, &name, Some(pass), None).await?;
                println!("password of {name} changed; their sessions are ended");
            }
        }
        Ok(())
    })
    .await
}
