//! Building and running the application; the same code path for `main` and for tests.
//!
//! `Application::build` connects the store (running migrations), binds the listener (port 0
//! works: tests read the port back), and wires ingest, queue, workers and scheduler.
//! `run_until_stopped` serves until SIGTERM or Ctrl-C, then shuts down in order: stop
//! accepting and finish in-flight requests, let running jobs finish within the grace
//! period, stop the scheduler, flush the event writer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::{Ingestor, Writer};
use crate::queue::Queue;
use crate::scheduler::{self, Scheduler};
use crate::store::Store;
use crate::worker::{JobRunner, WorkerPool};

/// What to start besides the HTTP server. Tests turn the background parts off and drive
/// them by hand (`run_pending_jobs`, `Scheduler::tick`).
pub struct Options {
    pub workers: bool,
    pub scheduler: bool,
    /// Replaces the sync cycle (tests plug in fakes).
    pub runner: Option<Arc<dyn JobRunner>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: true,
            scheduler: true,
            runner: None,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    pool: WorkerPool,
    scheduler: Option<Scheduler>,
    options: Options,
    writer_task: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let store = Store::connect(&config.database_url)
            .await
            .with_context(|| format!("opening the database {}", config.database_url))?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let queue = Queue::new(store.clone(), config.file.queue.clone());
        let (writer, writer_task) = Writer::spawn(store.clone());
        let schedules = if config.sync_enabled {
            scheduler::schedules(&config.file.sync_schedule).map_err(anyhow::Error::msg)?
        } else {
            tracing::warn!("HELIX_SYNC_ENABLED=false: scheduled syncs are off (webhooks and manual triggers still run)");
            Vec::new()
        };
        let scheduler = Scheduler::new(schedules, queue.clone());
        let (run_events, _) = tokio::sync::broadcast::channel(256);
        let runner: Arc<dyn JobRunner> = match &options.runner {
            Some(r) => r.clone(),
            None => Arc::new(crate::sync::SyncRunner {
                deps: crate::sync::SyncDeps {
                    config: config.clone(),
                    store: store.clone(),
                    queue: queue.clone(),
                    http: crate::sync::SyncDeps::http_client(),
                    run_events: run_events.clone(),
                },
            }),
        };
        let pool = WorkerPool::new(queue.clone(), runner);
        let state = AppState {
            next_sync: scheduler.next_sync(),
            ingest: Ingestor::new(writer, queue.clone()),
            config,
            store,
            queue,
            started_at: chrono::Utc::now(),
            run_events,
        };
        Ok(Self {
            listener,
            state,
            pool,
            scheduler: Some(scheduler),
            options,
            writer_task,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn pool(&self) -> &WorkerPool {
        &self.pool
    }

    /// Takes the scheduler out, for a test to tick by hand.
    pub fn take_scheduler(&mut self) -> Option<Scheduler> {
        self.scheduler.take()
    }

    /// Serves until a shutdown signal.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, then shuts down gracefully.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        for part in self.state.config.disabled_parts() {
            tracing::warn!("{part}");
        }
        let cancel = CancellationToken::new();
        let workers = self
            .options
            .workers
            .then(|| self.pool.spawn(self.state.config.workers));
        let scheduler_task = match (self.options.scheduler, self.scheduler.take()) {
            (true, Some(s)) => Some(tokio::spawn(s.run(cancel.clone()))),
            _ => None,
        };
        tracing::info!(address = %self.listener.local_addr()?, version = env!("CARGO_PKG_VERSION"), "helix-sync listening");
        let grace = Duration::from_secs(self.state.config.file.queue.shutdown_grace_secs);
        let app = http::router(self.state.clone());
        axum::serve(self.listener, app)
            .with_graceful_shutdown(stop)
            .await
            .context("serving HTTP")?;
        tracing::info!("shutting down: HTTP drained, stopping workers");
        cancel.cancel();
        if let Some(w) = workers {
            w.shutdown(grace).await;
        }
        if let Some(t) = scheduler_task {
            let _ = t.await;
        }
        let store = self.state.store.clone();
        drop(self.state);
        let _ = self.writer_task.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
}
