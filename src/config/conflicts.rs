//! `publishers.notion.conflicts`: what to do when a person edited, in Notion, a property
//! helix-sync writes (see `sync::publishers::notion::conflicts`).
//!
//! ```json
//! "conflicts": { "default": "ours", "properties": { "Description": "theirs", "Stars": "flag" } }
//! ```
//!
//! A policy other than `ours`, `theirs` or `flag` is refused at start-up with its key named
//! (serde's unknown-variant error, located by the file reader). Properties helix-sync does not
//! write are never touched, whatever the policy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What wins when a person edited a property we write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Write our value over the edit.
    #[default]
    Ours,
    /// Keep the person's value; stop writing that property on that page.
    Theirs,
    /// Keep it, and report the conflict (run record, console, Discord).
    Flag,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConflictPolicy {
    /// The policy of each property we write that `properties` does not name.
    pub default: Policy,
    /// Per property name (the same name in every database we write).
    pub properties: BTreeMap<String, Policy>,
}

impl ConflictPolicy {
    pub fn for_property(&self, name: &str) -> Policy {
        self.properties.get(name).copied().unwrap_or(self.default)
    }

    /// Whether any property is flagged (Discord then lets Notion's delivery go first).
    pub fn flags_any(&self) -> bool {
        self.default == Policy::Flag || self.properties.values().any(|p| *p == Policy::Flag)
    }
}
