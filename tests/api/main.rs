//! Integration tests: one binary, one module per capability. Every test spawns the real
//! router on a loopback port with its own SQLite file and its own fake upstreams.

mod crash;
mod fake_runner;
mod helpers;

mod ingest_github;
mod ingest_manual;
mod ingest_ritual;
mod queue;
mod scheduler;
mod export_api;
