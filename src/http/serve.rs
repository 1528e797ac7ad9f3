//! The accept loop: every connection served by hyper (HTTP/1.1 and HTTP/2) with the timeouts
//! a server on the open internet needs, and the client's address on every request.
//!
//! `axum::serve` has no header-read or idle timeout, so 500 silent connections stayed open
//! until the file descriptors ran out. Each connection here has a watchdog that closes it
//! when no request is in progress and either
//! - bytes of a request head have been arriving for `header_read_timeout_secs` without the
//!   head completing (a slowloris), or
//! - nothing has been read or written for `idle_timeout_secs` (a connection opened and left
//!   silent, or kept alive after its last response).
//!
//! A request counts as in progress from its complete head until its response body has been
//! sent or dropped, so a long download or an event stream is never cut as idle (the
//! router's request timeout and the streams' own shutdown govern those). What is "in
//! progress" is learnt from the service (request start) and from the response body (its
//! drop); what arrives from the socket is learnt from a thin wrapper around it. HTTP itself
//! is parsed by hyper alone. Shutdown is graceful: the listener closes, every connection is
//! told to finish its in-flight requests, and `serve` returns when they have.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::ServerLimits;

/// Serves `app` on `listener` until `stop` resolves, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ServerLimits,
    stop: impl Future<Output = ()> + Send,
) {
    let header = Duration::from_secs(limits.header_read_timeout_secs.max(1));
    let idle = Duration::from_secs(limits.idle_timeout_secs.max(1));
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or the like: back off instead of spinning (as
                    // axum::serve and hyper's examples do).
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let service = TowerToHyperService::new(connection_service(app.clone(), peer, &activity));
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                served = conn => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                why = activity.expired(header, idle) => {
                    tracing::debug!(%peer, why, "closing a connection");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The router for one connection: each request carries the client's address, and counts as
/// in progress until its response body is gone.
fn connection_service(
    app: Router,
    peer: SocketAddr,
    activity: &Arc<Activity>,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    let activity = activity.clone();
    tower::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        let in_progress = InProgress::start(&activity);
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            let res = app.oneshot(req).await?;
            Ok(res.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _held_until_the_body_is_dropped = &in_progress;
                    frame
                }))
            }))
        }
    })
}

/// What the watchdog knows about one connection. Times are ms since `start`.
struct Activity {
    start: Instant,
    /// Last time bytes were read or written.
    last_io: AtomicU64,
    /// When the first byte of a request head arrived while no request was in progress; 0
    /// when none is arriving (stored + 1 so that 0 stays "none").
    head_started: AtomicU64,
    /// Requests whose response body is not gone yet.
    in_progress: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_progress: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_progress.load(Ordering::Acquire) == 0 {
            let _ =
                self.head_started
                    .compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// Resolves when the connection should be closed, with the reason.
    async fn expired(&self, header: Duration, idle: Duration) -> &'static str {
        let (header, idle) = (header.as_millis() as u64, idle.as_millis() as u64);
        loop {
            let now = self.now();
            let (deadline, why) = if self.in_progress.load(Ordering::Acquire) > 0 {
                (now + idle, "")
            } else {
                match self.head_started.load(Ordering::Acquire) {
                    0 => (self.last_io.load(Ordering::Relaxed) + idle, "idle timeout"),
                    started => (started - 1 + header, "header read timeout"),
                }
            };
            if now >= deadline && !why.is_empty() {
                return why;
            }
            tokio::time::sleep(Duration::from_millis(deadline.saturating_sub(now).max(1))).await;
        }
    }
}

/// A request in progress on a connection; the count drops when this does.
struct InProgress(Arc<Activity>);

impl InProgress {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_progress.fetch_add(1, Ordering::AcqRel);
        activity.head_started.store(0, Ordering::Release);
        Self(activity.clone())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_io.store(a.now(), Ordering::Relaxed);
        a.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, noting when bytes move.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
