//! The data lifecycle keys of `sync_config.json`: how long stored rows live (`retention`)
//! and when the disk they take turns `/health` degraded (`disk`).
//!
//! Periods are written `"30d"`, `"12h"`, `"45m"` or `"90s"` (or a bare number of days);
//! sizes `"10GiB"`, `"500MB"` (or a bare number of bytes). A period or batch of zero or less,
//! or one that does not parse, is refused at start with the key named (through
//! `serde_path_to_error`, like every other key): a typo must never mean "delete everything
//! now" or "keep nothing". This module only describes and validates; pruning lives in
//! `store::retention`, and it never reads anything after start-up.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How long each kind of stored row is kept, by age and state. Whatever a run still needs
/// (its change summary and deliveries, the newest run of each trigger, the newest success,
/// the snapshot the next diff compares against, anything not finished) is kept regardless.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Received webhook events (the signed bodies), once their job has finished. Also how
    /// long a redelivered event is still recognised as a duplicate.
    pub events: Period,
    /// Jobs that `succeeded` or were `cancelled`.
    pub jobs_succeeded: Period,
    /// Jobs that ended `dead` (out of attempts): kept longer, they are what operators debug.
    pub jobs_dead: Period,
    /// Runs that `succeeded` or were `partial`, with their change summary and deliveries.
    pub runs: Period,
    /// Runs that `failed`.
    pub runs_failed: Period,
    /// Stored snapshots (what exports of a past run and trend charts read). A snapshot
    /// chain goes only once all of it is older than this.
    pub snapshots: Period,
    /// Schedule firings (the ledger that makes a firing run once); the newest firing of
    /// each schedule is always kept.
    pub schedule_firings: Period,
    /// The console's audit log (who replayed, retried, ran or changed what): a year covers
    /// the usual yearly access review.
    pub audit_log: Period,
    /// How often the scheduler fires a pruning pass.
    pub prune_every: Period,
    /// The most rows deleted per statement. Each batch is its own short transaction, sized
    /// down further at run time so that it holds the writer about 2 ms: ingest never waits
    /// behind a long delete.
    pub batch_size: BatchSize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let days = |d: u64| Period(Duration::from_secs(d * 86_400));
        Self {
            events: days(30),
            jobs_succeeded: days(7),
            jobs_dead: days(90),
            runs: days(365),
            runs_failed: days(90),
            snapshots: days(90),
            schedule_firings: days(30),
            audit_log: days(365),
            prune_every: Period(Duration::from_secs(600)),
            batch_size: BatchSize(500),
        }
    }
}

/// When disk use turns `/health` degraded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskConfig {
    /// Degraded once the database (with its WAL on SQLite) is larger than this; `null`: never.
    pub degraded_above: Option<Size>,
    /// Degraded once the file system holding a SQLite database has less free space than
    /// this; `null`: never. (PostgreSQL's disk is the server's: watch it there.)
    pub degraded_free_below: Option<Size>,
}

impl Default for DiskConfig {
    fn default() -> Self {
        Self {
            degraded_above: None,
            degraded_free_below: Some(Size(1 << 30)),
        }
    }
}

/// A positive duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub Duration);

impl Period {
    pub fn as_millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A positive number of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchSize(pub u32);

/// A positive number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

/// A key's value as written: a string with a unit, or a bare number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Int(i64),
    Float(f64),
    Text(String),
    /// Anything else (`null`, a list…), kept to be named in the error.
    Other(serde_json::Value),
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Int(n) => write!(f, "{n}"),
            Raw::Float(n) => write!(f, "{n}"),
            Raw::Text(s) => write!(f, "{s:?}"),
            Raw::Other(v) => write!(f, "{v}"),
        }
    }
}

/// Splits `"30d"` into `(30, "d")`; the number must be a positive integer.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    (n > 0).then_some((n, unit.trim()))
}

fn parse_period(raw: &Raw) -> Option<Duration> {
    let secs = match raw {
        Raw::Int(days) if *days > 0 => (*days as u64).checked_mul(86_400)?,
        Raw::Text(text) => {
            let (n, unit) = number_and_unit(text)?;
            let per = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3_600,
                "d" | "" => 86_400,
                "w" => 7 * 86_400,
                _ => return None,
            };
            n.checked_mul(per)?
        }
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn parse_size(raw: &Raw) -> Option<u64> {
    match raw {
        Raw::Int(bytes) if *bytes > 0 => Some(*bytes as u64),
        Raw::Text(text) => {
            let (n, unit) = number_and_unit(text)?;
            let shift = match unit.to_ascii_lowercase().as_str() {
                "" | "b" => 0,
                "k" | "kb" | "kib" => 10,
                "m" | "mb" | "mib" => 20,
                "g" | "gb" | "gib" => 30,
                "t" | "tb" | "tib" => 40,
                _ => return None,
            };
            n.checked_mul(1u64 << shift)
        }
        _ => None,
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        parse_period(&raw).map(Period).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a duration above zero such as \"30d\", \"12h\", \"45m\" or a number of days, got {raw}"
            ))
        })
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let secs = self.0.as_secs();
        let text = match secs {
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3_600 == 0 => format!("{}h", s / 3_600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        };
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        match raw {
            Raw::Int(n) if n > 0 && n <= 100_000 => Ok(BatchSize(n as u32)),
            other => Err(serde::de::Error::custom(format!(
                "expected a number of rows from 1 to 100000, got {other}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        parse_size(&raw).map(Size).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a size above zero such as \"10GiB\", \"500MB\" or a number of bytes, got {raw}"
            ))
        })
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(json: &str) -> Result<Period, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn periods_parse_with_units_or_as_days() {
        assert_eq!(period("\"12h\"").unwrap().0, Duration::from_secs(43_200));
        assert_eq!(
            period("\"30d\"").unwrap().0,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(period("7").unwrap().0, Duration::from_secs(7 * 86_400));
        assert_eq!(
            period("\"2w\"").unwrap().0,
            Duration::from_secs(14 * 86_400)
        );
    }

    #[test]
    fn zero_negative_and_malformed_periods_are_refused() {
        for bad in [
            "0", "-3", "\"0d\"", "\"-1d\"", "\"abc\"", "\"7x\"", "1.5", "\"\"", "null",
        ] {
            let e = period(bad).expect_err(bad);
            assert!(e.contains("duration above zero"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        let size = |j: &str| serde_json::from_str::<Size>(j).map(|s| s.0);
        assert_eq!(size("\"1GiB\"").unwrap(), 1 << 30);
        assert_eq!(size("\"500MB\"").unwrap(), 500 << 20);
        assert_eq!(size("4096").unwrap(), 4096);
        assert!(size("\"0GB\"").is_err() && size("-1").is_err() && size("\"lots\"").is_err());
    }

    #[test]
    fn periods_print_back_in_their_unit() {
        let cfg = RetentionConfig::default();
        let v = serde_json::to_value(&cfg).unwrap();
        assert_eq!(v["events"], "30d");
        assert_eq!(v["prune_every"], "10m");
        assert_eq!(v["batch_size"], 500);
    }
}
