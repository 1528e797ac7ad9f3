//! The application context: what every front end shares.
//!
//! The HTTP API, the console, MCP over stdio and over HTTP, and each CLI command hold one
//! [`App`] and pass it to the operations of `service`; none of them owns the application.
//! `App::open` is the one place that opens the store and wires the queue, the ingest writer
//! and the buses, so a CLI command and `serve` see the same queue settings, the same
//! coalescing and the same audit trail. What only a network edge needs (the unverified-body
//! budget, the rejected-request ring, the login limiter) is not here: it lives in `http`'s
//! state, which wraps an `App`.
//!
//! An `App` is one `Arc`: front ends clone it per request or per session.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::{Ingestor, Writer};
use crate::live::LiveEvents;
use crate::queue::Queue;
use crate::store::{Store, StoreError};
use crate::sync::{RunEvents, SyncDeps};

/// The shared context; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Parts>);

impl Deref for App {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The parts of an [`App`].
pub struct Parts {
    /// The validated configuration of this process.
    pub config: Arc<Config>,
    pub store: Store,
    /// The job queue, with this process's queue and delivery settings (and node name, in a
    /// process that runs workers).
    pub queue: Queue,
    /// The only way an event enters the store: group commit, answered after the commit.
    pub ingest: Ingestor,
    /// The scheduler's next firing, as the scheduler of this process publishes it (`None`
    /// where no scheduler runs here: the status then computes it from the configuration).
    pub next_sync: watch::Receiver<Option<DateTime<Utc>>>,
    pub started_at: DateTime<Utc>,
    /// Run started/finished notifications (SSE, WebSocket, MCP subscriptions).
    pub run_events: RunEvents,
    /// Delivery and ingest notifications (WebSocket).
    pub live: LiveEvents,
    /// Cancelled when the process starts shutting down, so endless answers (SSE, MCP
    /// streams, WebSockets) end and cannot hold a graceful shutdown open.
    pub shutdown: CancellationToken,
    /// What sync and publish jobs need, over this same store, queue and buses: the worker
    /// pool's runner and a rollback record runs through it.
    pub sync: SyncDeps,
}

/// How to open an [`App`].
#[derive(Debug, Clone, Default)]
pub struct Open {
    /// Workers this process runs (sizes the store's lease pool; 0 for a one-shot command).
    pub workers: usize,
    /// This process's name in the node registry (`None`: a generated one).
    pub node_name: Option<String>,
}

/// An opened [`App`] and the handles its opener keeps.
pub struct Opened {
    pub app: App,
    /// Publishes the next firing into [`Parts::next_sync`] (given to the scheduler).
    pub next_sync: watch::Sender<Option<DateTime<Utc>>>,
    /// The ingest writer's task: it ends once every `App` clone is dropped, after its last
    /// batch has committed.
    pub writer: JoinHandle<()>,
}

impl App {
    /// Opens the store (running migrations) and builds the context over it.
    pub async fn open(config: Config, how: Open) -> Result<Opened, StoreError> {
        let config = Arc::new(config);
        let store = Store::connect_for_workers(&config.database_url, how.workers).await?;
        let queue = Queue::new(store.clone(), config.file.queue.clone())
            .with_delivery(config.file.delivery.clone())
            .with_node_name(how.node_name);
        let (writer, writer_task) = Writer::spawn(store.clone());
        let (run_events, _) = tokio::sync::broadcast::channel(256);
        let live = crate::live::channel(1024);
        let (next_tx, next_rx) = watch::channel(None);
        let sync = SyncDeps::new(
            config.clone(),
            store.clone(),
            queue.clone(),
            run_events.clone(),
        )
        .with_live(live.clone());
        let app = App(Arc::new(Parts {
            ingest: Ingestor::new(writer, queue.clone()).with_live(live.clone()),
            config,
            store,
            queue,
            next_sync: next_rx,
            started_at: Utc::now(),
            run_events,
            live,
            shutdown: CancellationToken::new(),
            sync,
        }));
        Ok(Opened {
            app,
            next_sync: next_tx,
            writer: writer_task,
        })
    }
}

impl Opened {
    /// Closes a context opened for one command: waits for the ingest writer's last commit,
    /// then closes the store.
    pub async fn close(self) {
        let store = self.app.store.clone();
        drop(self.app);
        drop(self.next_sync);
        let _ = self.writer.await;
        store.close().await;
    }
}
