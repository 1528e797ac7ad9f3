//! Login rate limiting: failed logins are counted per user name and per client address in a
//! sliding window; past the limit, further attempts are refused without checking the
//! password until the window has passed.
//!
//! Per name stops guessing one account's password from many addresses; per address stops
//! one client from trying many names. Behind a reverse proxy every client shares the
//! proxy's address, so the per-address limit is generous and the per-name one does the
//! work. The table is bounded ([`MAX_KEYS`]): when full, the entry that was touched longest
//! ago goes, so a flood of made-up names costs memory once and never grows it. It lives in
//! memory: a restart forgets it, which costs an attacker a restart's worth of guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed logins per name within [`WINDOW_MS`].
pub const PER_NAME: u32 = 5;
/// Failed logins per client address within [`WINDOW_MS`].
pub const PER_ADDRESS: u32 = 20;
/// The window (15 minutes).
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Entries kept at most.
pub const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String),
    Address(IpAddr),
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    /// Failure times per key, oldest first.
    failures: Mutex<HashMap<Key, Vec<i64>>>,
}

impl LoginLimiter {
    fn keys(name: &str, address: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = vec![(Key::Name(name.to_lowercase()), PER_NAME)];
        if let Some(a) = address {
            keys.push((Key::Address(a), PER_ADDRESS));
        }
        keys
    }

    /// When the next attempt for `name` from `address` is allowed (unix ms), or `None` if
    /// now.
    pub fn blocked_until(&self, name: &str, address: Option<IpAddr>, now: i64) -> Option<i64> {
        let table = self.failures.lock().expect("limiter lock");
        Self::keys(name, address)
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = table.get(&key)?;
                let recent: Vec<i64> = times
                    .iter()
                    .copied()
                    .filter(|t| now - t < WINDOW_MS)
                    .collect();
                (recent.len() as u32 >= limit)
                    .then(|| recent[recent.len() - limit as usize] + WINDOW_MS)
            })
            .max()
    }

    /// Counts a failed login.
    pub fn failed(&self, name: &str, address: Option<IpAddr>, now: i64) {
        let mut table = self.failures.lock().expect("limiter lock");
        for (key, limit) in Self::keys(name, address) {
            if !table.contains_key(&key) && table.len() >= MAX_KEYS {
                let stalest = table
                    .iter()
                    .min_by_key(|(_, times)| times.last().copied().unwrap_or(0))
                    .map(|(k, _)| k.clone());
                if let Some(k) = stalest {
                    table.remove(&k);
                }
            }
            let times = table.entry(key).or_default();
            times.retain(|t| now - t < WINDOW_MS);
            times.push(now);
            // Only the last `limit` failures decide anything.
            let excess = times.len().saturating_sub(limit as usize);
            times.drain(..excess);
        }
    }

    /// A successful login clears the name's failures (not the address's).
    pub fn succeeded(&self, name: &str) {
        let mut table = self.failures.lock().expect("limiter lock");
        table.remove(&Key::Name(name.to_lowercase()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_name_after_its_limit_until_the_window_passes() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..PER_NAME as i64 {
            assert_eq!(l.blocked_until("alice", Some(ip), i), None);
            l.failed("Alice", Some(ip), i);
        }
        let until = l.blocked_until("alice", None, 10).expect("blocked");
        assert_eq!(until, WINDOW_MS);
        assert_eq!(l.blocked_until("alice", None, WINDOW_MS + 1), None);
        assert_eq!(l.blocked_until("bob", Some(ip), 10), None);
        l.succeeded("alice");
        assert_eq!(l.blocked_until("alice", None, 10), None);
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let l = LoginLimiter::default();
        for i in 0..(MAX_KEYS + 50) {
            l.failed(&format!("name{i}"), None, i as i64);
        }
        assert_eq!(l.len(), MAX_KEYS);
    }
}
