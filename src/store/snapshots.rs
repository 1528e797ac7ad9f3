//! Snapshots, stored compactly and rebuilt byte for byte.
//!
//! An hourly sync stores a full snapshot 24 times a day, and one is mostly the one before.
//! So a snapshot is stored as a zstd *delta*: compressed with the bytes of an earlier
//! snapshot (its base) as the dictionary, which makes every unchanged stretch a
//! back-reference of a few bytes. zstd does the diffing; nothing here compares JSON. The
//! result is lossless: decompressing with the same base gives the exact bytes back.
//!
//! Deltas form chains: a chain starts with a whole snapshot (`codec = 'zstd'`, its own
//! `chain_root`) and each later snapshot is a delta against the newest one stored when it was
//! written (`zstd-delta`, `base_run_id`), up to [`MAX_CHAIN`] long; then a new chain starts.
//! Rebuilding any snapshot therefore reads one chain (one query) and decompresses at most
//! `MAX_CHAIN` times, however long the history. Two runs finishing at once may both build on
//! the same base: a chain is a tree, and nothing depends on the order of commits.
//!
//! What this must never do: change a stored snapshot (others may be built on it: a snapshot
//! is written once), or delete part of a chain (retention deletes whole chains only, see
//! `retention`). Rows from before migration 0012 are whole gzip snapshots, each its own chain.
//!
//! Compression is CPU work: [`Store::encode_snapshot`] runs before the run's transaction, so
//! it never holds the write turn; the transaction only checks that the base is still there.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{Any, Transaction};

use super::runs::gunzip;
use super::{Result, Store, StoreError};

/// Longest chain: bounds the work of rebuilding the oldest snapshot of a chain.
pub const MAX_CHAIN: i64 = 32;

/// zstd level of a whole snapshot (a chain's first): the default, fast and good enough.
const LEVEL: i32 = 3;

/// zstd level of a delta. Only the optimal parsers (16 and up) find the unchanged stretches
/// across a multi-megabyte base: on 3 repos × 2,000 items with 1% changed, level 3 left a
/// 68 KB delta, level 12 22 KB, level 16 1.1 KB, at about a third of a second of CPU per
/// hourly run (on a blocking thread, before the run's transaction).
const DELTA_LEVEL: i32 = 16;

/// Size (log2 of entries) of the delta compressor's hash and binary-tree tables. Level 16
/// sizes them from the window, 2^22 entries each for a snapshot of a few megabytes: with
/// the base loaded as a dictionary (a second copy of its tables), that was 73 MB of a
/// 500-repository sync's 99 MB heap peak. The long stretches a delta is made of are found by
/// long-distance matching across the whole window, which these tables do not bound; they
/// serve the short matches nearby, for which 2^20 entries (8 MB together) are plenty.
const DELTA_TABLE_LOG: u32 = 20;

/// The newest snapshot this process wrote or rebuilt, kept so the next run's delta does not
/// rebuild its base from the database.
pub(super) type Cache = Arc<std::sync::Mutex<Option<(String, Arc<Vec<u8>>)>>>;

/// A snapshot ready to insert.
#[derive(Debug)]
pub struct EncodedSnapshot {
    codec: &'static str,
    data: Vec<u8>,
    base: Option<String>,
    root: Option<String>,
    depth: i64,
    /// The uncompressed bytes, to cache once committed.
    raw: Arc<Vec<u8>>,
}

/// One stored row of a chain.
#[derive(sqlx::FromRow)]
struct Part {
    run_id: String,
    codec: String,
    data: Vec<u8>,
    base_run_id: Option<String>,
}

/// Largest window a delta may ask of its reader: 128 MiB, zstd's default decoder limit.
const MAX_WINDOW_LOG: u32 = 27;

fn compress(raw: &[u8], base: Option<&[u8]>) -> Result<Vec<u8>> {
    let Some(base) = base else {
        return zstd::bulk::compress(raw, LEVEL)
            .map_err(|e| StoreError::Corrupt(format!("cannot compress a snapshot: {e}")));
    };
    compress_delta(raw, base).map_err(|code| {
        StoreError::Corrupt(format!(
            "cannot compress a snapshot delta: {}",
            zstd::zstd_safe::get_error_name(code)
        ))
    })
}

/// A delta: `raw` compressed with `base` as its prefix, the raw content a reader loads as
/// its dictionary (`decompress`). A prefix is only referenced, where a dictionary would be
/// copied and given tables of its own.
fn compress_delta(raw: &[u8], base: &[u8]) -> std::result::Result<Vec<u8>, usize> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let mut c = CCtx::create();
    // zstd sizes its window from the input alone, and the base's far end then falls out of
    // reach: a snapshot's second half could not refer to the base's first. A window covering
    // base and snapshot together lets every unchanged stretch match.
    let span = (base.len() + raw.len()).max(2).next_power_of_two();
    let log = span.trailing_zeros().clamp(20, MAX_WINDOW_LOG);
    for p in [
        CParameter::CompressionLevel(DELTA_LEVEL),
        CParameter::WindowLog(log),
        CParameter::EnableLongDistanceMatching(true),
        CParameter::HashLog(DELTA_TABLE_LOG.min(log)),
        CParameter::ChainLog(DELTA_TABLE_LOG.min(log)),
    ] {
        c.set_parameter(p)?;
    }
    c.ref_prefix(base)?;
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
    c.compress2(&mut out, raw)?;
    Ok(out)
}

fn decompress(data: &[u8], base: Option<&[u8]>) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| StoreError::Corrupt(format!("snapshot does not decode: {e}"));
    let mut d = match base {
        Some(dict) => zstd::bulk::Decompressor::with_dictionary(dict),
        None => zstd::bulk::Decompressor::new(),
    }
    .map_err(corrupt)?;
    let size = zstd::bulk::Decompressor::upper_bound(data)
        .ok_or_else(|| StoreError::Corrupt("snapshot frame has no size".into()))?;
    d.decompress(data, size).map_err(corrupt)
}

impl Store {
    /// Compresses a run's snapshot against the newest stored one (see the module docs).
    pub async fn encode_snapshot(&self, json: &[u8]) -> Result<EncodedSnapshot> {
        let raw = Arc::new(json.to_vec());
        let newest: Option<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT run_id, chain_root, chain_depth FROM snapshots \
             ORDER BY created_at DESC, run_id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let base = match newest {
            Some((id, root, depth)) if depth + 1 < MAX_CHAIN => {
                let bytes = self.snapshot_json_arc(&id).await?;
                bytes.map(|b| (id.clone(), root.unwrap_or(id), depth + 1, b))
            }
            _ => None,
        };
        let raw_for_cpu = raw.clone();
        let encoded = tokio::task::spawn_blocking(move || match base {
            Some((id, root, depth, bytes)) => {
                compress(&raw_for_cpu, Some(&bytes)).map(|data| EncodedSnapshot {
                    codec: "zstd-delta",
                    data,
                    base: Some(id),
                    root: Some(root),
                    depth,
                    raw: raw_for_cpu.clone(),
                })
            }
            None => compress(&raw_for_cpu, None).map(|data| EncodedSnapshot {
                codec: "zstd",
                data,
                base: None,
                root: None,
                depth: 0,
                raw: raw_for_cpu.clone(),
            }),
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("snapshot compression panicked: {e}")))??;
        Ok(encoded)
    }

    /// Inserts an encoded snapshot inside the run's transaction. Should its base have gone
    /// in the meantime (retention between encoding and commit), it is stored whole instead.
    pub(super) async fn insert_snapshot_in(
        tx: &mut Transaction<'static, Any>,
        run_id: &str,
        schema_version: i64,
        created_at: i64,
        s: &EncodedSnapshot,
    ) -> Result<()> {
        let mut whole = None;
        if let Some(base) = &s.base {
            let present: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM snapshots WHERE run_id = $1")
                    .bind(base)
                    .fetch_optional(&mut **tx)
                    .await?;
            if present.is_none() {
                whole = Some(compress(&s.raw, None)?);
            }
        }
        let (codec, data, base, root, depth) = match &whole {
            Some(data) => ("zstd", data, None, run_id, 0),
            None => (
                s.codec,
                &s.data,
                s.base.as_deref(),
                s.root.as_deref().unwrap_or(run_id),
                s.depth,
            ),
        };
        // Written once: another snapshot may already be a delta against this one.
        sqlx::query(
            "INSERT INTO snapshots (run_id, schema_version, created_at, data, codec, base_run_id, chain_root, chain_depth) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(schema_version)
        .bind(created_at)
        .bind(data.as_slice())
        .bind(codec)
        .bind(base)
        .bind(root)
        .bind(depth)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Remembers a committed snapshot as the base for the next one.
    pub(super) fn cache_snapshot(&self, run_id: &str, s: &EncodedSnapshot) {
        *self.snapshot_cache.lock().expect("cache lock") = Some((run_id.to_owned(), s.raw.clone()));
    }

    /// The uncompressed snapshot JSON of a run.
    pub async fn snapshot_json(&self, run_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .snapshot_json_arc(run_id)
            .await?
            .map(|b| Arc::try_unwrap(b).unwrap_or_else(|b| (*b).clone())))
    }

    async fn snapshot_json_arc(&self, run_id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        if let Some((id, bytes)) = self.snapshot_cache.lock().expect("cache lock").as_ref() {
            if id == run_id {
                return Ok(Some(bytes.clone()));
            }
        }
        let root: Option<(Option<String>,)> =
            sqlx::query_as("SELECT chain_root FROM snapshots WHERE run_id = $1")
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((root,)) = root else {
            return Ok(None);
        };
        let root = root.unwrap_or_else(|| run_id.to_owned());
        let parts: Vec<Part> = sqlx::query_as(
            "SELECT run_id, codec, data, base_run_id FROM snapshots WHERE run_id = $1 OR chain_root = $1",
        )
        .bind(&root)
        .fetch_all(&self.pool)
        .await?;
        let run_id = run_id.to_owned();
        let rebuilt = tokio::task::spawn_blocking(move || rebuild(&parts, &run_id))
            .await
            .map_err(|e| StoreError::Corrupt(format!("snapshot rebuild panicked: {e}")))??;
        Ok(Some(Arc::new(rebuilt)))
    }

    /// The run id of the newest stored snapshot (cheap: no snapshot data is read).
    pub async fn latest_snapshot_run_id(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT run_id FROM snapshots ORDER BY created_at DESC, run_id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The newest stored snapshot: `(run id, JSON)`.
    pub async fn latest_snapshot_json(&self) -> Result<Option<(String, Vec<u8>)>> {
        let Some(id) = self.latest_snapshot_run_id().await? else {
            return Ok(None);
        };
        Ok(self.snapshot_json(&id).await?.map(|json| (id, json)))
    }

    /// Snapshots of the last `n` runs, oldest first (for trend charts).
    pub async fn recent_snapshots_json(&self, n: i64) -> Result<Vec<(String, Vec<u8>)>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM snapshots ORDER BY created_at DESC, run_id DESC LIMIT $1",
        )
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.into_iter().rev() {
            if let Some(json) = self.snapshot_json(&id).await? {
                out.push((id, json));
            }
        }
        Ok(out)
    }

    /// Bytes stored for snapshots and what they hold uncompressed is not known without
    /// rebuilding; this is the stored size, for the compaction benchmark and status.
    pub async fn snapshot_stored_bytes(&self) -> Result<i64> {
        let n: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(match self.backend {
            super::Backend::Sqlite => "SELECT SUM(LENGTH(data)) FROM snapshots",
            super::Backend::Postgres => "SELECT SUM(LENGTH(data))::BIGINT FROM snapshots",
        }))
        .fetch_one(&self.pool)
        .await?;
        Ok(n.unwrap_or(0))
    }
}

/// Rebuilds `target` from the rows of its chain: walk from it to the root, then decompress
/// back down, each step with the previous result as the dictionary.
fn rebuild(parts: &[Part], target: &str) -> Result<Vec<u8>> {
    let by_id: HashMap<&str, &Part> = parts.iter().map(|p| (p.run_id.as_str(), p)).collect();
    let mut path = Vec::new();
    let mut at = target;
    loop {
        let part = by_id.get(at).ok_or_else(|| {
            StoreError::Corrupt(format!("snapshot {at} is missing from its chain"))
        })?;
        path.push(*part);
        match (&part.base_run_id, path.len() as i64 > MAX_CHAIN + 1) {
            (_, true) => return Err(StoreError::Corrupt("snapshot chain loops".into())),
            (Some(base), false) => at = base,
            (None, false) => break,
        }
    }
    let mut bytes: Option<Vec<u8>> = None;
    for part in path.iter().rev() {
        bytes = Some(match part.codec.as_str() {
            "gzip" => gunzip(&part.data)?,
            "zstd" => decompress(&part.data, None)?,
            "zstd-delta" => decompress(&part.data, bytes.as_deref())?,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown snapshot codec {other}"
                )))
            }
        });
    }
    Ok(bytes.expect("a path has at least its target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot-like document of `repos` × `items` distinct lines (hex digests do not
    /// compress, so only references into the base make a delta small).
    fn document(repos: usize, items: usize, changed: usize) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut out = String::from("{\"repos\":{");
        for r in 0..repos {
            out.push_str(&format!("\"o/repo-{r}\":["));
            for i in 0..items {
                let seed = if r * items + i == changed { 1 } else { 0 };
                let sha = hex::encode(Sha256::digest(format!("{r}/{i}/{seed}")));
                out.push_str(&format!(
                    "{{\"sha\":\"{sha}\",\"message\":\"change {i} of repository {r}\"}},"
                ));
            }
            out.push_str("],");
        }
        out.push_str("}}");
        out.into_bytes()
    }

    #[test]
    fn a_delta_of_a_large_snapshot_with_one_change_is_small_and_exact() {
        // 500 repositories × 56 items, about 3.6 MB. The change sits near the end,
        // megabytes past the base's start.
        let base = document(500, 56, usize::MAX);
        let next = document(500, 56, 500 * 56 - 3);
        assert!(base.len() > 3_000_000);
        let delta = compress(&next, Some(&base)).unwrap();
        assert!(delta.len() < 4_096, "a delta of {} bytes", delta.len());
        assert_eq!(decompress(&delta, Some(&base)).unwrap(), next);
        // A whole one for comparison: megabytes of digests.
        let whole = compress(&next, None).unwrap();
        assert!(whole.len() > 1_000_000, "{}", whole.len());
        assert_eq!(decompress(&whole, None).unwrap(), next);
    }
}
