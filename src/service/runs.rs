//! A stored run's snapshot and change summary, for the MCP resources (and any other reader).
//!
//! Both are returned as the JSON text the store holds, so what a client reads is exactly what
//! the exporters were given. `None` as the run id means the newest run that has a snapshot
//! (the same run the `latest` exports show). It never re-parses or re-renders anything.

use super::App;
use super::ServiceError;

/// `(run id, snapshot JSON)` of run `run_id`, or of the newest run with a snapshot.
pub async fn snapshot(app: &App, run_id: Option<&str>) -> Result<(String, Vec<u8>), ServiceError> {
    match run_id {
        Some(id) => {
            let json = app.store.snapshot_json(id).await?;
            match json {
                Some(json) => Ok((id.to_owned(), json)),
                None if app.store.get_run(id).await?.is_some() => {
                    Err(ServiceError::NotFound(format!("run {id} has no snapshot")))
                }
                None => Err(ServiceError::NotFound(format!("no run {id}"))),
            }
        }
        None => app
            .store
            .latest_snapshot_json()
            .await?
            .ok_or_else(|| ServiceError::NotFound("no run has a snapshot yet".into())),
    }
}

/// `(run id, change summary JSON)` of run `run_id`, or of the newest run with a snapshot.
/// A run that recorded no summary has the empty object.
pub async fn changes(app: &App, run_id: Option<&str>) -> Result<(String, String), ServiceError> {
    let id = match run_id {
        Some(id) => id.to_owned(),
        None => app
            .store
            .latest_snapshot_run_id()
            .await?
            .ok_or_else(|| ServiceError::NotFound("no run has a snapshot yet".into()))?,
    };
    let row = app
        .store
        .get_run(&id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no run {id}")))?;
    let text = match row.change_summary.trim() {
        "" | "null" => "{}".to_owned(),
        text => text.to_owned(),
    };
    Ok((id, text))
}
