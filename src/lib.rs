//! helix-sync keeps the Helix ecosystem in step: signed webhooks and schedules become queued
//! sync jobs; a worker pool runs each as one sync cycle that collects GitHub, UCF and agent
//! data into a snapshot, exports it and publishes it to Discord, Notion and the portal feed.
//!
//! Data flows one way, and the module tree follows it:
//!
//! - [`config`]: `config/sync_config.json` + environment → one validated `Config`.
//! - [`http`]: the axum router, error mapping, middleware; handlers stay thin.
//! - [`ingest`]: signature schemes and event → job routing; commits before answering.
//! - [`queue`]: job lifecycle (lease, retry, dead letter, rescue, coalescing) over `store`.
//! - [`worker`]: the pool that drains the queue.
//! - [`scheduler`]: cron firings, each enqueued once.
//! - [`sync`]: one sync cycle — sources → snapshot → exporters → publishers.
//! - [`service`]: operations shared by the HTTP API, the console, the MCP server and the CLI.
//! - [`console`]: the operator console (server-rendered pages, sessions, CSRF) over `service`.
//! - [`auth`]: users and roles, password hashes, sessions, API tokens, login rate limiting.
//! - [`mcp`]: the MCP tools (stdio and Streamable HTTP) over those same operations.
//! - [`store`]: the only module with SQL.
//! - [`startup`]: `Application::build` / `run_until_stopped`, used by `main` and tests.
//! - [`telemetry`]: logging and metrics.
//! - [`live`]: the bus of delivery and ingest notifications for live listeners (WebSocket).
//! - [`timestamp`]: one reader for the timestamps the ecosystem writes (zone-less = UTC).

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod console;
pub mod http;
pub mod ingest;
pub mod live;
pub mod mcp;
pub mod queue;
pub mod scheduler;
pub mod service;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod timestamp;
pub mod worker;
