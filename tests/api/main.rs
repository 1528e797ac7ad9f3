//! Integration tests: one binary, one module per capability. Every test spawns the real
//! router on a loopback port with its own SQLite file and its own fake upstreams.

mod helpers;

mod ingest_github;
mod ingest_manual;
mod ingest_ritual;
mod sync_cli;
mod sync_fake;
mod sync_github;
mod sync_queue;
mod sync_sources;
mod sync_support;
