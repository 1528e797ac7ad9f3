//! This process in the node registry (River's leader, Oban's lifeline): it registers at
//! start, heartbeats every second, and hands back the jobs of nodes that stopped.
//!
//! A node is dead when its heartbeat is older than [`DEAD_AFTER`], or at once when a newer
//! incarnation of the same name registered (a restarted process knows its predecessor is
//! gone). Its running jobs go back to the queue then, seconds after a crash instead of at
//! lease expiry. The name comes from `HELIX_NODE_NAME` (default `<host name>:<port>`); two
//! live processes must never share one, or each would rescue the other's jobs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};

/// How often a node heartbeats.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// A node whose heartbeat is older than this is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(5);

/// The system's host name (`uname`), which differs between machines, unlike `$HOSTNAME`,
/// which shells set but do not export (replicas on different hosts shared a name by it).
pub fn host_name() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if host.is_empty() {
        "helix".into()
    } else {
        host
    }
}

/// This process's identity in the registry.
#[derive(Debug, Clone)]
pub struct Node {
    /// This incarnation (a v7 UUID); every worker id of the process starts with `{id}/`.
    pub id: String,
    /// Stable across restarts.
    pub name: String,
}

impl Node {
    pub fn new(name: Option<String>) -> Self {
        let name = name.unwrap_or_else(|| format!("{}:pid{}", host_name(), std::process::id()));
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            name,
        }
    }

    /// The id of this node's worker `n`.
    pub fn worker_id(&self, n: &str) -> String {
        format!("{}/{n}", self.id)
    }

    pub async fn register(&self, store: &Store, now: i64) -> Result<(), StoreError> {
        store.register_node(&self.id, &self.name, now).await?;
        tracing::info!(node = %self.name, node_id = %self.id, "node registered");
        Ok(())
    }

    /// Rescues the jobs of every dead node other than this one; returns their ids.
    pub async fn rescue_dead(&self, store: &Store, now: i64) -> Result<Vec<String>, StoreError> {
        let dead_before = now - DEAD_AFTER.as_millis() as i64;
        store
            .rescue_dead_nodes(&self.id, &self.name, dead_before, now)
            .await
    }

    /// Heartbeats until `cancel`, then leaves the registry. After each beat `after_beat`
    /// runs (the queue's rescue). A row that vanished (this node was taken for dead while
    /// stalled) is registered again.
    pub async fn run<F, Fut>(&self, store: Store, cancel: CancellationToken, after_beat: F)
    where
        F: Fn(i64) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = crate::store::now_ms();
            match store.node_heartbeat(&self.id, now).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(node = %self.name, "this node was taken for dead (heartbeats stalled); registering again");
                    if let Err(e) = self.register(&store, now).await {
                        tracing::error!(error = %e, "could not register the node again");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "node heartbeat failed; will retry"),
            }
            after_beat(now).await;
        }
    }

    /// Leaves the registry (clean shutdown, after the workers released their jobs).
    pub async fn leave(&self, store: &Store) {
        if let Err(e) = store.remove_node(&self.id).await {
            tracing::warn!(error = %e, "could not remove the node row; it will be taken for dead");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nameless_node_is_named_by_the_kernel_s_host_name_not_a_shell_variable() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host_name(), kernel.trim());
        let node = Node::new(None);
        assert_eq!(
            node.name,
            format!("{}:pid{}", kernel.trim(), std::process::id())
        );
        assert_eq!(Node::new(Some("a:1".into())).name, "a:1");
    }
}
