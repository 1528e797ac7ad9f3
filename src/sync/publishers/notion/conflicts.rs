//! Concurrent edits: people edit the Notion pages we update (repositories, agents) between
//! syncs. Before each update of an existing page we decide, per property, whether to write.
//! (Run and UCF pages are one per run, keyed by `Sync ID`, and written only by that run's
//! delivery; they are not weighed, and not remembered, so the baseline table stays as small
//! as the set of repository and agent pages.)
//!
//! The baseline is our own last write to the page (`store::notion_writes`): the page's
//! `last_edited_time` and `last_edited_by` right after it, and the plain value Notion stored
//! for each of our properties. When the page was edited since (time or editor differ), each
//! of our properties whose value differs from that baseline was changed by someone else, and
//! the property's policy (`publishers.notion.conflicts`) decides:
//!
//! - `ours`: write our value over it (the default for the properties we own);
//! - `theirs`: keep the person's value, and keep leaving that property alone on that page;
//! - `flag`: like `theirs`, and report it: the run's record gets the conflict (its change
//!   summary as the API shows it, the console) and Discord lists it.
//!
//! Properties we do not write are never touched, so people's own columns are always kept.
//! A property left to a person stays theirs until the page holds our value again. Values are
//! compared as plain values (text, number, option name, date start) as Notion returns them,
//! so Notion's own formatting of what we sent is not mistaken for an edit. Notion rounds
//! `last_edited_time` to the minute, which is why the editor is compared too and why values,
//! not times, say which properties changed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::ConflictPolicy;
use crate::store::{now_ms, NotionWriteRow, Store};

/// One person's edit we kept and report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// `repositories`, `agents`, `ucf_metrics` or `sync_runs`.
    pub database: String,
    /// The page's key (repository or agent name, or Sync ID).
    pub page: String,
    pub page_id: String,
    pub property: String,
    /// The value the person left (kept).
    pub theirs: Value,
    /// The value this run would have written.
    pub ours: Value,
    /// Notion user id of the page's last editor.
    pub edited_by: String,
    pub edited_at: String,
}

impl Conflict {
    /// One line for Discord.
    pub fn line(&self) -> String {
        format!(
            "{} `{}` · {}: kept {} (ours: {}), edited by {} at {}",
            self.database,
            self.page,
            self.property,
            short(&self.theirs),
            short(&self.ours),
            self.edited_by,
            self.edited_at
        )
    }
}

fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    super::super::limits::truncate(&text, 80)
}

/// A property value as a plain JSON value, whether as we send it (`{"rich_text": [...]}`)
/// or as Notion returns it (`{"type": "rich_text", "rich_text": [...], "id": ...}`).
pub fn plain(v: &Value) -> Value {
    let texts = |items: &Value| -> Value {
        let s: String = items
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                t.get("plain_text")
                    .or_else(|| t.pointer("/text/content"))
                    .and_then(Value::as_str)
            })
            .collect();
        Value::String(s)
    };
    for key in ["title", "rich_text"] {
        if let Some(items) = v.get(key) {
            return texts(items);
        }
    }
    if let Some(s) = v.get("select") {
        return s.get("name").cloned().unwrap_or(Value::Null);
    }
    if let Some(list) = v.get("multi_select").and_then(Value::as_array) {
        return list.iter().filter_map(|o| o.get("name").cloned()).collect();
    }
    if let Some(d) = v.get("date") {
        return d.get("start").cloned().unwrap_or(Value::Null);
    }
    for key in ["number", "url", "checkbox", "email", "phone_number"] {
        if let Some(x) = v.get(key) {
            return x.clone();
        }
    }
    Value::Null
}

/// Decides per page which of our properties to write, and remembers what was written.
pub struct Guard<'a> {
    store: &'a Store,
    policy: &'a ConflictPolicy,
    run_id: &'a str,
    database: &'a str,
    /// Flagged conflicts found so far.
    pub flagged: Vec<Conflict>,
}

/// What [`Guard::resolve`] decided for one page, for [`Guard::remember`].
pub struct Decision {
    held: BTreeSet<String>,
}

impl Decision {
    /// A page we just created: nothing is held.
    pub fn none() -> Self {
        Self {
            held: BTreeSet::new(),
        }
    }
}

impl<'a> Guard<'a> {
    pub fn new(
        store: &'a Store,
        policy: &'a ConflictPolicy,
        run_id: &'a str,
        database: &'a str,
    ) -> Self {
        Self {
            store,
            policy,
            run_id,
            database,
            flagged: Vec::new(),
        }
    }

    /// Drops from `ours` the properties a person's edit keeps on existing page `page` (the
    /// page object as the query returned it).
    pub async fn resolve(
        &mut self,
        key: &str,
        page: &Value,
        ours: &mut Map<String, Value>,
    ) -> Result<Decision, crate::store::StoreError> {
        let id = page.get("id").and_then(Value::as_str).unwrap_or_default();
        let Some(last) = self.store.notion_write(id).await? else {
            // Never written by us (or before conflict tracking): ours from now on.
            return Ok(Decision {
                held: BTreeSet::new(),
            });
        };
        let baseline: BTreeMap<String, Value> =
            serde_json::from_str(&last.properties).unwrap_or_default();
        let mut held: BTreeSet<String> = serde_json::from_str(&last.held).unwrap_or_default();
        let (time, by) = editor(page);
        let edited = time != last.edited_time || by != last.edited_by;
        let current = page.get("properties").cloned().unwrap_or_default();
        for (name, value) in ours.clone() {
            let now = current.get(&name).map(plain);
            let mine = plain(&value);
            let base = baseline.get(&name);
            let changed = edited && now.is_some() && base.is_some() && now.as_ref() != base;
            if now.as_ref() == Some(&mine) {
                // Already holds our value: nothing to keep, nothing to report.
                held.remove(&name);
                continue;
            }
            if !changed {
                if held.contains(&name) {
                    ours.remove(&name);
                }
                continue;
            }
            match self.policy.for_property(&name) {
                crate::config::Policy::Ours => {
                    held.remove(&name);
                }
                policy => {
                    ours.remove(&name);
                    held.insert(name.clone());
                    if policy == crate::config::Policy::Flag {
                        self.flagged.push(Conflict {
                            database: self.database.to_owned(),
                            page: key.to_owned(),
                            page_id: id.to_owned(),
                            property: name,
                            theirs: now.unwrap_or(Value::Null),
                            ours: mine,
                            edited_by: by.clone(),
                            edited_at: time.clone(),
                        });
                    }
                }
            }
        }
        Ok(Decision { held })
    }

    /// Records the page as Notion answered our write: the baseline of the next check.
    pub async fn remember(
        &self,
        answer: &Value,
        names: impl Iterator<Item = &String>,
        decision: Decision,
    ) -> Result<(), crate::store::StoreError> {
        let Some(id) = answer.get("id").and_then(Value::as_str) else {
            return Ok(());
        };
        let (time, by) = editor(answer);
        if time.is_empty() {
            return Ok(()); // an answer without edit facts gives no baseline
        }
        let props = answer.get("properties").cloned().unwrap_or_default();
        let values: BTreeMap<&String, Value> = names
            .map(|n| (n, props.get(n.as_str()).map(plain).unwrap_or(Value::Null)))
            .collect();
        self.store
            .put_notion_write(&NotionWriteRow {
                page_id: id.to_owned(),
                run_id: self.run_id.to_owned(),
                edited_time: time,
                edited_by: by,
                properties: serde_json::to_string(&values).expect("values serialize"),
                held: serde_json::to_string(&decision.held).expect("names serialize"),
                updated_at: now_ms(),
            })
            .await
    }

    /// Adds the flagged conflicts to the run's record (merged with an earlier attempt's).
    pub async fn save(&self) -> Result<(), crate::store::StoreError> {
        if self.flagged.is_empty() {
            return Ok(());
        }
        let meta = self.store.run_meta(self.run_id).await?.unwrap_or_default();
        let mut all: Vec<Conflict> = meta
            .conflicts
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        for c in &self.flagged {
            if !all
                .iter()
                .any(|x| x.page_id == c.page_id && x.property == c.property)
            {
                all.push(c.clone());
            }
        }
        tracing::warn!(
            run_id = self.run_id,
            conflicts = all.len(),
            "kept people's Notion edits and flagged them"
        );
        let json = serde_json::to_string(&all).expect("conflicts serialize");
        self.store.set_run_conflicts(self.run_id, &json).await
    }
}

/// `(last_edited_time, last_edited_by.id)` of a page object (empty when absent).
fn editor(page: &Value) -> (String, String) {
    let text = |p: &str| {
        page.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("/last_edited_time"), text("/last_edited_by/id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_values_match_between_what_we_send_and_what_notion_returns() {
        let sent = json!({"rich_text": [{"type": "text", "text": {"content": "ab"}}]});
        let got = json!({"id": "x", "type": "rich_text", "rich_text": [
            {"type": "text", "text": {"content": "a"}, "plain_text": "a"},
            {"type": "text", "text": {"content": "b"}, "plain_text": "b"}]});
        assert_eq!(plain(&sent), plain(&got));
        assert_eq!(plain(&json!({"select": {"name": "Rust"}})), json!("Rust"));
        assert_eq!(plain(&json!({"type": "number", "number": 3})), json!(3));
        assert_eq!(
            plain(&json!({"date": {"start": "2026-01-01"}})),
            json!("2026-01-01")
        );
        assert_eq!(plain(&json!({"select": null})), Value::Null);
    }
}
