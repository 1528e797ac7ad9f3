//! The length limits of the APIs we publish to, and the one way we cut text to fit them.
//!
//! A publisher must never earn a 400 for length: every string that could be long is cut
//! here, before sending, with an ellipsis and on a character boundary. Discord counts
//! characters (code points); Notion counts UTF-16 code units (its API is JavaScript), so
//! an emoji costs two there. Nothing here does I/O.

use serde_json::Value;

/// The mark a cut string ends with.
pub const ELLIPSIS: char = '…';

/// Discord webhook message limits (<https://discord.com/developers/docs/resources/message>).
pub mod discord {
    pub const CONTENT: usize = 2000;
    pub const TITLE: usize = 256;
    pub const DESCRIPTION: usize = 4096;
    pub const FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1024;
    pub const FOOTER: usize = 2048;
    /// Sum of title, description, field names and values, footer and author name.
    pub const EMBED_TOTAL: usize = 6000;
}

/// Notion request limits (<https://developers.notion.com/reference/request-limits>).
pub mod notion {
    /// `text.content` of one rich text object, and a URL.
    pub const RICH_TEXT: usize = 2000;
    pub const URL: usize = 2000;
    /// Items of one rich text array.
    pub const RICH_TEXT_ITEMS: usize = 100;
    /// Top-level children of one append request.
    pub const CHILDREN: usize = 100;
    /// Block elements (counting nested ones) of one request.
    pub const ELEMENTS: usize = 1000;
    /// Payload bytes of one request (we keep a margin under 500 KB for the envelope).
    pub const PAYLOAD_BYTES: usize = 480_000;
    /// Levels of nesting below a top-level block in one request.
    pub const NESTING: usize = 2;
}

/// Length in Discord's unit (characters).
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Length in Notion's unit (UTF-16 code units).
pub fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Cuts `s` to at most `max` units as measured by `len`, ending with [`ELLIPSIS`] when cut.
pub fn truncate_by(s: &str, max: usize, len: fn(&str) -> usize) -> String {
    if len(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let budget = max - len(ELLIPSIS.encode_utf8(&mut [0; 4]));
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = len(c.encode_utf8(&mut [0; 4]));
        if used + w > budget {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    format!("{}{ELLIPSIS}", s[..end].trim_end())
}

/// Cuts to `max` characters (Discord).
pub fn truncate(s: &str, max: usize) -> String {
    truncate_by(s, max, chars)
}

/// Makes a Notion value (properties or blocks) fit the rich-text limits, in place: every
/// `text.content` to 2,000 units, every rich-text array to 100 items, and links longer than
/// 2,000 dropped (a cut URL would point somewhere else). Returns how many things it changed.
pub fn fit_notion_text(v: &mut Value) -> usize {
    let mut changed = 0;
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| changed += fit_notion_text(i)),
        Value::Object(map) => {
            for key in ["rich_text", "title", "caption"] {
                if let Some(Value::Array(a)) = map.get_mut(key) {
                    if a.len() > notion::RICH_TEXT_ITEMS {
                        a.truncate(notion::RICH_TEXT_ITEMS);
                        changed += 1;
                    }
                }
            }
            if let Some(Value::Object(text)) = map.get_mut("text") {
                if let Some(Value::String(c)) = text.get_mut("content") {
                    if utf16(c) > notion::RICH_TEXT {
                        *c = truncate_by(c, notion::RICH_TEXT, utf16);
                        changed += 1;
                    }
                }
                let long_link = text
                    .get("link")
                    .and_then(|l| l.get("url"))
                    .and_then(Value::as_str)
                    .is_some_and(|u| utf16(u) > notion::URL);
                if long_link {
                    text.insert("link".into(), Value::Null);
                    changed += 1;
                }
            }
            map.values_mut().for_each(|x| changed += fit_notion_text(x));
        }
        _ => {}
    }
    changed
}

/// The children array of a block (`block[block.type].children`), if any.
pub fn block_children(block: &Value) -> Option<&Vec<Value>> {
    let ty = block.get("type")?.as_str()?;
    block.get(ty)?.get("children")?.as_array()
}

fn block_children_mut(block: &mut Value) -> Option<&mut Vec<Value>> {
    let ty = block.get("type")?.as_str()?.to_owned();
    block.get_mut(&ty)?.get_mut("children")?.as_array_mut()
}

/// Drops children nested deeper than Notion accepts in one request; returns how many
/// blocks were dropped (the exporter should never produce any).
pub fn prune_nesting(blocks: &mut [Value]) -> usize {
    fn walk(block: &mut Value, depth: usize) -> usize {
        let Some(children) = block_children_mut(block) else {
            return 0;
        };
        if depth >= notion::NESTING {
            let n = children.iter().map(count_elements).sum();
            children.clear();
            return n;
        }
        children.iter_mut().map(|c| walk(c, depth + 1)).sum()
    }
    blocks.iter_mut().map(|b| walk(b, 0)).sum()
}

/// A block and all its nested children.
pub fn count_elements(block: &Value) -> usize {
    1 + block_children(block)
        .map(|c| c.iter().map(count_elements).sum())
        .unwrap_or(0)
}

/// Splits `blocks[start..]` into append requests that each respect the children, element
/// and payload limits. A single block over a limit on its own gets a request of its own
/// (Notion will say what is wrong with it).
pub fn notion_chunks(blocks: &[Value], start: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut begin = start;
    let (mut elements, mut bytes) = (0, 0);
    for (i, block) in blocks.iter().enumerate().skip(start) {
        let e = count_elements(block);
        let b = serde_json::to_vec(block).map(|v| v.len() + 1).unwrap_or(0);
        let full = i - begin >= notion::CHILDREN
            || elements + e > notion::ELEMENTS
            || bytes + b > notion::PAYLOAD_BYTES;
        if full && i > begin {
            out.push(begin..i);
            begin = i;
            elements = 0;
            bytes = 0;
        }
        elements += e;
        bytes += b;
    }
    if begin < blocks.len() {
        out.push(begin..blocks.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truncation_is_within_the_limit_and_marked() {
        assert_eq!(truncate("short", 10), "short");
        let t = truncate(&"a".repeat(50), 10);
        assert_eq!(chars(&t), 10);
        assert!(t.ends_with(ELLIPSIS));
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        for s in ["é".repeat(30), "🚀".repeat(30), "a🚀é".repeat(30)] {
            for max in 1..40 {
                let c = truncate(&s, max);
                assert!(chars(&c) <= max, "{max}");
                let u = truncate_by(&s, max, utf16);
                assert!(utf16(&u) <= max, "{max} {u}");
            }
        }
    }

    #[test]
    fn notion_text_is_cut_and_arrays_capped() {
        let long = "🚀".repeat(1500);
        let mut v = json!({"paragraph": {"rich_text": [
            {"type": "text", "text": {"content": long, "link": {"url": format!("https://x/{}", "a".repeat(2100))}}}
        ]}, "title": (0..150).map(|i| json!({"type": "text", "text": {"content": i.to_string()}})).collect::<Vec<_>>()});
        assert_eq!(fit_notion_text(&mut v), 3);
        let c = v["paragraph"]["rich_text"][0]["text"]["content"]
            .as_str()
            .unwrap();
        assert!(utf16(c) <= notion::RICH_TEXT);
        assert!(v["paragraph"]["rich_text"][0]["text"]["link"].is_null());
        assert_eq!(v["title"].as_array().unwrap().len(), 100);
    }

    fn para(children: Vec<Value>) -> Value {
        json!({"object": "block", "type": "bulleted_list_item",
               "bulleted_list_item": {"rich_text": [], "children": children}})
    }

    #[test]
    fn nesting_beyond_two_levels_is_pruned() {
        let mut blocks = vec![para(vec![para(vec![para(vec![para(vec![])])])])];
        assert_eq!(count_elements(&blocks[0]), 4);
        assert_eq!(prune_nesting(&mut blocks), 1);
        assert_eq!(count_elements(&blocks[0]), 3);
    }

    #[test]
    fn chunks_respect_children_and_element_limits() {
        let flat: Vec<Value> = (0..250).map(|_| para(vec![])).collect();
        assert_eq!(notion_chunks(&flat, 0), vec![0..100, 100..200, 200..250]);
        assert_eq!(notion_chunks(&flat, 120), vec![120..220, 220..250]);
        assert!(notion_chunks(&flat, 250).is_empty());
        // 30 blocks of 40 elements each: 1,000 elements fit 25 blocks.
        let heavy: Vec<Value> = (0..30)
            .map(|_| para((0..39).map(|_| para(vec![])).collect()))
            .collect();
        assert_eq!(notion_chunks(&heavy, 0), vec![0..25, 25..30]);
    }
}
