//! Group commit: one task owns the event writes and commits the inserts of all concurrent
//! requests in one transaction.
//!
//! A request's future resolves only after the transaction holding its event has committed
//! and reached the disk, so the 2xx that follows is backed by disk. Batching is
//! opportunistic (whatever queued up while earlier batches were in flight), which adds no
//! latency when idle and turns N fsyncs into one under load.
//!
//! Up to [`IN_FLIGHT`] batches are out at once, so that one can be written while the one
//! before it waits for its sync (SQLite's event writer pipelines the two; see
//! `store::event_writer`). With a single batch out, the disk's sync time and the writer's
//! CPU time added up on every cycle.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::IngestError;
use crate::store::{IngestOutcome, NewEvent, Store, StoreError};

/// Most events one transaction takes; bounds a batch's latency.
const MAX_BATCH: usize = 512;

/// Batches out at once: one being written, one being synced.
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<IngestOutcome, Arc<StoreError>>>;

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<(NewEvent, Reply)>,
}

impl Writer {
    /// Starts the writer task; it ends when every `Writer` clone is dropped.
    pub fn spawn(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let handle = tokio::spawn(run(store, rx));
        (Self { tx }, handle)
    }

    /// Queues one event for the next commit and waits for that commit.
    pub async fn write(&self, event: NewEvent) -> Result<IngestOutcome, IngestError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| IngestError::Unavailable)?;
        match rx.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "event batch failed to commit");
                Err(IngestError::Unavailable)
            }
            Err(_) => Err(IngestError::Unavailable),
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<(NewEvent, Reply)>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    loop {
        // Waiting for a slot first lets events pile up into the next batch meanwhile.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            commit(&store, batch).await;
            drop(slot);
        });
    }
    // Every sender is gone: wait for the batches still out before ending.
    let _ = slots.acquire_many(IN_FLIGHT as u32).await;
}

/// Commits one batch and answers each of its requests.
async fn commit(store: &Store, batch: Vec<(NewEvent, Reply)>) {
    metrics::histogram!("helix_ingest_batch_size").record(batch.len() as f64);
    let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    match store.insert_events(events).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
