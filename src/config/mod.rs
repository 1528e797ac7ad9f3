//! One validated `Config` from `config/sync_config.json` plus the environment.
//!
//! Loading happens once, at start-up: nothing reads a file or an environment variable after
//! that (tests build a `Config` from a map instead of mutating the process environment).
//! Secrets are wrapped in [`Secret`] the moment they are read, so no `Debug` of the config
//! can print one. A bad file or variable is an error that names the key and where it came from.

mod conflicts;
mod delivery;
pub mod discord;
mod file;
pub mod github;
pub mod redact;
mod retention;
pub mod schedule;
mod secret;
mod server;
mod summary;

pub use conflicts::{ConflictPolicy, Policy};
pub use delivery::*;
pub use discord::{CommandRoles, PublicKey};

pub use file::*;
pub use github::{GithubApp, RepoSelection};
pub use redact::Redactor;
pub use retention::{BatchSize, DiskConfig, Period, RetentionConfig, Size};
pub use secret::{Secret, REDACTED};
pub use server::ServerLimits;
pub use summary::SummaryConfig;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: invalid value at `{key}`: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
}

/// Credentials and endpoints of the outside world. All optional: a missing one disables
/// the part that needs it, with a warning at start-up.
#[derive(Debug, Clone, Serialize)]
pub struct Secrets {
    /// `GITHUB_WEBHOOK_SECRET`: comma-separated, so a secret can be rotated without downtime.
    pub github_webhook: Vec<Secret>,
    /// `RITUAL_WEBHOOK_SECRET`: Standard Webhooks keys (`whsec_…`), comma-separated.
    pub ritual_webhook: Vec<Secret>,
    /// `HELIX_API_TOKEN`: bearer for manual triggers, the API and MCP over HTTP.
    pub api_token: Option<Secret>,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<Secret>,
    /// `DISCORD_SYNC_WEBHOOK`: the webhook URL carries its token, so it is a secret.
    pub discord_webhook: Option<Secret>,
    /// `NOTION_API_KEY`.
    pub notion_api_key: Option<Secret>,
    /// `DISCORD_BOT_TOKEN`: with `DISCORD_CHANNEL_ID`, lets an uncertain Discord attempt be
    /// resolved by reading the channel instead of posting again.
    pub discord_bot_token: Option<Secret>,
    /// `HELIX_SUMMARY_API_KEY`: bearer for the summary endpoint (optional: local servers
    /// such as Ollama need none).
    pub summary_api_key: Option<Secret>,
    /// The GitHub App's private key (`GITHUB_APP_PRIVATE_KEY` or its file), for redaction.
    pub github_app_key: Option<Secret>,
}

/// The effective configuration of one process.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Where the file part came from (it may not exist: then defaults apply).
    pub config_path: PathBuf,
    /// `HELIX_BIND`.
    pub bind: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `HELIX_SYNC_ENABLED`: false disables schedules, not webhooks or manual triggers.
    pub sync_enabled: bool,
    /// `HELIX_SYNC_MANUAL_TRIGGER`.
    pub manual_trigger: bool,
    /// `HELIX_WORKERS`.
    pub workers: usize,
    /// `EXPORT_PATH`.
    pub export_path: PathBuf,
    /// `EXPORT_FORMATS`: the enabled exporters, in order.
    pub export_formats: Vec<String>,
    /// `HEALTH_CHECK_ENABLED`.
    pub health_check_enabled: bool,
    /// `HEALTH_CHECK_PORT`.
    pub health_check_port: u16,
    /// `GITHUB_API_URL`.
    pub github_api_url: String,
    /// `DISCORD_API_URL`: replaces the scheme and host of the Discord webhook URL.
    pub discord_api_url: Option<String>,
    /// `NOTION_API_URL`.
    pub notion_api_url: String,
    /// `NOTION_DATABASE_ID`.
    pub notion_database_id: Option<String>,
    /// `DISCORD_CHANNEL_ID`: the channel the webhook posts to (see `discord_bot_token`).
    pub discord_channel_id: Option<String>,
    /// `DISCORD_PUBLIC_KEY`: the bot application's Ed25519 key (hex), which signs the
    /// interactions `POST /webhooks/discord` receives.
    pub discord_public_key: Option<PublicKey>,
    /// `DISCORD_APPLICATION_ID`: the bot application, whose interactions are answered and
    /// whose commands `helix-sync discord register` puts.
    pub discord_application_id: Option<String>,
    /// `HELIX_NODE_NAME`: this process's name in the node registry, stable across restarts
    /// (default `<host name>:<port>`), so a restart rescues its predecessor's jobs at once.
    pub node_name: Option<String>,
    /// `GITHUB_REPOS` (bare names completed with `GITHUB_OWNER`), else the file's list: the
    /// repositories named, and the patterns (`owner/*`, `*`, `!owner/name`) to find.
    pub github_repos: RepoSelection,
    /// `GITHUB_APP_ID` and `GITHUB_APP_PRIVATE_KEY` (or `_FILE`): the source authenticates as
    /// this GitHub App (installation tokens) instead of `GITHUB_TOKEN`.
    pub github_app: Option<GithubApp>,
    /// `UCF_STATE_SOURCE`, else the file's path.
    pub ucf_source: Option<String>,
    /// `AGENT_METRICS_SOURCE`, else the file's path.
    pub agents_source: Option<String>,
    /// `AGENT_PROFILES_DB`, else the file's.
    pub agent_profiles_db: Option<String>,
    /// `HELIX_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: String,
    /// Public base URL used in links (`HELIX_PUBLIC_URL`), e.g. in Discord embeds.
    pub public_url: Option<String>,
    /// `HELIX_MCP_ALLOWED_HOSTS`: further `Host` names (or `name:port`) `/mcp` answers to,
    /// besides loopback and the public URL's host (comma list).
    pub mcp_allowed_hosts: Vec<String>,
    /// `HELIX_WS_PING_SECS`: how often `GET /api/sync/ws` pings; a client silent for a
    /// whole interval after a ping is dropped (default 20).
    pub ws_ping_secs: u64,
    /// The model-written change summary; `None` when `HELIX_SUMMARY_URL` is unset.
    pub summary: Option<SummaryConfig>,
    pub secrets: Secrets,
    pub file: FileConfig,
}

/// The formats an exporter exists for, in the order they are written.
#[cfg(feature = "pdf")]
pub const EXPORT_FORMATS: &[&str] = &["notion", "markdown", "json", "html", "pdf"];
/// The formats an exporter exists for, in the order they are written (this binary was
/// built without the `pdf` feature).
#[cfg(not(feature = "pdf"))]
pub const EXPORT_FORMATS: &[&str] = &["notion", "markdown", "json", "html"];

/// Why `format` is not an export format, naming the valid ones; a binary built without the
/// `pdf` feature says so when asked for `pdf`.
pub fn unknown_format(format: &str) -> String {
    let valid = EXPORT_FORMATS.join(", ");
    if format == "pdf" && !EXPORT_FORMATS.contains(&"pdf") {
        format!(
            "unknown format \"pdf\": this binary was built without PDF support \
             (the cargo feature `pdf`); valid: {valid}"
        )
    } else {
        format!("unknown format {format:?}; valid: {valid}")
    }
}

impl Config {
    /// Loads from the process environment (the only caller is `main`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(&std::env::vars().collect())
    }

    /// Loads from an explicit variable map; tests use this instead of `set_var`.
    pub fn load(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // A file named on purpose must be there; only the default path may be absent (then
        // every setting takes its default).
        let named = get("HELIX_CONFIG");
        let config_path = PathBuf::from(
            named
                .clone()
                .unwrap_or_else(|| "config/sync_config.json".into()),
        );
        let mut file = read_file(&config_path, named.is_some())?;

        let flag = |name: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(other) => Err(ConfigError::Env {
                    name,
                    message: format!("expected true or false, got {other:?}"),
                }),
            }
        };
        fn number<T: std::str::FromStr>(
            name: &'static str,
            value: Option<String>,
        ) -> Result<Option<T>, ConfigError> {
            value
                .map(|v| {
                    v.parse().map_err(|_| ConfigError::Env {
                        name,
                        message: format!("expected a number, got {v:?}"),
                    })
                })
                .transpose()
        }

        let bind = get("HELIX_BIND").unwrap_or_else(|| "0.0.0.0:8080".into());
        let bind = bind.parse().map_err(|_| ConfigError::Env {
            name: "HELIX_BIND",
            message: format!("expected host:port, got {bind:?}"),
        })?;

        if let Some(secs) = number::<u64>("HELIX_SYNC_INTERVAL", get("HELIX_SYNC_INTERVAL"))? {
            if secs == 0 {
                return Err(ConfigError::Env {
                    name: "HELIX_SYNC_INTERVAL",
                    message: "must be at least 1 second".into(),
                });
            }
            file.sync_schedule.interval_secs = Some(secs);
        }

        let export_formats = match get("EXPORT_FORMATS") {
            Some(list) => {
                let formats: Vec<String> = split_list(&list);
                if let Some(bad) = formats
                    .iter()
                    .find(|f| !EXPORT_FORMATS.contains(&f.as_str()))
                {
                    return Err(ConfigError::Env {
                        name: "EXPORT_FORMATS",
                        message: unknown_format(bad),
                    });
                }
                formats
            }
            None => {
                let e = &file.exporters;
                if e.pdf.enabled && !EXPORT_FORMATS.contains(&"pdf") {
                    return Err(ConfigError::Invalid {
                        file: config_path.display().to_string(),
                        key: "exporters.pdf.enabled".into(),
                        message: unknown_format("pdf"),
                    });
                }
                [
                    ("notion", e.notion.enabled),
                    ("markdown", e.markdown.enabled),
                    ("json", e.json.enabled),
                    ("html", e.html.enabled),
                    ("pdf", e.pdf.enabled),
                ]
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(f, _)| f.to_owned())
                .collect()
            }
        };

        let owner = get("GITHUB_OWNER");
        let github_repos =
            match get("GITHUB_REPOS") {
                Some(list) => RepoSelection::parse(&split_list(&list), owner.as_deref()).map_err(
                    |message| ConfigError::Env {
                        name: "GITHUB_REPOS",
                        message,
                    },
                )?,
                None => RepoSelection::parse(&file.sources.github.repos, owner.as_deref())
                    .map_err(|message| ConfigError::Invalid {
                        file: config_path.display().to_string(),
                        key: "sources.github.repos".into(),
                        message,
                    })?,
            };
        let github_app = github_app(&get)?;
        let github_app_key = github_app.as_ref().map(|a| a.private_key.clone());

        let secrets_list = |name: &str| -> Vec<Secret> {
            get(name)
                .map(|v| split_list(&v).into_iter().map(Secret::new).collect())
                .unwrap_or_default()
        };
        let ritual_webhook = secrets_list("RITUAL_WEBHOOK_SECRET");
        if ritual_webhook.iter().any(|s| s.whsec_key().is_none()) {
            return Err(ConfigError::Env {
                name: "RITUAL_WEBHOOK_SECRET",
                message: "expected whsec_<base64> keys".into(),
            });
        }

        let discord_public_key = get("DISCORD_PUBLIC_KEY")
            .map(|k| PublicKey::parse(&k))
            .transpose()
            .map_err(|message| ConfigError::Env {
                name: "DISCORD_PUBLIC_KEY",
                message,
            })?;
        let discord_application_id = get("DISCORD_APPLICATION_ID");
        if discord_application_id
            .as_deref()
            .is_some_and(|id| !discord::is_snowflake(id))
        {
            return Err(ConfigError::Env {
                name: "DISCORD_APPLICATION_ID",
                message: "expected the application's id (decimal digits)".into(),
            });
        }

        let log_format = get("HELIX_LOG_FORMAT").unwrap_or_else(|| "pretty".into());
        if !matches!(log_format.as_str(), "pretty" | "json") {
            return Err(ConfigError::Env {
                name: "HELIX_LOG_FORMAT",
                message: format!("expected pretty or json, got {log_format:?}"),
            });
        }

        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/helix-sync.db".into());
        check_database_url(&database_url)?;

        Ok(Config {
            bind,
            database_url,
            sync_enabled: flag("HELIX_SYNC_ENABLED", true)?,
            manual_trigger: flag("HELIX_SYNC_MANUAL_TRIGGER", true)?,
            workers: number("HELIX_WORKERS", get("HELIX_WORKERS"))?
                .unwrap_or(2)
                .max(1),
            export_path: PathBuf::from(get("EXPORT_PATH").unwrap_or_else(|| "./exports".into())),
            export_formats,
            health_check_enabled: flag("HEALTH_CHECK_ENABLED", true)?,
            health_check_port: number("HEALTH_CHECK_PORT", get("HEALTH_CHECK_PORT"))?
                .unwrap_or(8001),
            github_api_url: get("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into()),
            discord_api_url: get("DISCORD_API_URL"),
            notion_api_url: get("NOTION_API_URL")
                .unwrap_or_else(|| "https://api.notion.com".into()),
            notion_database_id: get("NOTION_DATABASE_ID"),
            discord_channel_id: get("DISCORD_CHANNEL_ID"),
            discord_public_key,
            discord_application_id,
            node_name: get("HELIX_NODE_NAME"),
            github_repos,
            github_app,
            ucf_source: get("UCF_STATE_SOURCE").or_else(|| file.sources.ucf_state.path.clone()),
            agents_source: get("AGENT_METRICS_SOURCE")
                .or_else(|| file.sources.agent_metrics.path.clone()),
            agent_profiles_db: get("AGENT_PROFILES_DB")
                .or_else(|| file.sources.agent_metrics.profiles_db.clone()),
            log_format,
            public_url: get("HELIX_PUBLIC_URL"),
            mcp_allowed_hosts: get("HELIX_MCP_ALLOWED_HOSTS")
                .map(|l| {
                    l.split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            ws_ping_secs: number("HELIX_WS_PING_SECS", get("HELIX_WS_PING_SECS"))?
                .unwrap_or(20)
                .max(1),
            summary: summary::from_env(get)?,
            secrets: Secrets {
                github_webhook: secrets_list("GITHUB_WEBHOOK_SECRET"),
                ritual_webhook,
                api_token: get("HELIX_API_TOKEN").map(Secret::new),
                github_token: get("GITHUB_TOKEN").map(Secret::new),
                github_app_key,
                discord_webhook: get("DISCORD_SYNC_WEBHOOK").map(Secret::new),
                notion_api_key: get("NOTION_API_KEY").map(Secret::new),
                discord_bot_token: get("DISCORD_BOT_TOKEN").map(Secret::new),
                summary_api_key: get("HELIX_SUMMARY_API_KEY").map(Secret::new),
            },
            config_path,
            file,
        })
    }

    /// `path` on the public base URL (`HELIX_PUBLIC_URL`), for links in messages; `None`
    /// when no public URL is set.
    pub fn link(&self, path: &str) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}{path}"))
    }

    /// Start-up warnings: every part that is off because its credential is missing.
    pub fn disabled_parts(&self) -> Vec<String> {
        let s = &self.secrets;
        let mut out = Vec::new();
        if s.github_webhook.is_empty() {
            out.push("POST /webhooks/github answers 503: GITHUB_WEBHOOK_SECRET is not set".into());
        }
        if s.ritual_webhook.is_empty() {
            out.push("POST /webhooks/ritual answers 503: RITUAL_WEBHOOK_SECRET is not set".into());
        }
        if self.discord_public_key.is_none() || self.discord_application_id.is_none() {
            out.push(
                "POST /webhooks/discord (the Discord bot) answers 503: DISCORD_PUBLIC_KEY or \
                 DISCORD_APPLICATION_ID is not set"
                    .into(),
            );
        }
        if s.api_token.is_none() {
            out.push(
                "the bearer API (/api/*, /mcp) answers 503: HELIX_API_TOKEN is not set".into(),
            );
        }
        if self.github_repos.is_empty() {
            out.push("GitHub source disabled: GITHUB_REPOS is not set".into());
        } else if self.github_app.is_none() && s.github_token.is_none() {
            out.push(
                "GitHub source unauthenticated (60 requests an hour, public repositories only): \
                 set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN"
                    .into(),
            );
        }
        if s.discord_webhook.is_none() {
            out.push("Discord publisher disabled: DISCORD_SYNC_WEBHOOK is not set".into());
        }
        if s.notion_api_key.is_none() || self.notion_database_id.is_none() {
            out.push(
                "Notion publisher disabled: NOTION_API_KEY or NOTION_DATABASE_ID is not set".into(),
            );
        }
        out
    }
}

impl Config {
    /// The start-up warning for a server reachable beyond loopback without
    /// `HELIX_PUBLIC_URL`: `/mcp` then refuses every `Host` but loopback's, and console
    /// cookies are not `Secure` even behind a TLS proxy.
    pub fn public_url_warning(&self) -> Option<String> {
        if self.public_url.is_some() || self.bind.ip().is_loopback() {
            return None;
        }
        Some(format!(
            "HELIX_PUBLIC_URL is not set and the server listens on {}: /mcp answers only \
             loopback Host names (others get 403) and console cookies are not Secure; set it \
             to the URL clients use, e.g. https://sync.example.org",
            self.bind
        ))
    }
}

/// `GITHUB_APP_ID` with `GITHUB_APP_PRIVATE_KEY` (the PEM text; `\n` escapes, as some
/// platforms store a multi-line secret, are taken as newlines) or `GITHUB_APP_PRIVATE_KEY_FILE`,
/// checked now so that a bad one stops the start in one line naming the variable.
fn github_app(get: &impl Fn(&str) -> Option<String>) -> Result<Option<GithubApp>, ConfigError> {
    let id = get("GITHUB_APP_ID");
    let key = match (
        get("GITHUB_APP_PRIVATE_KEY"),
        get("GITHUB_APP_PRIVATE_KEY_FILE"),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Env {
                name: "GITHUB_APP_PRIVATE_KEY_FILE",
                message: "set either GITHUB_APP_PRIVATE_KEY or its _FILE, not both".into(),
            })
        }
        (Some(pem), None) => Some(pem.replace("\\n", "\n")),
        (None, Some(path)) => {
            Some(
                std::fs::read_to_string(&path).map_err(|e| ConfigError::Env {
                    name: "GITHUB_APP_PRIVATE_KEY_FILE",
                    message: format!("cannot read {path}: {e}"),
                })?,
            )
        }
        (None, None) => None,
    };
    let app = match (id, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::Env {
                name: "GITHUB_APP_PRIVATE_KEY",
                message: "GITHUB_APP_ID is set: the App's private key is needed too".into(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Env {
                name: "GITHUB_APP_ID",
                message: "the App's private key is set: its id is needed too".into(),
            })
        }
        (Some(app_id), Some(pem)) => GithubApp {
            app_id,
            private_key: Secret::new(pem),
        },
    };
    app.check()
        .map_err(|(name, message)| ConfigError::Env { name, message })?;
    Ok(Some(app))
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The schemes the store opens: a SQLite file or a PostgreSQL server.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    if matches!(scheme, "sqlite" | "postgres" | "postgresql") {
        return Ok(());
    }
    Err(ConfigError::Env {
        name: "DATABASE_URL",
        message: format!(
            "unsupported scheme {scheme:?}; use sqlite://<file> or postgres://<user>@<host>/<db>"
        ),
    })
}

/// Reads and strictly parses the JSON file. A missing file means all defaults only when it
/// is the default path (`named` false); a file `HELIX_CONFIG` names must exist.
fn read_file(path: &Path, named: bool) -> Result<FileConfig, ConfigError> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
            return Ok(FileConfig::default())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::Env {
                name: "HELIX_CONFIG",
                message: format!("{file} does not exist (unset HELIX_CONFIG for all defaults)"),
            })
        }
        Err(source) => return Err(ConfigError::Read { file, source }),
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    let parsed: FileConfig =
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Invalid {
            file: file.clone(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    validate(&parsed).map_err(|(key, message)| ConfigError::Invalid { file, key, message })?;
    Ok(parsed)
}

/// Checks that serde cannot express: cron syntax, the daily time, known names.
fn validate(f: &FileConfig) -> Result<(), (String, String)> {
    f.http.check()?;
    if let Some(daily) = &f.sync_schedule.daily {
        schedule::daily_expression(daily).map_err(|m| ("sync_schedule.daily".to_owned(), m))?;
    }
    for (i, expr) in f.sync_schedule.cron.iter().enumerate() {
        schedule::parse_cron(expr).map_err(|m| (format!("sync_schedule.cron[{i}]"), m))?;
    }
    const INCLUDES: [&str; 6] = [
        "commits",
        "issues",
        "prs",
        "releases",
        "deployments",
        "stats",
    ];
    let gh = &f.sources.github;
    if !matches!(gh.change_markers.as_str(), "graphql" | "rest") {
        return Err((
            "sources.github.change_markers".into(),
            format!("{:?}: expected graphql or rest", gh.change_markers),
        ));
    }
    if !(1..=64).contains(&gh.max_in_flight) {
        return Err((
            "sources.github.max_in_flight".into(),
            "must be 1 to 64 (GitHub's secondary limits punish floods)".into(),
        ));
    }
    for (i, inc) in f.sources.github.include.iter().enumerate() {
        if !INCLUDES.contains(&inc.as_str()) {
            return Err((
                format!("sources.github.include[{i}]"),
                format!("unknown {inc:?}; valid: {}", INCLUDES.join(", ")),
            ));
        }
    }
    for (i, m) in f.sources.ucf_state.metrics.iter().enumerate() {
        if !UCF_METRICS.contains(&m.as_str()) {
            return Err((
                format!("sources.ucf_state.metrics[{i}]"),
                format!("unknown metric {m:?}"),
            ));
        }
    }
    if f.sources.timeout_secs == 0 {
        return Err((
            "sources.timeout_secs".into(),
            "must be at least 1 second".into(),
        ));
    }
    f.publishers.discord.command_roles.check()?;
    delivery::validate(&f.delivery)?;
    if f.queue.max_attempts == 0 {
        return Err(("queue.max_attempts".into(), "must be at least 1".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
