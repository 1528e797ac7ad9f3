//! `openapi.json` matches the router both ways: every documented operation is routed, and
//! every route in the source is documented.

use std::collections::BTreeSet;

use serde_json::Value;

use super::repo;
use crate::helpers::spawn_app;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(helix_sync::http::openapi::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            assert!(METHODS.contains(&m.as_str()), "{path}: unexpected key {m}");
            out.insert((m.clone(), path.clone()));
        }
    }
    out
}

/// `(method, path)` of every `.route("path", method(..)…)` and `.route_service("path", …)`
/// (`*` = any method) under `src/`.
fn routed_in_source() -> BTreeSet<(String, String)> {
    let mut files = vec![std::path::PathBuf::from(repo()).join("src")];
    let mut out = BTreeSet::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text: String = std::fs::read_to_string(&p)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for (marker, any) in [(".route(", false), (".route_service(", true)] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let Some(rest) = rest.trim_start().strip_prefix('"') else {
                    continue;
                };
                let path = &rest[..rest.find('"').unwrap()];
                // The call's text up to its closing parenthesis.
                let mut depth = 1;
                let mut end = 0;
                for (i, c) in rest.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                let call = &rest[..end];
                if any {
                    out.insert(("*".to_owned(), path.to_owned()));
                }
                for m in METHODS {
                    let found = call.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0 || !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    if found {
                        out.insert((m.to_owned(), path.to_owned()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_route_in_the_source_is_documented() {
    let documented = documented();
    let routed = routed_in_source();
    assert!(
        routed.len() >= 10,
        "the source scan found too little: {routed:?}"
    );
    for (method, path) in &routed {
        let ok = if method == "*" {
            documented.iter().any(|(_, p)| p == path)
        } else {
            documented.contains(&(method.clone(), path.clone()))
        };
        assert!(
            ok,
            "{} {path} is routed but not in openapi.json",
            method.to_uppercase()
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    for (method, path) in documented() {
        let url = app.url(&path.replace("{id}", "some-id").replace("{format}", "json"));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        // Headers only: some answers are endless streams.
        let res = app.client.request(m, &url).send().await.unwrap();
        let status = res.status().as_u16();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        if status == 404 {
            let body: Value = res.json().await.unwrap();
            let msg = body["message"].as_str().unwrap_or("");
            assert!(
                !msg.starts_with("no route for"),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["info"]["title"], "helix-sync");
}
