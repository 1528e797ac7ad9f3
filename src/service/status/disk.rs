//! Disk use in the health report: the database's size, its WAL, the free space beside it,
//! and the verdict against `disk.degraded_above` / `disk.degraded_free_below`.
//!
//! Pure, like the rest of the report's rules: the store measures, this only compares. A
//! database past its size threshold, or a disk running out, is *degraded* (still serving,
//! someone should look: prune harder, grow the volume), never unhealthy on its own.

use schemars::JsonSchema;
use serde::Serialize;

use crate::config::DiskConfig;
use crate::store::DiskUsage;

/// The `disk` part of the report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiskHealth {
    /// The database (SQLite file, or our tables on PostgreSQL), in bytes.
    pub database_bytes: u64,
    /// SQLite's write-ahead log, in bytes (`null` on PostgreSQL).
    pub wal_bytes: Option<u64>,
    /// Free space on the database's file system, in bytes (`null` on PostgreSQL).
    pub free_bytes: Option<u64>,
    /// Why disk use turns the report degraded, when it does.
    pub problem: Option<String>,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// The report's `disk` from what the store measured (`None` when it could not measure).
pub fn evaluate(cfg: &DiskConfig, usage: Option<&DiskUsage>) -> Option<DiskHealth> {
    let u = usage?;
    let size = u.database_bytes + u.wal_bytes.unwrap_or(0);
    let too_big = cfg
        .degraded_above
        .filter(|limit| size > limit.0)
        .map(|limit| {
            format!(
                "the database takes {}, above disk.degraded_above ({})",
                mib(size),
                mib(limit.0)
            )
        });
    let too_full = match (cfg.degraded_free_below, u.free_bytes) {
        (Some(limit), Some(free)) if free < limit.0 => Some(format!(
            "{} free on the database's disk, below disk.degraded_free_below ({})",
            mib(free),
            mib(limit.0)
        )),
        _ => None,
    };
    let problem = match (too_big, too_full) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    Some(DiskHealth {
        database_bytes: u.database_bytes,
        wal_bytes: u.wal_bytes,
        free_bytes: u.free_bytes,
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Size;

    fn usage(db: u64, wal: u64, free: u64) -> DiskUsage {
        DiskUsage {
            database_bytes: db,
            wal_bytes: Some(wal),
            free_bytes: Some(free),
        }
    }

    #[test]
    fn size_and_free_space_thresholds() {
        let cfg = DiskConfig {
            degraded_above: Some(Size(1000)),
            degraded_free_below: Some(Size(500)),
        };
        assert!(evaluate(&cfg, Some(&usage(900, 50, 600)))
            .unwrap()
            .problem
            .is_none());
        let big = evaluate(&cfg, Some(&usage(900, 200, 600))).unwrap();
        assert!(
            big.problem.unwrap().contains("disk.degraded_above"),
            "WAL counts"
        );
        let full = evaluate(&cfg, Some(&usage(10, 0, 499))).unwrap();
        assert!(full.problem.unwrap().contains("disk.degraded_free_below"));
        let off = DiskConfig {
            degraded_above: None,
            degraded_free_below: None,
        };
        assert!(evaluate(&off, Some(&usage(u64::MAX / 2, 0, 0)))
            .unwrap()
            .problem
            .is_none());
        assert!(evaluate(&cfg, None).is_none());
    }
}
