//! The whole router: the HTTP edge's areas, the console and MCP over Streamable HTTP side by
//! side, one fallback and the layers every request passes (tracing, request ids, timeout).
//!
//! Assembly lives here, above the front ends, so that none of them imports another: `http`
//! knows nothing of the console or MCP, and they reach the application only through
//! `service::App`.

use std::time::Duration;

use axum::Router;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::http::{self, AppState};

/// Every route of the main listener.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(http::router())
        .merge(crate::console::router())
        .merge(crate::mcp::http::router(state.app()))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(
            crate::telemetry::MakeRequestUuidV7,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}
