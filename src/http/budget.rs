//! The bytes of webhook bodies held before their signature is verified, bounded across all
//! requests (`http.unverified_body_budget_bytes`).
//!
//! A webhook body must be read whole before its HMAC can be checked, so unsigned uploads
//! could fill memory: eight parallel 26 MB uploads once added 140 MiB. Every such body
//! takes its bytes from this budget as they arrive (its declared `Content-Length` at once);
//! one that would go over is answered 503 with `Retry-After` at that moment, and the bytes
//! return to the budget when the request is verified or dropped.
//!
//! Verified traffic is not starved by whoever holds the budget, by two rules:
//! - one client address holds at most `unverified_per_client_bytes`, so a single sender
//!   cannot take it all;
//! - `unverified_reserved_bytes` of it are only for addresses whose last webhook was
//!   correctly signed (within the last hour). GitHub and the ritual system sign every
//!   delivery, so they keep that share while unsigned uploads, from however many addresses,
//!   compete for the rest. A sender never seen before competes with them until its first
//!   verified delivery.
//!
//! The address is the TCP peer. Behind a proxy every request has the proxy's address, so
//! the per-address rules then act on the proxy as a whole; the global bound still holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

use super::error::{read_limited, ApiError};
use crate::config::ServerLimits;

/// How long a correctly signed delivery keeps its sender in the reserved share.
const TRUST_FOR: Duration = Duration::from_secs(3600);
/// Most addresses remembered as trusted (the oldest is forgotten first).
const TRUSTED_MAX: usize = 4096;

/// The shared budget of unverified body bytes.
pub struct UnverifiedBudget {
    limits: ServerLimits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    held: usize,
    by_client: HashMap<IpAddr, usize>,
    /// Address → when its last verified delivery arrived.
    trusted: HashMap<IpAddr, Instant>,
}

/// Bytes one request holds; returned to the budget on drop.
pub struct Hold {
    budget: Arc<UnverifiedBudget>,
    client: IpAddr,
    bytes: usize,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut s = self.budget.lock();
        s.held -= self.bytes;
        if let Some(n) = s.by_client.get_mut(&self.client) {
            *n -= self.bytes;
            if *n == 0 {
                s.by_client.remove(&self.client);
            }
        }
    }
}

impl UnverifiedBudget {
    pub fn new(limits: &ServerLimits) -> Arc<Self> {
        Arc::new(Self {
            limits: limits.clone(),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few counters updated in one step each: a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held right now, across all requests.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// A hold of nothing yet, for `client`.
    pub fn hold(self: &Arc<Self>, client: IpAddr) -> Hold {
        Hold {
            budget: self.clone(),
            client,
            bytes: 0,
        }
    }

    /// Adds `n` bytes to `hold`, or refuses with a 503 naming which bound was reached.
    fn take(&self, hold: &mut Hold, n: usize) -> Result<(), ApiError> {
        let l = &self.limits;
        let mut s = self.lock();
        let mine = s.by_client.get(&hold.client).copied().unwrap_or(0);
        if mine + n > l.unverified_per_client_bytes {
            return Err(busy(
                "this client already has too many unverified bytes in flight",
            ));
        }
        let trusted = s
            .trusted
            .get(&hold.client)
            .is_some_and(|at| at.elapsed() < TRUST_FOR);
        let pool = if trusted {
            l.unverified_body_budget_bytes
        } else {
            l.unverified_body_budget_bytes - l.unverified_reserved_bytes
        };
        if s.held + n > pool {
            return Err(busy("too many unverified bytes in flight"));
        }
        s.held += n;
        *s.by_client.entry(hold.client).or_default() += n;
        hold.bytes += n;
        Ok(())
    }

    /// Records that `client` just delivered a correctly signed webhook.
    pub fn trust(&self, client: IpAddr) {
        let mut s = self.lock();
        if s.trusted.len() >= TRUSTED_MAX && !s.trusted.contains_key(&client) {
            s.trusted.retain(|_, at| at.elapsed() < TRUST_FOR);
            if s.trusted.len() >= TRUSTED_MAX {
                let oldest = s.trusted.iter().min_by_key(|(_, at)| **at).map(|(c, _)| *c);
                if let Some(c) = oldest {
                    s.trusted.remove(&c);
                }
            }
        }
        s.trusted.insert(client, Instant::now());
    }

    /// Reads a body not yet verified, up to `limit` bytes (413 above), each byte taken from
    /// the budget before it is kept (503 when the budget says no).
    pub async fn read(
        self: &Arc<Self>,
        client: IpAddr,
        headers: &HeaderMap,
        body: axum::body::Body,
        limit: usize,
    ) -> Result<(bytes::Bytes, Hold), ApiError> {
        let mut hold = self.hold(client);
        let declared = super::error::declared_length(headers).filter(|n| *n <= limit as u64);
        if let Some(n) = declared {
            self.take(&mut hold, n as usize)?;
        }
        let bytes = read_limited(headers, body, limit, |total| {
            let more = total.saturating_sub(hold.bytes);
            match more {
                0 => Ok(()),
                n => self.take(&mut hold, n),
            }
        })
        .await?;
        Ok((bytes, hold))
    }
}

fn busy(why: &str) -> ApiError {
    ApiError::Busy(format!("{why}; retry shortly"))
}

/// The client's address, when the server recorded it (not in router-only tests).
pub fn client_of(info: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Arc<UnverifiedBudget> {
        UnverifiedBudget::new(&ServerLimits {
            unverified_body_budget_bytes: 100,
            unverified_per_client_bytes: 40,
            unverified_reserved_bytes: 30,
            ..ServerLimits::default()
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn shares_per_client_reserve_and_release() {
        let b = budget();
        let (mut a1, mut a2, mut a3) = (b.hold(ip(1)), b.hold(ip(2)), b.hold(ip(3)));
        b.take(&mut a1, 40).unwrap();
        assert!(b.take(&mut a1, 1).is_err(), "per-client share");
        b.take(&mut a2, 30).unwrap();
        assert!(
            b.take(&mut a3, 1).is_err(),
            "the unreserved pool (70) is full"
        );
        b.trust(ip(9));
        let mut good = b.hold(ip(9));
        b.take(&mut good, 30).unwrap();
        assert!(b.take(&mut good, 1).is_err(), "everything is held");
        drop(a1);
        b.take(&mut a3, 10).unwrap();
        assert!(b.take(&mut a3, 1).is_err(), "reserved bytes stay reserved");
        drop((a2, a3, good));
        assert_eq!(b.lock().held, 0);
        assert!(b.lock().by_client.is_empty());
    }
}
