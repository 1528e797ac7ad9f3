//! Event payloads as the events table holds them: zstd-compressed JSON text.
//!
//! Every acknowledged event is written to disk twice (the WAL, then the database file) and a
//! push is kilobytes of JSON that repeats its URLs. Under sustained ingest those bytes, not
//! the statements, were the cost: 400 MB/s of writes for 14k events/s on a disk that does
//! about 500. Compressing on the request's own task (in parallel, before the single writer
//! sees the event) cuts what each commit writes several-fold. The payload is still the exact
//! text that was signed; decompression gives it back byte for byte.
//!
//! Rows written before migration 0008 (SQLite) / 0004 (PostgreSQL) hold their text in
//! `payload` and no `payload_zstd`; newer rows leave `payload` empty. Reading handles both,
//! and nothing outside the store ever sees the compressed form.

use std::cell::RefCell;

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{EventRow, Result, StoreError};

/// Level 1: the fastest of zstd's normal levels. On a GitHub push it already removes most of
/// the repetition; higher levels cost more CPU per request than the bytes they save.
const LEVEL: i32 = 1;

/// A JSON document, compressed for the events table.
#[derive(Clone, PartialEq, Eq)]
pub struct Compressed(Vec<u8>);

impl Compressed {
    pub fn new(json: &str) -> Self {
        thread_local! {
            // A compression context is a few hundred KB to set up; each thread keeps one.
            static CONTEXT: RefCell<Option<zstd::bulk::Compressor<'static>>> =
                const { RefCell::new(None) };
        }
        let bytes = CONTEXT.with(|cell| {
            let mut cell = cell.borrow_mut();
            let context = match cell.as_mut() {
                Some(c) => c,
                None => cell.insert(
                    zstd::bulk::Compressor::new(LEVEL).expect("level 1 is a valid zstd level"),
                ),
            };
            context.compress(json.as_bytes())
        });
        // Compressing into a growable buffer fails only on allocation failure.
        Self(bytes.expect("zstd compression into a Vec does not fail"))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON text back.
    pub fn decompress(bytes: &[u8]) -> Result<String> {
        let raw = zstd::stream::decode_all(bytes)
            .map_err(|e| StoreError::Corrupt(format!("undecodable event payload: {e}")))?;
        String::from_utf8(raw).map_err(|_| StoreError::Corrupt("event payload is not UTF-8".into()))
    }
}

impl std::fmt::Debug for Compressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compressed({} bytes)", self.0.len())
    }
}

/// Rows map straight to [`EventRow`]s, the payload decoded on the way from whichever column
/// holds it, so no query and no caller ever handles the stored form.
impl<'r> FromRow<'r, AnyRow> for EventRow {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let payload = match row.try_get::<Option<Vec<u8>>, _>("payload_zstd")? {
            Some(bytes) => {
                Compressed::decompress(&bytes).map_err(|e| sqlx::Error::ColumnDecode {
                    index: "payload_zstd".into(),
                    source: Box::new(e),
                })?
            }
            None => row.try_get("payload")?,
        };
        Ok(EventRow {
            id: row.try_get("id")?,
            source: row.try_get("source")?,
            delivery_id: row.try_get("delivery_id")?,
            event_type: row.try_get("event_type")?,
            hook_id: row.try_get("hook_id")?,
            repo: row.try_get("repo")?,
            headers: row.try_get("headers")?,
            payload,
            received_at: row.try_get("received_at")?,
            job_id: row.try_get("job_id")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_comes_back_byte_for_byte_and_smaller() {
        let json = format!(
            "{{\"ref\":\"refs/heads/main\",\"urls\":[{}],\"unicode\":\"ritual ✓ Z-88\"}}",
            (0..50)
                .map(|i| format!("\"https://api.github.com/repos/helix/core/{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let packed = Compressed::new(&json);
        assert!(packed.as_bytes().len() * 3 < json.len());
        assert_eq!(Compressed::decompress(packed.as_bytes()).unwrap(), json);
        // A second document on the same thread reuses the context and is not mixed up.
        let other = Compressed::new("{}");
        assert_eq!(Compressed::decompress(other.as_bytes()).unwrap(), "{}");
    }

    #[tokio::test]
    async fn rows_from_before_compression_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/old.db", dir.path().display());
        let store = super::super::Store::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO events (id, source, delivery_id, event_type, headers, payload, received_at) \
             VALUES ('old', 'github', 'd-old', 'push', '{}', '{\"ref\": \"refs/heads/main\"}', 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let row = store.get_event("old").await.unwrap().unwrap();
        assert_eq!(row.payload, "{\"ref\": \"refs/heads/main\"}");
    }

    #[test]
    fn damaged_bytes_are_a_corrupt_row_not_a_panic() {
        let mut bytes = Compressed::new("{\"a\":1}").as_bytes().to_vec();
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            Compressed::decompress(&bytes),
            Err(StoreError::Corrupt(_))
        ));
        assert!(Compressed::decompress(b"not zstd").is_err());
    }
}
