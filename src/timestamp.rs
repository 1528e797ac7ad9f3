//! Times in and out: one reader for every place a timestamp comes in (UCF documents, agent
//! states, the profiles database, ritual events, GitHub), and one RFC 3339 writer for every
//! place one goes out (the API, exports, feeds, Notion, GitHub query strings).
//!
//! The ecosystem's Python daemon writes `datetime.utcnow().isoformat()`, e.g.
//! `2026-11-25T09:30:00.123456`: UTC, but without a zone. Such a value is read as UTC here;
//! refusing it (or treating it as "unknown time") made a days-old file look newer than
//! anything else. A value with an offset is read as RFC 3339. This module must never guess
//! a local time zone: the server's zone is not the sender's.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// The zone-less forms accepted (ISO 8601 as Python's `isoformat()` and SQLite's
/// `datetime()` write them), read as UTC.
const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// `s` as a UTC instant: RFC 3339 with an offset, or one of the zone-less ISO forms read as
/// UTC. `None` when it is neither.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 3339 allows a space for the `T`; chrono's parser does not take one with an offset.
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    NAIVE_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// `t` as RFC 3339 in UTC with whole seconds: `2026-11-25T09:30:00Z`. Exports, feeds, Notion
/// dates and GitHub's `since` parameters use this form.
pub fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A unix-millisecond time as RFC 3339 in UTC with milliseconds: `2026-11-25T09:30:00.123Z`.
/// The API, the console and the CLI show stored times (all unix ms) this way.
pub fn millis(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `s` rewritten as RFC 3339 in UTC (`…Z`) when it parses, so that everything downstream
/// (exports, feeds, comparisons) sees one unambiguous form; otherwise `s` unchanged.
pub fn normalize(s: &str) -> String {
    parse(s).map_or_else(
        || s.to_owned(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_less_iso_is_utc() {
        let with_z = parse("2026-11-25T09:30:00.123456Z").unwrap();
        assert_eq!(parse("2026-11-25T09:30:00.123456"), Some(with_z));
        assert_eq!(parse("2026-11-25 09:30:00.123456"), Some(with_z));
        assert_eq!(
            parse("2026-11-25T10:30:00.123456+01:00"),
            Some(with_z),
            "an explicit offset is honoured"
        );
        assert_eq!(
            parse("2026-11-25T09:30:00"),
            Some(with_z - chrono::Duration::microseconds(123_456))
        );
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2026-11-25"), None);
    }

    #[test]
    fn writes_utc_with_z() {
        let t = parse("2026-11-25T10:30:00.123456+01:00").unwrap();
        assert_eq!(secs(t), "2026-11-25T09:30:00Z");
        assert_eq!(millis(t.timestamp_millis()), "2026-11-25T09:30:00.123Z");
        assert_eq!(millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn normalizes_to_rfc3339_utc() {
        assert_eq!(
            normalize("2026-11-25T09:30:00.123456"),
            "2026-11-25T09:30:00.123456Z"
        );
        assert_eq!(normalize("2026-11-25T09:30:00"), "2026-11-25T09:30:00Z");
        assert_eq!(normalize("not a time"), "not a time");
    }
}
