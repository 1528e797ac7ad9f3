//! The in-process bus of delivery and ingest notifications, for live listeners (the WebSocket
//! at `GET /api/sync/ws`). Run started/finished notifications have their own bus
//! (`sync::RunEvents`), which the metrics recorder and MCP subscriptions also read: ingest
//! can publish thousands of events a second, and those listeners must not lag behind them.
//!
//! Sending never blocks and never fails the sender: with no listener the event is dropped,
//! and a slow listener is told how many it missed. Events carry ids, names and states only,
//! never a payload or an error text (those stay behind the API's own endpoints).

use serde::Serialize;

/// One live notification.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A delivery of a run to a target changed state (after each attempt).
    Delivery {
        run_id: String,
        target: String,
        /// `succeeded`, `failed` (will retry), `pending`, `dead` or `disabled`.
        state: String,
        attempts: i64,
        next_attempt_at: Option<String>,
    },
    /// An inbound event was committed (duplicates are not announced).
    Received {
        id: String,
        source: String,
        event_type: String,
        repo: Option<String>,
        job_id: Option<String>,
    },
}

impl LiveEvent {
    /// The topic a client subscribes to for this event.
    pub fn topic(&self) -> &'static str {
        match self {
            LiveEvent::Delivery { .. } => "deliveries",
            LiveEvent::Received { .. } => "events",
        }
    }

    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Delivery { .. } => "delivery_updated",
            LiveEvent::Received { .. } => "event_received",
        }
    }
}

/// Sender side of the bus; cheap to clone.
pub type LiveEvents = tokio::sync::broadcast::Sender<LiveEvent>;

/// A bus with room for `capacity` unread events per listener.
pub fn channel(capacity: usize) -> LiveEvents {
    tokio::sync::broadcast::channel(capacity).0
}

/// Sends `event` when someone listens; building it is skipped otherwise (ingest's hot path).
pub fn send(bus: &LiveEvents, event: impl FnOnce() -> LiveEvent) {
    if bus.receiver_count() > 0 {
        let _ = bus.send(event());
    }
}
