//! MCP over stdio (`helix-sync mcp`): JSON-RPC on stdin/stdout, one session per process.
//!
//! Stdout belongs to the protocol alone; logs go to stderr (see `telemetry`). The session
//! ends when the client closes stdin.

use rmcp::ServiceExt;

use super::HelixMcp;
use crate::http::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("MCP session did not start: {0}")]
    Initialize(String),
    #[error("MCP session failed: {0}")]
    Session(String),
}

/// Serves one session on stdin/stdout until the client disconnects.
pub async fn serve(state: AppState) -> Result<(), StdioError> {
    let running = HelixMcp::new(state)
        .serve(rmcp::transport::stdio())
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
