//! A scripted [`JobRunner`]: each call pops the next outcome; calls are recorded; an
//! optional gate holds jobs "running" until the test opens it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use helix_sync::queue::{ClaimedJob, JobError};
use helix_sync::worker::JobRunner;
use tokio::sync::{Notify, Semaphore};

#[derive(Default)]
pub struct FakeRunner {
    script: Mutex<VecDeque<Result<(), JobError>>>,
    /// Job ids in the order they started.
    pub started: Mutex<Vec<String>>,
    /// When set, each run waits for a permit before finishing.
    gate: Option<Arc<Semaphore>>,
    /// Signalled whenever a run starts.
    pub on_start: Notify,
}

impl FakeRunner {
    pub fn scripted(outcomes: Vec<Result<(), JobError>>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(outcomes.into()),
            ..Default::default()
        })
    }

    /// Every run blocks until `open(n)` lets `n` of them finish.
    pub fn gated() -> (Arc<Self>, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        (
            Arc::new(Self {
                gate: Some(gate.clone()),
                ..Default::default()
            }),
            gate,
        )
    }

    pub fn started(&self) -> Vec<String> {
        self.started.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobRunner for FakeRunner {
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobError> {
        self.started.lock().unwrap().push(job.row.id.clone());
        self.on_start.notify_waiters();
        if let Some(g) = &self.gate {
            g.acquire().await.expect("gate open").forget();
        }
        self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}
