//! Creating or updating pages in a database, keyed by a property, with their properties
//! fitted to the data source's schema (see [`super::schema`]).
//!
//! A page is always looked up by its key before one is created, so a retry never makes a
//! second. When Notion refuses a property that a *cached* schema promised, the schema is
//! re-read and the whole batch tried once more (the lookups make that harmless); a refusal
//! with a fresh schema is the caller's error. An existing page's properties go through the
//! conflict guard first (`conflicts`): a person's edit may keep some of them. This module
//! never appends blocks.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::client::{ApiError, NotionClient};
use super::conflicts::{Decision, Guard};
use super::schema::Target;
use super::SYNC_ID;
use crate::sync::publishers::{PublishContext, PublishError};

/// What identifies a page in its database.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// The run id, in the `Sync ID` text property (required by the run database).
    SyncId(&'a str),
    /// The text of the title property, whatever the data source calls it.
    Title(&'a str),
}

/// One page to create or update.
#[derive(Debug, Clone, Copy)]
pub struct PageWrite<'a> {
    pub key: Key<'a>,
    pub properties: &'a Map<String, Value>,
}

/// A written page: its id and whether it existed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub id: String,
    pub existed: bool,
}

/// Upserts `pages` into `database`. Returns each page's id and the names of our properties
/// the database lacks (sorted, each once; also logged once as a warning).
pub async fn upsert_pages(
    cx: &PublishContext<'_>,
    client: &NotionClient<'_>,
    kind: &str,
    database: &str,
    pages: &[PageWrite<'_>],
) -> Result<(Vec<Written>, Vec<String>), PublishError> {
    let policy = &cx.config().file.publishers.notion.conflicts;
    let mut guard = Guard::new(&cx.deps.store, policy, &cx.run.id, kind);
    let mut fresh = false;
    loop {
        let target = Target::resolve(cx, client, database, fresh).await?;
        let may_refresh = !fresh && target.cached;
        if let Err(e) = check(&target, pages) {
            if may_refresh {
                // The user may have just added the property; the cache cannot know.
                fresh = true;
                continue;
            }
            return Err(e);
        }
        let mut dropped: Vec<String> = Vec::new();
        let mut fitted = Vec::with_capacity(pages.len());
        for page in pages {
            let f = target.schema.fit(page.properties);
            dropped.extend(f.dropped);
            fitted.push((page.key, f.properties));
        }
        dropped.sort();
        dropped.dedup();
        let result = write_all(client, &target, &fitted, &mut guard).await;
        guard.save().await?;
        match result {
            Err(e) if may_refresh && e.is_property_rejection() => {
                tracing::info!(database, error = %e.message, "Notion refused a property; re-reading the schema");
                fresh = true;
            }
            Err(e) => return Err(e.into()),
            Ok(written) => {
                if !dropped.is_empty() {
                    tracing::warn!(
                        database,
                        missing = %dropped.join(", "),
                        "the Notion database lacks some of our properties (or has them with \
                         another type); they were left out"
                    );
                }
                return Ok((written, dropped));
            }
        }
    }
}

/// What the schema must have for the keys to work.
fn check(target: &Target, pages: &[PageWrite<'_>]) -> Result<(), PublishError> {
    if pages.iter().any(|p| matches!(p.key, Key::SyncId(_))) {
        target.schema.require_sync_id(&target.database)?;
    }
    if target.schema.title().is_none() {
        return Err(PublishError::Permanent(format!(
            "the Notion database {} has no title property",
            target.database
        )));
    }
    Ok(())
}

async fn write_all(
    client: &NotionClient<'_>,
    target: &Target,
    pages: &[(Key<'_>, Map<String, Value>)],
    guard: &mut Guard<'_>,
) -> Result<Vec<Written>, ApiError> {
    let title = target.schema.title().unwrap_or_default();
    let store_error = |e: crate::store::StoreError| ApiError::unanswered("store", &e.to_string());
    let mut written = Vec::with_capacity(pages.len());
    for (key, properties) in pages {
        let (filter, key_text) = match key {
            Key::SyncId(id) => (
                json!({"property": SYNC_ID, "rich_text": {"equals": id}}),
                *id,
            ),
            Key::Title(text) => (json!({"property": title, "title": {"equals": text}}), *text),
        };
        let mut ours = properties.clone();
        // Pages named by their title (a repository, an agent) are updated by every run, so
        // people's edits between runs are weighed (see `conflicts`). A `Sync ID` page belongs
        // to one run and is written by that run's delivery only: nothing to weigh or keep.
        let shared = matches!(key, Key::Title(_));
        let page = match find_page(client, &target.source, &filter).await? {
            Some(found) => {
                let decision = match shared {
                    true => guard.resolve(key_text, &found, &mut ours).await,
                    false => Ok(Decision::none()),
                }
                .map_err(store_error)?;
                let id = found["id"].as_str().unwrap_or_default().to_owned();
                let answer = update_page(client, &id, &Value::Object(ours)).await?;
                if shared {
                    guard
                        .remember(&answer, properties.keys(), decision)
                        .await
                        .map_err(store_error)?;
                }
                Written { id, existed: true }
            }
            None => {
                let answer = create_page(client, &target.source, &Value::Object(ours)).await?;
                let id = answer
                    .get("id")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .ok_or_else(|| {
                        ApiError::unanswered("POST /v1/pages", "created a page without an id")
                    })?;
                if shared {
                    guard
                        .remember(&answer, properties.keys(), Decision::none())
                        .await
                        .map_err(store_error)?;
                }
                Written { id, existed: false }
            }
        };
        written.push(page);
    }
    Ok(written)
}

/// The first page matching `filter`, as Notion returns it (id, properties, edit facts).
async fn find_page(
    client: &NotionClient<'_>,
    source: &str,
    filter: &Value,
) -> Result<Option<Value>, ApiError> {
    let answer = client
        .post(
            &format!("/v1/data_sources/{source}/query"),
            &json!({"filter": filter, "page_size": 1}),
        )
        .await?;
    Ok(answer
        .pointer("/results/0")
        .filter(|p| p.get("id").and_then(Value::as_str).is_some())
        .cloned())
}

/// Creates a page; Notion's answer (the page object).
async fn create_page(
    client: &NotionClient<'_>,
    source: &str,
    properties: &Value,
) -> Result<Value, ApiError> {
    let body = json!({
        "parent": {"type": "data_source_id", "data_source_id": source},
        "properties": properties,
    });
    client.post("/v1/pages", &body).await
}

/// Updates a page's properties; Notion's answer (the page object).
async fn update_page(
    client: &NotionClient<'_>,
    id: &str,
    properties: &Value,
) -> Result<Value, ApiError> {
    client
        .patch(
            &format!("/v1/pages/{id}"),
            &json!({"properties": properties}),
        )
        .await
}
