//! Group commit: one task owns the event writes and commits the inserts of all concurrent
//! requests in one transaction.
//!
//! A request's future resolves only after the transaction holding its event has committed,
//! so the 2xx that follows is backed by disk. Batching is opportunistic (whatever queued up
//! while the previous commit was in flight), which adds no latency when idle and turns N
//! fsyncs into one under load.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::IngestError;
use crate::store::{IngestOutcome, NewEvent, Store, StoreError};

/// Most events one transaction takes; bounds a batch's latency.
const MAX_BATCH: usize = 512;

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
    let mut events = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some((event, reply)) = rx.recv().await {
        events.push(event);
        replies.push(reply);
        while events.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((event, reply)) => {
                    events.push(event);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("helix_ingest_batch_size").record(events.len() as f64);
        match store.insert_events(std::mem::take(&mut events)).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        events.clear();
    }
}
