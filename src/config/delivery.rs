//! The `delivery` section of `sync_config.json`: how each publish target is retried, when its
//! circuit breaker opens, how many of its jobs may run at once, and how event-driven syncs
//! are debounced.
//!
//! The defaults are the ones the README argues for: the Standard Webhooks retry shape (an
//! outage of a day costs time, never a message), a breaker after 5 consecutive failures that
//! probes once a minute, one running delivery per target (messages stay in order), and a
//! 300 ms quiet period with a 5 s maximum delay for bursts of webhooks. This file only
//! describes and validates; the queue and the publishers apply it.

use serde::{Deserialize, Serialize};

/// The whole `delivery` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Per publish target.
    pub targets: DeliveryTargets,
    /// Running jobs per kind, across every worker and replica.
    pub concurrency: KindConcurrency,
    /// Debounce of syncs asked for by webhooks (GitHub, ritual).
    pub debounce: DebounceConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryTargets {
    pub discord: TargetPolicy,
    pub notion: TargetPolicy,
    pub portal: TargetPolicy,
}

impl DeliveryTargets {
    /// The policy of `target` (the default policy for a name we do not know).
    pub fn get(&self, target: &str) -> TargetPolicy {
        match target {
            "discord" => self.discord.clone(),
            "notion" => self.notion.clone(),
            "portal" => self.portal.clone(),
            _ => TargetPolicy::default(),
        }
    }

    fn all(&self) -> [(&'static str, &TargetPolicy); 3] {
        [
            ("discord", &self.discord),
            ("notion", &self.notion),
            ("portal", &self.portal),
        ]
    }
}

/// How one target's deliveries are retried and protected.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetPolicy {
    /// Delay before each retry, in seconds; the first attempt is immediate. A delivery is
    /// dead after `1 + len` failed attempts made while the breaker was closed.
    pub retry_schedule_secs: Vec<f64>,
    /// Consecutive failed attempts (any delivery of the target) that open the breaker.
    pub breaker_failures: u32,
    /// While open, one delivery probes the target this often; the rest wait.
    pub probe_interval_secs: f64,
    /// Deliveries of this target running at once; `null` = bounded by the workers only.
    pub max_concurrent: Option<u32>,
}

/// The Standard Webhooks schedule after the immediate first attempt: 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h, 10 h (27.6 hours in all).
pub const STANDARD_SCHEDULE_SECS: [f64; 7] =
    [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0];

impl Default for TargetPolicy {
    fn default() -> Self {
        Self {
            retry_schedule_secs: STANDARD_SCHEDULE_SECS.to_vec(),
            breaker_failures: 5,
            probe_interval_secs: 60.0,
            max_concurrent: Some(1),
        }
    }
}

impl TargetPolicy {
    /// Attempts a delivery gets while the breaker is closed.
    pub fn max_attempts(&self) -> i64 {
        self.retry_schedule_secs.len() as i64 + 1
    }

    /// The delay after failed attempt number `attempt` (1-based); `None` when none is left.
    pub fn delay_after(&self, attempt: i64) -> Option<std::time::Duration> {
        let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let secs = *self.retry_schedule_secs.get(i)?;
        Some(std::time::Duration::from_secs_f64(secs))
    }

    pub fn probe_interval_ms(&self) -> i64 {
        (self.probe_interval_secs * 1000.0).ceil() as i64
    }
}

/// Running jobs per kind (`null` = bounded by the workers only).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindConcurrency {
    pub sync: Option<u32>,
    pub publish: Option<u32>,
}

/// A burst of events for one coalescing key runs once its quiet period passed, and never
/// later than the maximum delay after the first event it covers. An event with no other
/// event of its key in the last quiet period runs at once (leading edge).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebounceConfig {
    /// Milliseconds without a new event before a burst's run starts; 0 switches debounce off.
    pub quiet_ms: u64,
    /// Milliseconds a burst's run may be put off at most.
    pub max_delay_ms: u64,
}

impl Default for DebounceConfig {
    fn default() -> Self {
        Self {
            quiet_ms: 300,
            max_delay_ms: 5000,
        }
    }
}

/// Checks serde cannot express; `Err((key, message))`.
pub(super) fn validate(d: &DeliveryConfig) -> Result<(), (String, String)> {
    for (name, p) in d.targets.all() {
        let key = |k: &str| format!("delivery.targets.{name}.{k}");
        if let Some(bad) = p
            .retry_schedule_secs
            .iter()
            .position(|s| !s.is_finite() || *s < 0.0)
        {
            return Err((
                format!("{}[{bad}]", key("retry_schedule_secs")),
                "must be a number of seconds, 0 or more".into(),
            ));
        }
        if p.breaker_failures == 0 {
            return Err((key("breaker_failures"), "must be at least 1".into()));
        }
        if !p.probe_interval_secs.is_finite() || p.probe_interval_secs <= 0.0 {
            return Err((key("probe_interval_secs"), "must be more than 0".into()));
        }
        if p.max_concurrent == Some(0) {
            return Err((key("max_concurrent"), "must be at least 1 (or null)".into()));
        }
    }
    for (kind, n) in [
        ("sync", d.concurrency.sync),
        ("publish", d.concurrency.publish),
    ] {
        if n == Some(0) {
            return Err((
                format!("delivery.concurrency.{kind}"),
                "must be at least 1 (or null)".into(),
            ));
        }
    }
    if d.debounce.quiet_ms > d.debounce.max_delay_ms {
        return Err((
            "delivery.debounce.max_delay_ms".into(),
            "must be at least quiet_ms".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_standard_webhooks_shape() {
        let p = TargetPolicy::default();
        assert_eq!(p.max_attempts(), 8);
        assert_eq!(p.delay_after(1).unwrap().as_secs(), 5);
        assert_eq!(p.delay_after(7).unwrap().as_secs(), 36_000);
        assert!(p.delay_after(8).is_none() && p.delay_after(0).is_none());
        let span: f64 = p.retry_schedule_secs.iter().sum();
        assert!(span > 24.0 * 3600.0, "spans a day-long outage");
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut d = DeliveryConfig::default();
        d.targets.notion.retry_schedule_secs = vec![1.0, -2.0];
        assert_eq!(
            validate(&d).unwrap_err().0,
            "delivery.targets.notion.retry_schedule_secs[1]"
        );
        let mut d = DeliveryConfig::default();
        d.debounce.quiet_ms = 10_000;
        assert_eq!(
            validate(&d).unwrap_err().0,
            "delivery.debounce.max_delay_ms"
        );
        assert!(validate(&DeliveryConfig::default()).is_ok());
    }
}
