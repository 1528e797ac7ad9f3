//! A Notion API fake (data-sources model, `Notion-Version: 2025-09-03`): databases, one data
//! source each with a property schema (readable with `GET /v1/data_sources/{id}`, editable
//! by tests the way a user edits columns), pages and their top-level children. It refuses what
//! Notion refuses — missing `Authorization` / `Notion-Version` / `User-Agent`, unknown
//! properties, more than 100 children per append, nesting deeper than two levels, more
//! than 1,000 block elements, rich text over 2,000 UTF-16 units or 100 items, URLs over
//! 2,000, bodies over 500 KB — and answers 429 / 5xx on demand. With `enforce_rate`, it
//! also holds callers to Notion's documented average of 3 requests a second (a token bucket
//! of 3 refilled at 3/s), answering 429 `rate_limited` beyond it, as Notion does.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{Fault, Faults, Shared};

pub const API_KEY: &str = "secret_fake_notion_key";
pub const DATABASE_ID: &str = "db-sync-runs";
pub const DATA_SOURCE_ID: &str = "ds-sync-runs";

/// The sync-runs schema the fake's database has (name → property type).
pub fn run_schema() -> BTreeMap<String, String> {
    [
        ("Name", "title"),
        ("Sync ID", "rich_text"),
        ("Status", "select"),
        ("Trigger", "select"),
        ("Started", "date"),
        ("Commits", "number"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The user id the fake gives our integration (`last_edited_by` of its writes).
pub const BOT_USER: &str = "user-helix-bot";

#[derive(Debug, Clone)]
pub struct FakePage {
    pub id: String,
    pub data_source: String,
    pub properties: Value,
    pub children: Vec<Value>,
    /// Notion's `last_edited_time` (from the fake's clock) and `last_edited_by` user id.
    pub last_edited_time: String,
    pub last_edited_by: String,
}

impl FakePage {
    /// The page object as Notion answers it.
    fn object(&self) -> Value {
        json!({"object": "page", "id": self.id, "url": format!("https://www.notion.so/{}", self.id),
               "last_edited_time": self.last_edited_time,
               "last_edited_by": {"object": "user", "id": self.last_edited_by},
               "properties": self.properties})
    }
}

#[derive(Debug, Default)]
pub struct NotionState {
    /// database id → data source id.
    pub databases: BTreeMap<String, String>,
    /// data source id → property schema.
    pub schemas: BTreeMap<String, BTreeMap<String, String>>,
    pub pages: Vec<FakePage>,
    pub rejections: Vec<String>,
    /// `METHOD path` of every request, in order.
    pub requests: Vec<String>,
    faults: Faults,
    /// `(rate, burst)`: enforce a request rate (see the module docs).
    pub enforce_rate: Option<(f64, f64)>,
    /// The bucket: tokens and when they were counted.
    bucket: Option<(f64, std::time::Instant)>,
    /// Requests refused for going over the rate.
    pub over_rate: usize,
    /// Edits so far: each write moves `last_edited_time` on by a minute.
    edits: u32,
}

impl NotionState {
    /// The next `last_edited_time` (a minute later than the last, as Notion rounds to the minute).
    fn tick(&mut self) -> String {
        self.edits += 1;
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap()
            + chrono::Duration::minutes(i64::from(self.edits));
        t.to_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Takes a token from the enforced bucket; false when the caller is over the rate.
    fn within_rate(&mut self) -> bool {
        let Some((rate, burst)) = self.enforce_rate else {
            return true;
        };
        let now = std::time::Instant::now();
        let (tokens, at) = self.bucket.unwrap_or((burst, now));
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * rate).min(burst);
        if tokens < 1.0 {
            self.bucket = Some((tokens, now));
            return false;
        }
        self.bucket = Some((tokens - 1.0, now));
        true
    }
}

#[derive(Clone)]
pub struct NotionFake(pub Shared<NotionState>);

type Answer = Result<Value, (u16, &'static str, String)>;

fn invalid(msg: impl Into<String>) -> (u16, &'static str, String) {
    (400, "validation_error", msg.into())
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

impl NotionFake {
    pub async fn mount(server: &MockServer) -> Self {
        let mut state = NotionState::default();
        state
            .databases
            .insert(DATABASE_ID.into(), DATA_SOURCE_ID.into());
        state.schemas.insert(DATA_SOURCE_ID.into(), run_schema());
        let fake = Self(Shared::new(state));
        Mock::given(any())
            .respond_with(fake.clone())
            .mount(server)
            .await;
        fake
    }

    pub fn fail(&self, f: Fault) {
        self.0.lock().faults.push(f);
    }

    pub fn pages(&self) -> Vec<FakePage> {
        self.0.lock().pages.clone()
    }

    /// A person (`user`) edits a property of page `id` in Notion's UI.
    pub fn edit_page(&self, id: &str, property: &str, value: Value, user: &str) {
        let mut s = self.0.lock();
        let at = s.tick();
        let page = s
            .pages
            .iter_mut()
            .find(|p| p.id == id)
            .expect("the page exists");
        page.properties[property] = value;
        page.last_edited_time = at;
        page.last_edited_by = user.into();
    }

    pub fn rejections(&self) -> Vec<String> {
        self.0.lock().rejections.clone()
    }

    pub fn requests(&self) -> Vec<String> {
        self.0.lock().requests.clone()
    }

    /// Replaces the sync-runs data source's schema (a user editing the database's columns).
    pub fn set_run_schema(&self, schema: BTreeMap<String, String>) {
        self.0.lock().schemas.insert(DATA_SOURCE_ID.into(), schema);
    }

    /// Adds another database with one data source of `schema`.
    pub fn add_database(&self, id: &str, data_source: &str, schema: BTreeMap<String, String>) {
        let mut s = self.0.lock();
        s.databases.insert(id.into(), data_source.into());
        s.schemas.insert(data_source.into(), schema);
    }

    /// Forgets a database, as if the integration lost access to it.
    pub fn remove_database(&self, id: &str) {
        self.0.lock().databases.remove(id);
    }

    fn route(&self, s: &mut NotionState, method: &str, path: &str, req: &Request) -> Answer {
        let seg: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        let body = || -> Result<Value, (u16, &'static str, String)> {
            if req.body.len() > 500 * 1024 {
                return Err((413, "payload_too_large", "body over 500KB".into()));
            }
            serde_json::from_slice(&req.body).map_err(|e| (400, "invalid_json", e.to_string()))
        };
        match (method, seg.as_slice()) {
            ("GET", ["databases", id]) => match s.databases.get(*id) {
                Some(ds) => Ok(
                    json!({"object": "database", "id": id, "data_sources": [{"id": ds, "name": "Runs"}]}),
                ),
                None => Err((
                    404,
                    "object_not_found",
                    format!("Could not find database with ID: {id}."),
                )),
            },
            ("GET", ["data_sources", id]) => {
                let schema = s.schemas.get(*id).ok_or((
                    404,
                    "object_not_found",
                    format!("Could not find data source with ID: {id}."),
                ))?;
                let properties: serde_json::Map<String, Value> = schema
                    .iter()
                    .enumerate()
                    .map(|(i, (name, ty))| {
                        let id = if ty == "title" {
                            "title".into()
                        } else {
                            format!("p{i}")
                        };
                        (
                            name.clone(),
                            json!({"id": id, "name": name, "type": ty, ty.as_str(): {}}),
                        )
                    })
                    .collect();
                Ok(json!({"object": "data_source", "id": id, "properties": properties}))
            }
            ("POST", ["data_sources", id, "query"]) => {
                let schema = s.schemas.get(*id).ok_or((
                    404,
                    "object_not_found",
                    format!("no data source {id}"),
                ))?;
                let b = body()?;
                let f = &b["filter"];
                let prop = f["property"].as_str().unwrap_or("");
                let ty = schema.get(prop).ok_or_else(|| {
                    invalid(format!("Could not find property with name or id: {prop}"))
                })?;
                let wanted = f[ty.as_str()]["equals"]
                    .as_str()
                    .ok_or_else(|| invalid("filter must use the property's type"))?;
                let results: Vec<Value> = s
                    .pages
                    .iter()
                    .filter(|p| p.data_source == *id)
                    .filter(|p| {
                        let text: String = p.properties[prop][ty.as_str()]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| t["text"]["content"].as_str())
                            .collect();
                        text == wanted
                    })
                    .map(FakePage::object)
                    .collect();
                Ok(
                    json!({"object": "list", "results": results, "has_more": false, "next_cursor": null}),
                )
            }
            ("POST", ["pages"]) => {
                let b = body()?;
                if b["parent"]["type"] != "data_source_id" {
                    return Err(invalid("parent.type should be data_source_id"));
                }
                let ds = b["parent"]["data_source_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let schema = s.schemas.get(&ds).ok_or((
                    404,
                    "object_not_found",
                    format!("no data source {ds}"),
                ))?;
                check_properties(schema, &b["properties"])?;
                let children = b["children"].as_array().cloned().unwrap_or_default();
                check_children(&children)?;
                let id = format!("page-{}", s.pages.len() + 1);
                let at = s.tick();
                let page = FakePage {
                    id: id.clone(),
                    data_source: ds,
                    properties: b["properties"].clone(),
                    children,
                    last_edited_time: at,
                    last_edited_by: BOT_USER.into(),
                };
                let answer = page.object();
                s.pages.push(page);
                Ok(answer)
            }
            ("PATCH", ["pages", id]) => {
                let b = body()?;
                let page = s.pages.iter().position(|p| p.id == *id).ok_or((
                    404,
                    "object_not_found",
                    format!("no page {id}"),
                ))?;
                let schema = s.schemas[&s.pages[page].data_source].clone();
                check_properties(&schema, &b["properties"])?;
                let at = s.tick();
                let p = &mut s.pages[page];
                let props = p.properties.as_object_mut().unwrap();
                for (k, v) in b["properties"].as_object().into_iter().flatten() {
                    props.insert(k.clone(), v.clone());
                }
                p.last_edited_time = at;
                p.last_edited_by = BOT_USER.into();
                Ok(p.object())
            }
            ("PATCH", ["blocks", id, "children"]) => {
                let b = body()?;
                let children = b["children"]
                    .as_array()
                    .cloned()
                    .ok_or_else(|| invalid("children should be an array"))?;
                check_children(&children)?;
                let page = s.pages.iter_mut().find(|p| p.id == *id).ok_or((
                    404,
                    "object_not_found",
                    format!("no block {id}"),
                ))?;
                page.children.extend(children.iter().cloned());
                Ok(json!({"object": "list", "results": children}))
            }
            ("GET", ["blocks", id, "children"]) => {
                let page = s.pages.iter().find(|p| p.id == *id).ok_or((
                    404,
                    "object_not_found",
                    format!("no block {id}"),
                ))?;
                let q: BTreeMap<String, String> = req
                    .url
                    .query_pairs()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect();
                let size: usize = q
                    .get("page_size")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100);
                if size > 100 {
                    return Err(invalid("page_size should be ≤ 100"));
                }
                let start: usize = q
                    .get("start_cursor")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let end = (start + size).min(page.children.len());
                let more = end < page.children.len();
                Ok(
                    json!({"object": "list", "results": page.children[start.min(end)..end],
                          "has_more": more, "next_cursor": more.then(|| end.to_string())}),
                )
            }
            _ => Err((400, "invalid_request_url", format!("{method} {path}"))),
        }
    }
}

fn check_rich_text(v: &Value) -> Result<(), (u16, &'static str, String)> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid("rich text should be an array"))?;
    if items.len() > 100 {
        return Err(invalid(format!(
            "rich text array has {} > 100 items",
            items.len()
        )));
    }
    for t in items {
        let content = t["text"]["content"].as_str().unwrap_or("");
        if utf16(content) > 2000 {
            return Err(invalid(format!(
                "text.content length {} > 2000",
                utf16(content)
            )));
        }
        if let Some(url) = t["text"]["link"]["url"].as_str() {
            if utf16(url) > 2000 {
                return Err(invalid("link url longer than 2000"));
            }
        }
    }
    Ok(())
}

fn check_properties(
    schema: &BTreeMap<String, String>,
    props: &Value,
) -> Result<(), (u16, &'static str, String)> {
    for (name, value) in props.as_object().into_iter().flatten() {
        let ty = schema
            .get(name)
            .ok_or_else(|| invalid(format!("{name} is not a property that exists.")))?;
        let v = value
            .get(ty)
            .ok_or_else(|| invalid(format!("{name} is expected to be {ty}.")))?;
        if ty == "title" || ty == "rich_text" {
            check_rich_text(v)?;
        }
    }
    Ok(())
}

fn check_children(children: &[Value]) -> Result<(), (u16, &'static str, String)> {
    if children.len() > 100 {
        return Err(invalid(format!(
            "body.children.length should be ≤ 100, instead was {}",
            children.len()
        )));
    }
    fn walk(
        b: &Value,
        depth: usize,
        elements: &mut usize,
    ) -> Result<(), (u16, &'static str, String)> {
        *elements += 1;
        let ty = b["type"]
            .as_str()
            .ok_or_else(|| invalid("block without a type"))?;
        let inner = b
            .get(ty)
            .ok_or_else(|| invalid(format!("block of type {ty} without its {ty} object")))?;
        for key in ["rich_text", "caption"] {
            if let Some(rt) = inner.get(key) {
                check_rich_text(rt)?;
            }
        }
        if let Some(kids) = inner.get("children").and_then(Value::as_array) {
            if !kids.is_empty() && depth >= 2 {
                return Err(invalid(
                    "blocks can be nested at most 2 levels in one request",
                ));
            }
            if kids.len() > 100 {
                return Err(invalid("children should be ≤ 100"));
            }
            for k in kids {
                walk(k, depth + 1, elements)?;
            }
        }
        Ok(())
    }
    let mut elements = 0;
    for b in children {
        walk(b, 0, &mut elements)?;
    }
    if elements > 1000 {
        return Err(invalid(format!("{elements} block elements > 1000")));
    }
    Ok(())
}

impl Respond for NotionFake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        s.requests.push(format!("{method} {path}"));
        let error = |status: u16, code: &str, message: String| {
            ResponseTemplate::new(status).set_body_json(
                json!({"object": "error", "status": status, "code": code, "message": message, "request_id": "fake-request"}),
            )
        };
        if !s.within_rate() {
            s.over_rate += 1;
            return error(429, "rate_limited", "You have been rate limited.".into())
                .insert_header("retry-after", "1");
        }
        if let Some(f) = s.faults.take(&method, &path) {
            let code = match f.status {
                429 => "rate_limited",
                529 => "service_overload",
                409 => "conflict_error",
                _ => "internal_server_error",
            };
            let mut t = error(f.status, code, "injected failure".into());
            if let Some(secs) = f.retry_after {
                t = t.insert_header("retry-after", secs.to_string());
            }
            return t;
        }
        let header = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let check = if header("authorization").as_deref() != Some(&format!("Bearer {API_KEY}")) {
            Err((401, "unauthorized", "API token is invalid.".to_owned()))
        } else if header("notion-version").as_deref() != Some("2025-09-03") {
            Err((
                400,
                "missing_version",
                "Notion-Version header failed validation.".to_owned(),
            ))
        } else if header("user-agent").is_none() {
            Err(invalid("User-Agent header is required"))
        } else if !req.body.is_empty()
            && !header("content-type")
                .unwrap_or_default()
                .starts_with("application/json")
        {
            Err(invalid("Content-Type must be application/json"))
        } else {
            Ok(())
        };
        let answer = check.and_then(|()| self.route(&mut s, &method, &path, req));
        match answer {
            Ok(v) => ResponseTemplate::new(200).set_body_json(v),
            Err((status, code, message)) => {
                s.rejections
                    .push(format!("{method} {path}: {status} {code}: {message}"));
                error(status, code, message)
            }
        }
    }
}
