//! Notion: one page per run in the sync-runs database, upserted by its `Sync ID`, with the
//! report blocks of the Notion exporter appended under it; optionally the repositories,
//! UCF and agents databases are upserted too. Page properties are fitted to each database's
//! own schema first ([`schema`]): a column the user's database lacks is left out (and noted
//! in the delivery's progress), our title goes under its title property whatever its name,
//! and only `Sync ID` is required.
//!
//! Exactly-once is built from two facts: the page is always looked up by `Sync ID` before
//! one is created (so a crash between creating and recording it cannot make a second),
//! and the page is created empty and filled only by appends, so its number of top-level
//! children *is* how far the appends got. A first attempt trusts the delivery's progress;
//! any attempt that finds an existing page counts its children and resumes after them.

pub mod client;
pub mod conflicts;
pub mod schema;
pub mod upsert;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use self::client::NotionClient;
use self::upsert::{upsert_pages, Key, PageWrite};
use super::limits::{fit_notion_text, notion_chunks, prune_nesting};
use super::{PublishContext, PublishError, Publisher, Receipt};
use crate::config::Config;
use crate::sync::exporters::{self, ExportInput, Scope};

/// The run-page property that keys a page to its run.
pub const SYNC_ID: &str = "Sync ID";

/// The Notion exporter's document (its JSON contract).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NotionDocument {
    pub notion_version: String,
    /// Schemas of `sync_runs`, `repositories`, `ucf_metrics`, `agents` (for setting up
    /// databases; publishing only reads the page parts).
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseSchema>,
    pub run_page: RunPage,
    #[serde(default)]
    pub repo_pages: Vec<KeyedPage>,
    #[serde(default)]
    pub ucf_page: Option<KeyedPage>,
    #[serde(default)]
    pub agent_pages: Vec<KeyedPage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DatabaseSchema {
    #[serde(default)]
    pub title: Value,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunPage {
    /// Page properties, including the `Name` title and `Sync ID` rich text (= run id).
    pub properties: Map<String, Value>,
    /// Block objects, top level first; nesting at most two levels.
    #[serde(default)]
    pub children: Vec<Value>,
}

/// A page identified by a key held in its title property.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyedPage {
    pub key: String,
    pub properties: Map<String, Value>,
}

impl NotionDocument {
    /// Fits every text to Notion's limits and prunes over-deep nesting (the exporter should
    /// need neither; this is what keeps a bad document from costing a 400).
    pub fn fit_limits(&mut self) {
        let mut changed: usize = self
            .run_page
            .properties
            .values_mut()
            .map(fit_notion_text)
            .sum();
        changed += self
            .run_page
            .children
            .iter_mut()
            .map(fit_notion_text)
            .sum::<usize>();
        changed += prune_nesting(&mut self.run_page.children);
        let keyed = self
            .repo_pages
            .iter_mut()
            .chain(self.ucf_page.iter_mut())
            .chain(self.agent_pages.iter_mut());
        for page in keyed {
            changed += page
                .properties
                .values_mut()
                .map(fit_notion_text)
                .sum::<usize>();
        }
        if changed > 0 {
            tracing::warn!(changed, "Notion document exceeded API limits; cut to fit");
        }
    }
}

pub struct Notion;

#[async_trait]
impl Publisher for Notion {
    fn name(&self) -> &'static str {
        "notion"
    }

    fn unconfigured(&self, config: &Config) -> Option<String> {
        if !config.file.publishers.notion.enabled {
            return Some("switched off (publishers.notion.enabled = false)".into());
        }
        match (&config.secrets.notion_api_key, &config.notion_database_id) {
            (None, _) => Some("NOTION_API_KEY is not set".into()),
            (_, None) => Some("NOTION_DATABASE_ID is not set".into()),
            _ => None,
        }
    }

    async fn publish(&self, cx: &PublishContext<'_>) -> Result<Receipt, PublishError> {
        let input = ExportInput {
            run: &cx.run,
            snapshot: &cx.snapshot,
            changes: &cx.changes,
            history: &[],
        };
        let artifact = exporters::export(cx.config(), "notion", &input, Scope::Full)
            .map_err(|e| PublishError::Permanent(format!("Notion export failed: {e}")))?;
        let doc: NotionDocument = serde_json::from_slice(&artifact.bytes).map_err(|e| {
            PublishError::Permanent(format!("the Notion export is not a Notion document: {e}"))
        })?;
        publish_document(cx, doc).await
    }
}

/// Where a run page's delivery got to (the delivery row's `progress`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    page_id: Option<String>,
    /// Top-level report blocks appended so far.
    appended: usize,
    total: usize,
    /// The optional repositories / UCF / agents pages are done.
    extras_done: bool,
    /// Our properties each database lacks and that were left out, by database kind
    /// (`sync_runs`, `repositories`, `ucf_metrics`, `agents`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    missing_properties: BTreeMap<String, Vec<String>>,
}

impl Progress {
    fn note_missing(&mut self, kind: &str, missing: Vec<String>) {
        if !missing.is_empty() {
            self.missing_properties.insert(kind.to_owned(), missing);
        }
    }
}

/// Publishes a parsed Notion document for the run in `cx`, resuming from `cx.progress`.
pub async fn publish_document(
    cx: &PublishContext<'_>,
    mut doc: NotionDocument,
) -> Result<Receipt, PublishError> {
    doc.fit_limits();
    let config = cx.config();
    let missing = |what: &str| PublishError::Permanent(format!("{what} is not set"));
    let key = config
        .secrets
        .notion_api_key
        .as_ref()
        .ok_or_else(|| missing("NOTION_API_KEY"))?;
    let database = config
        .notion_database_id
        .as_deref()
        .ok_or_else(|| missing("NOTION_DATABASE_ID"))?;
    let settings = &config.file.publishers.notion;
    let client = NotionClient::new(
        &cx.deps.http,
        &config.notion_api_url,
        key,
        &cx.deps.store,
        settings.requests_per_second,
    );
    let mut progress: Progress = serde_json::from_value(cx.progress.clone()).unwrap_or_default();
    let blocks = &doc.run_page.children;
    progress.total = blocks.len();

    let (page_id, existed) = match progress.page_id.clone() {
        Some(id) => (id, true),
        None => {
            let page = PageWrite {
                key: Key::SyncId(&cx.run.id),
                properties: &doc.run_page.properties,
            };
            let (mut written, lacking) =
                upsert_pages(cx, &client, "sync_runs", database, &[page]).await?;
            progress.note_missing("sync_runs", lacking);
            let page = written.pop().expect("one page in, one page out");
            if !page.existed {
                progress.appended = 0;
            }
            (page.id, page.existed)
        }
    };
    progress.page_id = Some(page_id.clone());
    if existed {
        // The page's children are the truth about how far earlier attempts got.
        progress.appended = count_children(&client, &page_id).await?.min(blocks.len());
    }
    cx.save_progress(&json!(progress), Some(&page_id)).await?;

    for range in notion_chunks(blocks, progress.appended) {
        let body = json!({"children": &blocks[range.clone()]});
        client
            .patch(&format!("/v1/blocks/{page_id}/children"), &body)
            .await?;
        progress.appended = range.end;
        cx.save_progress(&json!(progress), Some(&page_id)).await?;
    }

    if settings.auto_create_pages && !progress.extras_done {
        let sets = [
            (
                "repositories",
                &settings.repos_database_id,
                doc.repo_pages.iter().collect::<Vec<_>>(),
            ),
            (
                "ucf_metrics",
                &settings.ucf_database_id,
                doc.ucf_page.iter().collect(),
            ),
            (
                "agents",
                &settings.agents_database_id,
                doc.agent_pages.iter().collect(),
            ),
        ];
        for (kind, database, pages) in sets {
            let (Some(database), false) = (database, pages.is_empty()) else {
                continue;
            };
            let writes: Vec<PageWrite<'_>> = pages
                .iter()
                .map(|p| PageWrite {
                    // Repositories and agents are one page each, named by their key; the UCF
                    // database gets one page per run, whose title carries a timestamp, so it is
                    // found again by its Sync ID (the key is the run id).
                    key: match kind {
                        "ucf_metrics" => Key::SyncId(&p.key),
                        _ => Key::Title(&p.key),
                    },
                    properties: &p.properties,
                })
                .collect();
            let (_, lacking) = upsert_pages(cx, &client, kind, database, &writes).await?;
            progress.note_missing(kind, lacking);
        }
        progress.extras_done = true;
        cx.save_progress(&json!(progress), Some(&page_id)).await?;
    }
    Ok(Receipt {
        external_id: Some(page_id),
    })
}

/// Number of top-level children of a block (paginated).
async fn count_children(client: &NotionClient<'_>, id: &str) -> Result<usize, PublishError> {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/blocks/{id}/children?page_size=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&start_cursor={c}"));
        }
        let page = client.get(&path).await?;
        count += page
            .get("results")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        cursor = page
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(String::from);
        if page.get("has_more").and_then(Value::as_bool) != Some(true) || cursor.is_none() {
            return Ok(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits;
    use super::*;

    #[test]
    fn document_contract_parses_and_fits() {
        let long = "x".repeat(2500);
        let mut doc: NotionDocument = serde_json::from_value(json!({
            "notion_version": "2025-09-03",
            "databases": {"sync_runs": {"title": "Sync runs", "properties": {"Name": {"title": {}}}}},
            "run_page": {
                "properties": {"Name": {"title": [{"type": "text", "text": {"content": long}}]},
                               SYNC_ID: {"rich_text": [{"type": "text", "text": {"content": "run-1"}}]}},
                "children": [{"object": "block", "type": "paragraph",
                              "paragraph": {"rich_text": [{"type": "text", "text": {"content": long}}]}}]
            },
            "repo_pages": [{"key": "o/r", "properties": {}}],
            "ucf_page": null,
            "agent_pages": []
        }))
        .unwrap();
        doc.fit_limits();
        let name = doc.run_page.properties["Name"]["title"][0]["text"]["content"]
            .as_str()
            .unwrap();
        assert_eq!(limits::utf16(name), limits::notion::RICH_TEXT);
        let para = doc.run_page.children[0]["paragraph"]["rich_text"][0]["text"]["content"]
            .as_str()
            .unwrap();
        assert_eq!(limits::utf16(para), limits::notion::RICH_TEXT);
        assert_eq!(doc.repo_pages[0].key, "o/r");
    }
}
