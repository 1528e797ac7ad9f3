//! Building and running the application; the same code path for `main` and for tests.
//!
//! `Application::build` connects the store (running migrations), binds the listener (port 0
//! works: tests read the port back), and wires ingest, queue, workers and scheduler.
//! `run_until_stopped` serves until SIGTERM or Ctrl-C, then shuts down in order: stop
//! accepting and finish in-flight requests, let running jobs finish within the grace
//! period, stop the scheduler, flush the event writer.
//!
//! When `HEALTH_CHECK_ENABLED` and `HEALTH_CHECK_PORT` differs from the main port, a second
//! listener on the main address's IP serves `/health` alone (port 0 binds an ephemeral one,
//! which tests use). [`Application::build_headless`] builds the same state with no listener
//! at all, for `helix-sync mcp` on stdio.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState, Shared};
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
    /// `None` for a headless application (no HTTP).
    listener: Option<TcpListener>,
    health_listener: Option<TcpListener>,
    state: AppState,
    pool: WorkerPool,
    scheduler: Option<Scheduler>,
    options: Options,
    writer_task: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        Self::assemble(config, options, true).await
    }

    /// The application without any listener: state, workers and scheduler only.
    pub async fn build_headless(config: Config, options: Options) -> anyhow::Result<Self> {
        Self::assemble(config, options, false).await
    }

    async fn assemble(config: Config, options: Options, listen: bool) -> anyhow::Result<Self> {
        crate::telemetry::metrics_handle();
        let config = Arc::new(config);
        let store = Store::connect_for_workers(&config.database_url, config.workers)
            .await
            .with_context(|| format!("opening the database {}", config.database_url))?;
        let (listener, health_listener) = if listen {
            let listener = TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("binding {}", config.bind))?;
            let main_port = port_of(Some(&listener));
            (Some(listener), bind_health(&config, main_port).await?)
        } else {
            (None, None)
        };
        let node_name = config.node_name.clone().or_else(|| {
            let port = port_of(listener.as_ref());
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "helix".into());
            (port != 0).then(|| format!("{host}:{port}"))
        });
        let queue = Queue::new(store.clone(), config.file.queue.clone())
            .with_delivery(config.file.delivery.clone())
            .with_node_name(node_name);
        let now = crate::store::now_ms();
        queue
            .node()
            .register(&store, now)
            .await
            .context("registering this node")?;
        queue
            .apply_lane_limits(&crate::sync::snapshot::TARGET_NAMES, now)
            .await
            .context("writing the lane limits")?;
        // A predecessor of this node (the same name, before a restart) is gone: its jobs
        // run again now, not when their leases expire.
        queue
            .rescue(now)
            .await
            .context("rescuing jobs of dead nodes")?;
        let (writer, writer_task) = Writer::spawn(store.clone());
        let schedules = if config.sync_enabled {
            scheduler::schedules(&config.file.sync_schedule).map_err(anyhow::Error::msg)?
        } else {
            tracing::warn!("HELIX_SYNC_ENABLED=false: scheduled syncs are off (webhooks and manual triggers still run)");
            Vec::new()
        };
        let scheduler =
            Scheduler::new(schedules, queue.clone()).with_retention(config.file.retention.clone());
        let (run_events, _) = tokio::sync::broadcast::channel(256);
        let live = crate::live::channel(1024);
        let runner: Arc<dyn JobRunner> = match &options.runner {
            Some(r) => r.clone(),
            None => Arc::new(crate::sync::SyncRunner {
                deps: crate::sync::SyncDeps::new(
                    config.clone(),
                    store.clone(),
                    queue.clone(),
                    run_events.clone(),
                )
                .with_live(live.clone()),
            }),
        };
        let pool = WorkerPool::new(queue.clone(), runner);
        let state = AppState::new(Shared {
            next_sync: scheduler.next_sync(),
            unverified: http::budget::UnverifiedBudget::new(&config.file.http),
            ingest: Ingestor::new(writer, queue.clone()).with_live(live.clone()),
            config,
            store,
            queue,
            started_at: chrono::Utc::now(),
            run_events,
            live,
            rejected: Default::default(),
            logins: Default::default(),
            shutdown: CancellationToken::new(),
        });
        Ok(Self {
            listener,
            health_listener,
            state,
            pool,
            scheduler: Some(scheduler),
            options,
            writer_task,
        })
    }

    /// The main port (0 when headless).
    pub fn port(&self) -> u16 {
        port_of(self.listener.as_ref())
    }

    /// The separate health listener's port, when there is one.
    pub fn health_port(&self) -> Option<u16> {
        self.health_listener.as_ref().map(|l| port_of(Some(l)))
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
        let node_task = {
            let queue = self.state.queue.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let node = queue.node().clone();
                let store = queue.store().clone();
                node.run(store, cancel, |now| {
                    let queue = queue.clone();
                    async move {
                        if let Err(e) = queue.rescue(now).await {
                            tracing::warn!(error = %e, "rescue of dead nodes' jobs failed; will retry");
                        }
                    }
                })
                .await
            })
        };
        let run_metrics = tokio::spawn(http::metrics::record_runs(
            self.state.clone(),
            cancel.clone(),
        ));
        let grace = Duration::from_secs(self.state.config.file.queue.shutdown_grace_secs);
        let shutdown = self.state.shutdown.clone();
        let stop = async move {
            stop.await;
            shutdown.cancel();
        };
        let health_task = self.health_listener.take().map(|l| {
            let app = http::health_router(self.state.clone());
            let done = self.state.shutdown.clone();
            let limits = self.state.config.file.http.clone();
            tracing::info!(address = ?l.local_addr().ok(), "health check listening");
            tokio::spawn(async move {
                http::serve::serve(l, app, &limits, done.cancelled_owned()).await;
            })
        });
        match self.listener.take() {
            Some(listener) => {
                tracing::info!(address = %listener.local_addr()?, version = env!("CARGO_PKG_VERSION"), "helix-sync listening");
                let app = http::router(self.state.clone());
                http::serve::serve(listener, app, &self.state.config.file.http, stop).await;
                tracing::info!("shutting down: HTTP drained, stopping workers");
            }
            None => {
                stop.await;
                tracing::info!("shutting down: stopping workers");
            }
        }
        if let Some(t) = health_task {
            let _ = t.await;
        }
        cancel.cancel();
        let _ = run_metrics.await;
        if let Some(w) = workers {
            w.shutdown(grace).await;
        }
        if let Some(t) = scheduler_task {
            let _ = t.await;
        }
        let _ = node_task.await;
        self.state.queue.node().leave(&self.state.store).await;
        let store = self.state.store.clone();
        drop(self.state);
        let _ = self.writer_task.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn port_of(listener: Option<&TcpListener>) -> u16 {
    listener
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Binds the separate health listener when it is enabled and its port is not the main
/// listener's (as bound: with `HELIX_BIND` on port 0, `HEALTH_CHECK_PORT=0` is another
/// ephemeral port).
async fn bind_health(config: &Config, main_port: u16) -> anyhow::Result<Option<TcpListener>> {
    let port = config.health_check_port;
    if !config.health_check_enabled || port == main_port {
        return Ok(None);
    }
    let addr = std::net::SocketAddr::new(config.bind.ip(), port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the health check listener {addr} (HEALTH_CHECK_PORT)"))?;
    Ok(Some(listener))
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
