//! Who is asking and what they may do: local users with a role, argon2 password hashes,
//! console sessions, per-user API tokens, login rate limiting, and the audit trail's actor.
//!
//! Three roles, each including the one before: **viewer** reads, **operator** also acts on
//! the queue (replay, retry, cancel, run now, trigger), **admin** also manages users and
//! tokens and reads the audit log. Every way in ends in a [`Principal`]: a console session
//! cookie, a user's API token, `HELIX_API_TOKEN` (the bootstrap admin, so a fresh install can
//! be driven before any user exists), or the local CLI.
//!
//! Secrets the client holds (session cookies, API tokens) are stored as their SHA-256 only:
//! they carry 256 random bits, so a fast hash is enough and lookups stay one indexed read,
//! while passwords, which people choose, get argon2id. This module never knows about pages
//! or forms (that is `console`) and never writes SQL (that is `store`).

pub mod bearer;
pub mod cookie;
pub mod limiter;
pub mod password;
pub mod session;

use serde::Serialize;

pub use bearer::authenticate;
pub use limiter::LoginLimiter;

/// What a principal may do; ordered so that `role >= Role::Operator` reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Session,
    Token,
    /// `HELIX_API_TOKEN`.
    Bootstrap,
    /// The `helix-sync` command line on the server (whoever can run it can read the
    /// database anyway).
    Cli,
    /// A Discord member using the bot's slash commands, with the role their Discord roles
    /// map to (`publishers.discord.command_roles`); the interaction's signature proves it.
    Discord,
}

/// An authenticated caller.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

impl Principal {
    pub fn bootstrap() -> Self {
        Self {
            name: "HELIX_API_TOKEN".into(),
            role: Role::Admin,
            via: Via::Bootstrap,
        }
    }

    /// The local command line, as the account that runs it: `cli:<user>`.
    pub fn cli() -> Self {
        Self {
            name: format!("cli:{}", unix_user()),
            role: Role::Admin,
            via: Via::Cli,
        }
    }

    /// The local command line acting for a named person (`rollback --by NAME`): the name
    /// says both, `NAME (cli:<user>)`, so neither the run nor the audit log loses who ran it.
    pub fn cli_for(person: &str) -> Self {
        Self {
            name: format!("{} (cli:{})", person.trim(), unix_user()),
            ..Self::cli()
        }
    }

    /// A Discord member, as `discord:<username> (<user id>)`: the name can change, the id
    /// cannot.
    pub fn discord(username: &str, user_id: &str, role: Role) -> Self {
        Self {
            name: format!("discord:{}", discord_member(username, user_id)),
            role,
            via: Via::Discord,
        }
    }

    /// The name the audit log records: who, and how they came in.
    pub fn actor(&self) -> String {
        match self.via {
            Via::Session => self.name.clone(),
            Via::Token => format!("{} (API token)", self.name),
            Via::Bootstrap | Via::Cli | Via::Discord => self.name.clone(),
        }
    }

    /// `Ok` when the principal has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                needed: role,
                had: self.role,
            })
        }
    }
}

/// How a Discord member is named on a run and in the audit log: `<username> (<user id>)`.
pub fn discord_member(username: &str, user_id: &str) -> String {
    format!("{} ({user_id})", username.trim())
}

/// The account running this process: `$USER` (or `$LOGNAME`), else its numeric uid, so the
/// audit log names someone even where the environment does not (a container's entrypoint).
fn unix_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.trim().is_empty())
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials at all, and no way in configured.
    #[error("HELIX_API_TOKEN is not configured on this server, and the token is no user's")]
    NotConfigured,
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("this needs the {} role; you are {}", needed.as_str(), had.as_str())]
    Forbidden { needed: Role, had: Role },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// 32 random bytes, base64url without padding (43 characters), after `prefix`.
pub fn random_secret(prefix: &str) -> String {
    use base64::Engine;
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a client-held secret (hex SHA-256).
pub fn secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two short texts (CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        let viewer = Principal {
            name: "v".into(),
            role: Role::Viewer,
            via: Via::Session,
        };
        assert!(viewer.require(Role::Viewer).is_ok());
        assert!(matches!(
            viewer.require(Role::Operator),
            Err(AuthError::Forbidden { .. })
        ));
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let a = random_secret("hxs_");
        assert!(a.starts_with("hxs_") && a.len() == 47);
        assert_ne!(a, random_secret("hxs_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_eq!(secret_hash(&a).len(), 64);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
