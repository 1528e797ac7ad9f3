//! The Discord bot's settings: the application's public key and id (environment), and which
//! Discord roles map onto ours (`publishers.discord.command_roles` in the file).
//!
//! The public key is checked at start: 64 hex characters that decode to a valid Ed25519
//! point, so a key pasted wrong is a one-line start-up error naming the variable rather than
//! a 401 for every interaction. Ids are Discord snowflakes (decimal digits). Nothing here
//! verifies a signature (that is `ingest::discord`) or knows about our roles (`auth`).

use serde::{Deserialize, Serialize};

/// The application's Ed25519 public key, which signs its interactions (not a secret).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Parses the hex form the developer portal shows.
    pub fn parse(hex_text: &str) -> Result<Self, String> {
        let bytes: [u8; 32] = hex::decode(hex_text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("expected 64 hex characters (the application's public key)")?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "not a valid Ed25519 public key")?;
        Ok(Self(bytes))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

/// Whether `id` looks like a Discord snowflake: 1 to 20 decimal digits.
pub fn is_snowflake(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// The Discord role ids whose members may use the bot's commands, per role of ours. A member
/// with none of them is refused; one with several gets the highest.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandRoles {
    /// May also queue syncs and roll back (`/helix sync`, `/helix rollback`).
    pub operator: Vec<String>,
    /// May read (`/helix status`, `/helix history`).
    pub viewer: Vec<String>,
}

impl CommandRoles {
    /// Every id must be a snowflake.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (list, ids) in [("operator", &self.operator), ("viewer", &self.viewer)] {
            if let Some((i, bad)) = ids.iter().enumerate().find(|(_, id)| !is_snowflake(id)) {
                return Err((
                    format!("publishers.discord.command_roles.{list}[{i}]"),
                    format!("{bad:?} is not a Discord role id (decimal digits)"),
                ));
            }
        }
        Ok(())
    }

    /// Whether any of `member_roles` is in `list`.
    pub fn grants(list: &[String], member_roles: &[String]) -> bool {
        member_roles.iter().any(|r| list.contains(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_64_hex_characters_of_a_valid_point() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = hex::encode(key.as_bytes());
        assert_eq!(PublicKey::parse(&text).unwrap().bytes(), key.as_bytes());
        assert!(PublicKey::parse(&text[..62]).is_err());
        assert!(PublicKey::parse(&format!("{}zz", &text[..62])).is_err());
        assert!(PublicKey::parse("").is_err());
    }

    #[test]
    fn role_ids_must_be_snowflakes() {
        let ok = CommandRoles {
            operator: vec!["123".into()],
            viewer: vec![],
        };
        assert!(ok.check().is_ok());
        let bad = CommandRoles {
            operator: vec![],
            viewer: vec!["1".into(), "admins".into()],
        };
        let (key, msg) = bad.check().unwrap_err();
        assert_eq!(key, "publishers.discord.command_roles.viewer[1]");
        assert!(msg.contains("admins"), "{msg}");
        assert!(is_snowflake("81384788765712384") && !is_snowflake("") && !is_snowflake("1a"));
    }
}
