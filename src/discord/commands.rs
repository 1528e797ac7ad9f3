//! The bot's slash command as Discord registers it (`PUT /applications/{id}/commands`, put by
//! `helix-sync discord register`): `/helix` with its four subcommands. The names, scopes and
//! limits are the ones `ingest::discord` decodes, taken from there, so the two cannot drift.

use serde_json::{json, Value};

use crate::ingest::discord::{COMMAND, HISTORY_DEFAULT, HISTORY_MAX, SCOPES, SUBCOMMANDS};

/// Option types.
const SUB_COMMAND: u64 = 1;
const STRING: u64 = 3;
const INTEGER: u64 = 4;
/// Interaction contexts: a server (the command is not offered in direct messages).
const GUILD: u64 = 0;

/// The command definitions, as the body of the bulk overwrite.
pub fn definitions() -> Value {
    let choices: Vec<Value> = SCOPES
        .iter()
        .map(|(name, _)| json!({"name": name, "value": name}))
        .collect();
    let described = |name: &str| match name {
        "sync" => json!({
            "description": "Queue a sync (operator); this answer is edited with its result",
            "options": [
                {"type": STRING, "name": "scope", "required": false, "choices": choices,
                 "description": "What to collect (default: full)"},
                {"type": STRING, "name": "repo", "required": false,
                 "description": "One configured repository, owner/name"},
            ],
        }),
        "status" => json!({"description": "The health summary (only you see it)"}),
        "history" => json!({
            "description": "The last sync runs (only you see them)",
            "options": [
                {"type": INTEGER, "name": "limit", "required": false, "min_value": 1,
                 "max_value": HISTORY_MAX,
                 "description": format!("How many runs (default {HISTORY_DEFAULT})")},
            ],
        }),
        _ => json!({
            "description": "Publish an earlier run's state again, as a new run (operator)",
            "options": [
                {"type": STRING, "name": "run", "required": true,
                 "description": "The run's id (see /helix history)"},
            ],
        }),
    };
    let subcommands: Vec<Value> = SUBCOMMANDS
        .iter()
        .map(|name| {
            let mut sub = described(name);
            sub["type"] = json!(SUB_COMMAND);
            sub["name"] = json!(name);
            sub
        })
        .collect();
    json!([{
        "name": COMMAND,
        "type": 1,
        "description": "helix-sync: queue a sync, see its status and history, roll back",
        "contexts": [GUILD],
        "options": subcommands,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_is_defined_within_discords_limits() {
        let defs = definitions();
        let helix = &defs[0];
        assert_eq!(helix["name"], COMMAND);
        let names: Vec<&str> = helix["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, SUBCOMMANDS);
        fn walk(v: &Value) {
            let desc = v["description"].as_str().unwrap();
            assert!((1..=100).contains(&desc.chars().count()), "{desc}");
            let name = v["name"].as_str().unwrap();
            assert!(name.len() <= 32 && name == name.to_lowercase(), "{name}");
            for o in v["options"].as_array().into_iter().flatten() {
                walk(o);
            }
        }
        walk(helix);
    }
}
