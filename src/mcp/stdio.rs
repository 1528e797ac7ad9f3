//! MCP over stdio (`helix-sync mcp`): JSON-RPC on stdin/stdout, one session per process.
//!
//! Stdout belongs to the protocol alone; logs go to stderr (see `telemetry`). Each stdin
//! line passes [`wire::check`] before rmcp sees it, so a line that is not JSON, not JSON-RPC
//! or a standard method with bad params is answered with its JSON-RPC error and the session
//! goes on (rmcp alone drops such lines silently, or calls the method unknown). Replies of
//! both kinds share one writer, a line at a time. The session ends when the client closes
//! stdin.
//!
//! The runs this process sees finish are usually run by the `serve` process beside it, so a
//! poll of the newest run feeds the run-event bus that subscriptions listen to.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::ServiceExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::wire::{self, Inbound};
use super::HelixMcp;
use crate::service::App;
use crate::sync::RunEvent;

/// Longest line taken (a request is small; a line this long is an attack or a bug).
const MAX_LINE: usize = 4 * 1024 * 1024;
/// How often the newest run is looked at for runs finished by another process.
const RUN_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("MCP session did not start: {0}")]
    Initialize(String),
    #[error("MCP session failed: {0}")]
    Session(String),
}

type Out = Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// Serves one session on stdin/stdout until the client disconnects.
pub async fn serve(app: App) -> Result<(), StdioError> {
    serve_on(app, tokio::io::stdin(), tokio::io::stdout()).await
}

/// [`serve`] on any pair of streams (tests use in-memory pipes).
pub async fn serve_on(
    app: App,
    input: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    output: impl AsyncWrite + Send + Unpin + 'static,
) -> Result<(), StdioError> {
    let out: Out = Arc::new(Mutex::new(Box::new(output)));
    let (tx, rx) = mpsc::channel::<ClientJsonRpcMessage>(64);
    tokio::spawn(read_lines(input, tx, out.clone()));
    tokio::spawn(poll_runs(app.clone()));
    let sink = Box::pin(futures::sink::unfold(
        out,
        |out, message: ServerJsonRpcMessage| async move {
            let line = serde_json::to_vec(&message).map_err(std::io::Error::other)?;
            write_line(&out, &line).await?;
            Ok::<_, std::io::Error>(out)
        },
    ));
    let running = HelixMcp::new(app)
        .serve((sink, ReceiverStream::new(rx)))
        .await
        .map_err(|e| StdioError::Initialize(e.to_string()))?;
    tracing::info!("MCP session on stdio started");
    let reason = running
        .waiting()
        .await
        .map_err(|e| StdioError::Session(e.to_string()))?;
    tracing::info!(?reason, "MCP session on stdio ended");
    Ok(())
}

/// Hands good lines to rmcp and answers bad ones; ends (closing rmcp's input) at EOF.
async fn read_lines(
    input: impl tokio::io::AsyncRead + Unpin,
    tx: mpsc::Sender<ClientJsonRpcMessage>,
    out: Out,
) {
    let mut lines = FramedRead::new(input, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let verdict = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => wire::check(line.as_bytes()),
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                Inbound::Reject(wire::too_large(MAX_LINE))
            }
            Err(LinesCodecError::Io(e)) => {
                tracing::warn!(error = %e, "reading stdin failed; ending the MCP session");
                return;
            }
        };
        match verdict {
            Inbound::Message(m) => {
                if tx.send(*m).await.is_err() {
                    return;
                }
            }
            Inbound::Reject(r) => {
                tracing::debug!(code = r.code, "MCP message rejected");
                let line = r.response.to_string();
                if write_line(&out, line.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_line(out: &Out, line: &[u8]) -> std::io::Result<()> {
    let mut out = out.lock().await;
    out.write_all(line).await?;
    out.write_all(b"\n").await?;
    out.flush().await
}

/// Announces runs finished elsewhere on the local bus (our own arrive there directly;
/// subscribers tell each run once).
async fn poll_runs(app: App) {
    let newest = |app: App| async move {
        match app.store.list_runs(1).await {
            Ok(runs) => runs.into_iter().next().filter(|r| r.finished_at.is_some()),
            Err(e) => {
                tracing::debug!(error = %e, "polling the newest run failed");
                None
            }
        }
    };
    let mut last = newest(app.clone()).await.map(|r| r.id);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RUN_POLL) => {}
            _ = app.shutdown.cancelled() => return,
        }
        let Some(run) = newest(app.clone()).await else {
            continue;
        };
        if last.as_deref() != Some(run.id.as_str()) {
            last = Some(run.id.clone());
            let _ = app.run_events.send(RunEvent::Finished {
                run_id: run.id,
                status: run.status,
            });
        }
    }
}
