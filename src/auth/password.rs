//! Password hashing with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes, the
//! OWASP recommendation), stored as a PHC string so the parameters travel with the hash and
//! can be raised later without invalidating old ones.
//!
//! Hashing is deliberately slow (tens of milliseconds), so callers run it on a blocking
//! thread ([`hash`] and [`verify`] do that themselves) and never on the request's task.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest password accepted (NIST SP 800-63B's minimum for user-chosen secrets).
pub const MIN_LEN: usize = 8;
/// Longest accepted, so nobody makes us hash a megabyte.
pub const MAX_LEN: usize = 1024;

/// Why a password is not acceptable (the message names the rule).
pub fn check(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!(
            "the password must have at least {MIN_LEN} characters"
        ));
    }
    if password.len() > MAX_LEN {
        return Err(format!("the password must have at most {MAX_LEN} bytes"));
    }
    Ok(())
}

fn hash_now(password: &str) -> String {
    use rand::RngExt;
    let salt: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password within MAX_LEN")
        .to_string()
}

fn verify_now(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The PHC string of a new hash of `password`.
pub async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("hashing does not panic")
}

/// Whether `password` matches `hash`. With no hash (an unknown user) a dummy hash is
/// checked anyway, so the answer takes as long as for a real user and does not tell an
/// attacker which names exist.
pub async fn verify(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_now(&h, &password),
        None => {
            verify_now(dummy(), &password);
            false
        }
    })
    .await
    .expect("verifying does not panic")
}

fn dummy() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not a password anyone has"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_now("correct horse");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_now(&a, "correct horse"));
        assert!(!verify_now(&a, "correct horsE"));
        assert_ne!(a, hash_now("correct horse"));
        assert!(!verify_now("not a phc string", "x"));
    }

    #[test]
    fn rules() {
        assert!(check("short").is_err());
        assert!(check("long enough").is_ok());
        assert!(check(&"x".repeat(2000)).is_err());
    }
}
