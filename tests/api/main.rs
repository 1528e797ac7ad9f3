//! Integration tests: one binary, one module per capability. Every test spawns the real
//! router on a loopback port with its own SQLite file and its own fake upstreams.

mod console;
mod crash;
mod debounce;
mod delivery_guarantee;
mod delivery_outage;
mod ecosystem;
mod end_to_end;
mod fake_runner;
mod helpers;
mod hostile;
mod process;

mod export_api;
mod fakes;
mod ingest_github;
mod ingest_manual;
mod ingest_ritual;
mod lanes;
mod lifecycle_backup;
mod lifecycle_disk;
mod lifecycle_history;
mod lifecycle_retention;
mod lifecycle_snapshots;
mod operate;
mod publish_discord;
mod publish_feed;
mod publish_flow;
mod publish_notion;
mod publish_notion_schema;
mod publish_support;
mod queue;
mod replicas;
mod rescue;
mod scheduler;
mod sync_cli;
mod sync_fake;
mod sync_github;
mod sync_queue;
mod sync_sources;
mod sync_support;
mod wording;
