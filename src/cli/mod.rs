//! Subcommands other than `serve`: each opens the same store the server uses.

pub mod backup;
pub mod export;
pub mod history;
pub mod queue;
pub mod sync;
pub mod user;
pub mod versions;
