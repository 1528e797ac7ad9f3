//! The schedule model: which firings a `sync_schedule` section asks for, and when each fires.
//!
//! Pure and clock-free (every function takes the time it reasons about), so `config` can
//! validate a schedule at load time and `scheduler`, `/health` and the console read the same
//! table. Cron syntax is parsed by `croner` with exactly 5 fields: a seconds field is refused,
//! so `*` can never mean "every second". This module never enqueues anything (that is
//! `scheduler`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use super::SyncSchedule;

/// Parses a 5-field cron expression (UTC).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err(format!(
            "{expr:?} must have exactly 5 fields (minute hour day month weekday)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("{expr:?}: {e}"))
}

/// The cron expression for a daily `HH:MM` (UTC).
pub fn daily_expression(hhmm: &str) -> Result<String, String> {
    let t = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M")
        .map_err(|_| format!("{hhmm:?} is not a time of day in HH:MM"))?;
    use chrono::Timelike;
    Ok(format!("{} {} * * *", t.minute(), t.hour()))
}

#[derive(Debug, Clone)]
pub enum Rule {
    Cron(Box<Cron>),
    /// Fires at every multiple of the interval since the unix epoch, so that all replicas
    /// agree on the fire times.
    Every(Duration),
}

#[derive(Debug, Clone)]
pub struct Schedule {
    /// Stable name: the dedupe key's first half.
    pub name: String,
    pub rule: Rule,
}

/// The schedules a config asks for. Names are unique.
pub fn schedules(cfg: &SyncSchedule) -> Result<Vec<Schedule>, String> {
    let mut out = Vec::new();
    let mut cron = |name: String, expr: &str| -> Result<(), String> {
        out.push(Schedule {
            name,
            rule: Rule::Cron(Box::new(parse_cron(expr)?)),
        });
        Ok(())
    };
    if cfg.hourly {
        cron("hourly".into(), "0 * * * *")?;
    }
    if let Some(daily) = &cfg.daily {
        cron("daily".into(), &daily_expression(daily)?)?;
    }
    for expr in &cfg.cron {
        cron(format!("cron:{expr}"), expr)?;
    }
    if let Some(secs) = cfg.interval_secs.filter(|s| *s > 0) {
        out.push(Schedule {
            name: format!("every:{secs}s"),
            rule: Rule::Every(Duration::from_secs(secs)),
        });
    }
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

impl Schedule {
    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron(c) => c.find_next_occurrence(&t, false).ok(),
            Rule::Every(d) => {
                let step = d.as_millis() as i64;
                let n = t.timestamp_millis().div_euclid(step) + 1;
                DateTime::from_timestamp_millis(n * step)
            }
        }
    }

    /// The latest firing at or before `now`, looking back at most a year.
    pub fn latest_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Every(d) => {
                let step = d.as_millis() as i64;
                DateTime::from_timestamp_millis(now.timestamp_millis().div_euclid(step) * step)
            }
            Rule::Cron(c) => {
                // Widen the window until it holds a firing, then walk forward inside it:
                // the walk is bounded by the firings in the smallest such window.
                for back in [
                    TimeDelta::hours(1),
                    TimeDelta::days(1),
                    TimeDelta::days(8),
                    TimeDelta::days(32),
                    TimeDelta::days(366),
                ] {
                    let mut t = c.find_next_occurrence(&(now - back), true).ok()?;
                    if t > now {
                        continue;
                    }
                    while let Some(n) = c.find_next_occurrence(&t, false).ok().filter(|n| *n <= now)
                    {
                        t = n;
                    }
                    return Some(t);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn config_table_names_are_unique_and_parse() {
        let cfg = SyncSchedule {
            cron: vec!["*/15 * * * *".into(), "0 6 * * 1".into()],
            interval_secs: Some(600),
            ..Default::default()
        };
        let s = schedules(&cfg).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hourly",
                "daily",
                "cron:*/15 * * * *",
                "cron:0 6 * * 1",
                "every:600s"
            ]
        );
    }

    #[test]
    fn refuses_seconds_fields_and_garbage() {
        assert!(parse_cron("* * * * * *").is_err());
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("0 * * *").is_err());
        assert!(daily_expression("25:00").is_err());
        assert_eq!(daily_expression("07:30").unwrap(), "30 7 * * *");
    }

    #[test]
    fn latest_due_and_next() {
        let s = schedules(&SyncSchedule {
            daily: None,
            ..Default::default()
        })
        .unwrap()
        .remove(0);
        assert_eq!(
            s.latest_due(at("2026-01-01T10:59:59Z")),
            Some(at("2026-01-01T10:00:00Z"))
        );
        assert_eq!(
            s.latest_due(at("2026-01-01T11:00:00Z")),
            Some(at("2026-01-01T11:00:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-01-01T11:00:00Z")),
            Some(at("2026-01-01T12:00:00Z"))
        );
        let weekly = Schedule {
            name: "w".into(),
            rule: Rule::Cron(Box::new(parse_cron("0 6 * * 1").unwrap())),
        };
        // 2026-01-05 is a Monday.
        assert_eq!(
            weekly.latest_due(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-05T06:00:00Z"))
        );
        let every = Schedule {
            name: "e".into(),
            rule: Rule::Every(Duration::from_secs(600)),
        };
        assert_eq!(
            every.latest_due(at("2026-01-01T10:09:00Z")),
            Some(at("2026-01-01T10:00:00Z"))
        );
        assert_eq!(
            every.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-01T10:10:00Z"))
        );
    }
}
