//! Building and running the application; the same code path for `main` and for tests.
//!
//! `Application::build` opens the application context (`service::App`: store with its
//! migrations, queue, ingest writer, buses), binds the listener (port 0 works: tests read the
//! port back), mounts the routers ([`router`]) and wires workers and scheduler to the same
//! context.
//! `run_until_stopped` serves until SIGTERM or Ctrl-C, then shuts down in order: stop
//! accepting and finish in-flight requests, let running jobs finish within the grace
//! period, stop the scheduler, flush the event writer.
//!
//! When `HEALTH_CHECK_ENABLED` and `HEALTH_CHECK_PORT` differs from the main port, a second
//! listener on the main address's IP serves `/health` alone (port 0 binds an ephemeral one,
//! which tests use). [`Application::build_headless`] builds the same context with no listener
//! and no HTTP state at all, for `helix-sync mcp` on stdio.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::scheduler::Scheduler;
use crate::service::{App, Open};
use crate::worker::{JobRunner, WorkerPool};

pub mod router;
pub use router::router;

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
    app: App,
    /// The HTTP edge's state over `app` (`None` when headless: no HTTP state at all).
    state: Option<AppState>,
    pool: WorkerPool,
    scheduler: Option<Scheduler>,
    options: Options,
    writer_task: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config, options: Options) -> anyhow::Result<Self> {
        Self::assemble(config, options, true).await
    }

    /// The application without any listener: the context, workers and scheduler only.
    pub async fn build_headless(config: Config, options: Options) -> anyhow::Result<Self> {
        Self::assemble(config, options, false).await
    }

    async fn assemble(config: Config, options: Options, listen: bool) -> anyhow::Result<Self> {
        crate::telemetry::metrics_handle();
        let (listener, health_listener) = if listen {
            let listener = TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("binding {}", config.bind))?;
            let main_port = port_of(Some(&listener));
            (Some(listener), bind_health(&config, main_port).await?)
        } else {
            (None, None)
        };
        let port = port_of(listener.as_ref());
        let node_name = config
            .node_name
            .clone()
            .or_else(|| (port != 0).then(|| default_node_name(port)));
        let schedules = if config.sync_enabled {
            crate::config::schedule::schedules(&config.file.sync_schedule)
                .map_err(anyhow::Error::msg)?
        } else {
            tracing::warn!("HELIX_SYNC_ENABLED=false: scheduled syncs are off (webhooks and manual triggers still run)");
            Vec::new()
        };
        let database = config.database_url.clone();
        let workers = config.workers;
        let opened = App::open(config, Open { workers, node_name })
            .await
            .with_context(|| format!("opening the database {database}"))?;
        let app = opened.app;
        let (queue, store) = (&app.queue, &app.store);
        let now = crate::store::now_ms();
        queue
            .node()
            .register(store, now)
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
        let scheduler = Scheduler::new(schedules, queue.clone())
            .publishing_to(opened.next_sync)
            .with_retention(app.config.file.retention.clone());
        let runner: Arc<dyn JobRunner> = match &options.runner {
            Some(r) => r.clone(),
            None => Arc::new(crate::sync::SyncRunner {
                deps: app.sync.clone(),
            }),
        };
        let pool = WorkerPool::new(queue.clone(), runner);
        let state = listener.is_some().then(|| AppState::new(app.clone()));
        Ok(Self {
            listener,
            health_listener,
            state,
            pool,
            scheduler: Some(scheduler),
            options,
            writer_task: opened.writer,
            app,
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

    /// The application context every front end shares.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The HTTP edge's state (`None` when headless).
    pub fn state(&self) -> Option<&AppState> {
        self.state.as_ref()
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
        for part in self.app.config.disabled_parts() {
            tracing::warn!("{part}");
        }
        if let Some(warning) = self
            .listener
            .is_some()
            .then(|| self.app.config.public_url_warning())
            .flatten()
        {
            tracing::warn!("{warning}");
        }
        let cancel = CancellationToken::new();
        let workers = self
            .options
            .workers
            .then(|| self.pool.spawn(self.app.config.workers));
        let scheduler_task = match (self.options.scheduler, self.scheduler.take()) {
            (true, Some(s)) => Some(tokio::spawn(s.run(cancel.clone()))),
            _ => None,
        };
        let node_task = {
            let queue = self.app.queue.clone();
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
        let run_metrics =
            tokio::spawn(http::metrics::record_runs(self.app.clone(), cancel.clone()));
        let grace = Duration::from_secs(self.app.config.file.queue.shutdown_grace_secs);
        let shutdown = self.app.shutdown.clone();
        let stop = async move {
            stop.await;
            shutdown.cancel();
        };
        let state = self.state.take();
        let health_task = self
            .health_listener
            .take()
            .zip(state.clone())
            .map(|(l, state)| {
                let app = http::health_router(state);
                let done = self.app.shutdown.clone();
                let limits = self.app.config.file.http.clone();
                tracing::info!(address = ?l.local_addr().ok(), "health check listening");
                tokio::spawn(async move {
                    http::serve::serve(l, app, &limits, done.cancelled_owned()).await;
                })
            });
        match self.listener.take().zip(state) {
            Some((listener, state)) => {
                tracing::info!(address = %listener.local_addr()?, version = env!("CARGO_PKG_VERSION"), "helix-sync listening");
                let app = router(state);
                http::serve::serve(listener, app, &self.app.config.file.http, stop).await;
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
        self.app.queue.node().leave(&self.app.store).await;
        let store = self.app.store.clone();
        drop(self.app);
        let _ = self.writer_task.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `<host name>:<port>`: the system's host name, and the port, so two replicas of one
/// host differ too.
pub fn default_node_name(port: u16) -> String {
    format!("{}:{port}", crate::queue::nodes::host_name())
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
