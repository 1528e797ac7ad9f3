//! helix-sync keeps the Helix ecosystem in step: signed webhooks and schedules become queued
//! sync jobs; a worker pool runs each as one sync cycle that collects GitHub, UCF and agent
//! data into a snapshot, exports it and publishes it to Discord, Notion and the portal feed.
//!
//! Data flows one way, and the module tree follows it (each module imports only those below
//! it; `config`, `timestamp` and `live` are leaves):
//!
//! - [`startup`]: `Application::build` / `run_until_stopped`, used by `main` and tests; the
//!   router assembly that mounts the front ends side by side.
//! - [`console`]: the operator console (server-rendered pages, sessions, CSRF) over `service`.
//! - [`mcp`]: the MCP tools (stdio and Streamable HTTP) over those same operations.
//! - [`discord`]: the Discord bot's slash commands (signed HTTP interactions) over them too.
//! - [`http`]: the HTTP edge: its state (the `App` plus edge-only parts), one router per
//!   area, the error mapping, the accept loop; handlers stay thin.
//! - [`service`]: the application context `App` every front end holds (the CLI too), and the
//!   operations they share, each taking it and, where a role applies, the principal.
//! - [`ingest`]: signature schemes and the one path from verified bytes to a committed event.
//! - [`sync`]: one sync cycle — sources → snapshot → exporters → publishers.
//! - [`worker`]: the pool that drains the queue.
//! - [`scheduler`]: cron firings, each enqueued once.
//! - [`auth`]: users and roles, password hashes, sessions and cookies, API tokens.
//! - [`queue`]: job lifecycle (lease, retry, dead letter, rescue, coalescing) over `store`.
//! - [`store`]: the only module with SQL.
//! - [`config`]: `config/sync_config.json` + environment → one validated `Config`, with the
//!   parsing its validation needs (cron schedules, `whsec_` keys, UCF metric names).
//! - [`telemetry`]: logging and metrics.
//! - [`live`]: the bus of delivery and ingest notifications for live listeners (WebSocket).
//! - [`timestamp`]: one reader and one RFC 3339 writer of times.

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod console;
pub mod discord;
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
