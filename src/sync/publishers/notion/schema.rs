//! The property schema of the data source a database publishes into, and the fitting of our
//! page properties to it.
//!
//! A user's database rarely has exactly our columns, and its title property may have any
//! name; Notion answers 400 to a page that names a property the data source lacks. So before
//! a page is written, its properties are cut down to those the data source has with the same
//! type, and our title goes under the data source's title property. The schema is read with
//! `GET /v1/data_sources/{id}` and cached in `kv` for a short while (a column the user adds
//! shows up within minutes; one they delete is caught by the caller's refresh-and-retry).
//! This module never writes pages and never invents a property the data source lacks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::NotionClient;
use super::SYNC_ID;
use crate::store::now_ms;
use crate::sync::publishers::{PublishContext, PublishError};

/// How long a cached schema is trusted.
pub const SCHEMA_TTL_MS: i64 = 5 * 60_000;

/// A data source's properties: name → type (`title`, `rich_text`, `select`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub types: BTreeMap<String, String>,
    /// When it was read (unix ms).
    #[serde(default)]
    pub fetched_at: i64,
}

/// Our properties fitted to a schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fitted {
    pub properties: Map<String, Value>,
    /// Our properties the data source lacks (or has with another type), by name.
    pub dropped: Vec<String>,
}

impl Schema {
    /// Reads the `properties` of a `GET /v1/data_sources/{id}` answer.
    pub fn from_data_source(answer: &Value, now: i64) -> Self {
        let types = answer
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| {
                let ty = p.get("type")?.as_str()?;
                Some((name.clone(), ty.to_owned()))
            })
            .collect();
        Self {
            types,
            fetched_at: now,
        }
    }

    /// The name of the title property (every Notion data source has exactly one).
    pub fn title(&self) -> Option<&str> {
        self.types
            .iter()
            .find(|(_, ty)| *ty == "title")
            .map(|(name, _)| name.as_str())
    }

    /// Keeps the properties the data source has with the same type; our title value goes
    /// under the data source's title property, whatever its name.
    pub fn fit(&self, ours: &Map<String, Value>) -> Fitted {
        let mut fitted = Fitted::default();
        for (name, value) in ours {
            let ty = value_type(value);
            let target = match ty {
                Some("title") => self.title(),
                Some(ty) => Some(name.as_str()).filter(|n| {
                    self.types.get(*n).map(String::as_str) == Some(ty) && ty != "title"
                }),
                None => None,
            };
            match target {
                Some(t) => drop(fitted.properties.insert(t.to_owned(), value.clone())),
                None => fitted.dropped.push(name.clone()),
            }
        }
        fitted
    }

    /// The idempotent upsert of run pages needs a `Sync ID` text property.
    pub fn require_sync_id(&self, database: &str) -> Result<(), PublishError> {
        match self.types.get(SYNC_ID).map(String::as_str) {
            Some("rich_text") => Ok(()),
            found => Err(PublishError::Permanent(format!(
                "the Notion database {database} {}; add a Text property named '{SYNC_ID}' to \
                 the database (it keys each page to its run)",
                match found {
                    None => format!("has no '{SYNC_ID}' property"),
                    Some(ty) => format!("has '{SYNC_ID}' as a {ty} property, not Text"),
                }
            ))),
        }
    }
}

/// The type of a page property value: its `type` field, else its one type-named key
/// (`{"select": {..}}` → `select`).
fn value_type(value: &Value) -> Option<&str> {
    let obj = value.as_object()?;
    if let Some(ty) = obj.get("type").and_then(Value::as_str) {
        return Some(ty);
    }
    obj.keys().map(String::as_str).find(|k| *k != "id")
}

/// Where a database's pages go: its first data source and that source's schema.
#[derive(Debug, Clone)]
pub struct Target {
    pub database: String,
    pub source: String,
    pub schema: Schema,
    /// The schema came from the cache (so it may be stale), not from Notion just now.
    pub cached: bool,
}

impl Target {
    /// Resolves `database` through the `kv` cache; `fresh` re-reads the schema from Notion
    /// (after Notion refused a property the cached schema had). The data source id is
    /// cached for good: a database keeps its data source.
    pub async fn resolve(
        cx: &PublishContext<'_>,
        client: &NotionClient<'_>,
        database: &str,
        fresh: bool,
    ) -> Result<Self, PublishError> {
        let store = &cx.deps.store;
        let source_key = format!("notion:data_source:{database}");
        let source = match store.kv_get(&source_key).await? {
            Some(id) => id,
            None => {
                let db = client.get(&format!("/v1/databases/{database}")).await?;
                let id = db
                    .pointer("/data_sources/0/id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        PublishError::Permanent(format!(
                            "Notion database {database} has no data source"
                        ))
                    })?
                    .to_owned();
                store.kv_set(&source_key, &id, now_ms()).await?;
                id
            }
        };
        let schema_key = format!("notion:schema:{source}");
        let now = now_ms();
        let cached = match fresh {
            true => None,
            false => store
                .kv_get(&schema_key)
                .await?
                .and_then(|v| serde_json::from_str::<Schema>(&v).ok())
                .filter(|s| (0..SCHEMA_TTL_MS).contains(&(now - s.fetched_at))),
        };
        let from_cache = cached.is_some();
        let schema = match cached {
            Some(s) => s,
            None => {
                let answer = client.get(&format!("/v1/data_sources/{source}")).await?;
                let schema = Schema::from_data_source(&answer, now);
                let json = serde_json::to_string(&schema).expect("a schema serialises");
                store.kv_set(&schema_key, &json, now).await?;
                schema
            }
        };
        Ok(Self {
            database: database.to_owned(),
            source,
            schema,
            cached: from_cache,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_data_source(
            &json!({"object": "data_source", "properties": {
                "Run": {"id": "title", "name": "Run", "type": "title", "title": {}},
                "Sync ID": {"id": "a", "name": "Sync ID", "type": "rich_text", "rich_text": {}},
                "Status": {"id": "b", "name": "Status", "type": "select", "select": {}},
                "Commits": {"id": "c", "name": "Commits", "type": "rich_text", "rich_text": {}},
            }}),
            1,
        )
    }

    #[test]
    fn keeps_matching_properties_and_renames_the_title() {
        let ours = json!({
            "Name": {"title": [{"text": {"content": "Sync 1"}}]},
            "Sync ID": {"rich_text": [{"text": {"content": "run-1"}}]},
            "Status": {"select": {"name": "succeeded"}},
            "Scope": {"select": {"name": "full"}},
            "Commits": {"number": 3},
        });
        let fitted = schema().fit(ours.as_object().unwrap());
        assert_eq!(
            Value::Object(fitted.properties),
            json!({
                "Run": {"title": [{"text": {"content": "Sync 1"}}]},
                "Sync ID": {"rich_text": [{"text": {"content": "run-1"}}]},
                "Status": {"select": {"name": "succeeded"}},
            })
        );
        assert_eq!(fitted.dropped, ["Scope", "Commits"], "in our order");
    }

    #[test]
    fn sync_id_must_be_a_text_property() {
        assert!(schema().require_sync_id("db").is_ok());
        let mut s = schema();
        s.types.remove(SYNC_ID);
        let Err(PublishError::Permanent(m)) = s.require_sync_id("db") else {
            panic!("a missing Sync ID is permanent");
        };
        assert!(
            m.contains("add a Text property named 'Sync ID' to the database"),
            "{m}"
        );
        s.types.insert(SYNC_ID.into(), "number".into());
        let Err(PublishError::Permanent(m)) = s.require_sync_id("db") else {
            panic!("a Sync ID of another type is permanent");
        };
        assert!(
            m.contains("number") && m.contains("add a Text property"),
            "{m}"
        );
    }
}
