use super::*;
use axum::http::HeaderValue;
use ed25519_dalek::{Signer, SigningKey};

const NOW: i64 = 1_700_000_000;

fn signed(key: &SigningKey, ts: &str, body: &[u8]) -> HeaderMap {
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(body);
    let sig = hex::encode(key.sign(&msg).to_bytes());
    let mut h = HeaderMap::new();
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
    h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
    h
}

#[test]
fn signatures_over_timestamp_and_body_verify_and_nothing_else_does() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let body = br#"{"type":1}"#;
    let ts = NOW.to_string();
    verify(&public, &signed(&key, &ts, body), body, NOW).unwrap();
    // Another body, another timestamp, another key, a mangled or missing signature.
    let h = signed(&key, &ts, body);
    assert!(matches!(
        verify(&public, &h, br#"{"type":2}"#, NOW),
        Err(IngestError::InvalidSignature)
    ));
    let mut h2 = h.clone();
    h2.insert(
        TIMESTAMP_HEADER,
        HeaderValue::from_str(&(NOW + 1).to_string()).unwrap(),
    );
    assert!(matches!(
        verify(&public, &h2, body, NOW),
        Err(IngestError::InvalidSignature)
    ));
    let other = SigningKey::from_bytes(&[8; 32]);
    assert!(matches!(
        verify(&public, &signed(&other, &ts, body), body, NOW),
        Err(IngestError::InvalidSignature)
    ));
    let mut h3 = h.clone();
    h3.insert(SIGNATURE_HEADER, HeaderValue::from_static("zz"));
    assert!(matches!(
        verify(&public, &h3, body, NOW),
        Err(IngestError::InvalidSignature)
    ));
    h3.remove(SIGNATURE_HEADER);
    assert!(matches!(
        verify(&public, &h3, body, NOW),
        Err(IngestError::MissingSignature(_))
    ));
}

#[test]
fn a_timestamp_out_of_the_window_is_refused_even_when_signed() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    for ts in [
        (NOW - TOLERANCE_SECS - 1).to_string(),
        (NOW + TOLERANCE_SECS + 1).to_string(),
        i64::MIN.to_string(),
        "soon".to_owned(),
    ] {
        assert!(
            matches!(
                verify(&public, &signed(&key, &ts, b"{}"), b"{}", NOW),
                Err(IngestError::InvalidTimestamp(_))
            ),
            "{ts}"
        );
    }
}

fn config() -> Config {
    let mut env: std::collections::HashMap<String, String> = [
        (
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        ),
        ("GITHUB_REPOS", "o/a,o/b"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("DISCORD_APPLICATION_ID".into(), "42".into());
    Config::load(&env).unwrap()
}

fn data(sub: &str, options: Value) -> Data {
    serde_json::from_value(json!({
        "name": "helix",
        "options": [{"name": sub, "type": 1, "options": options}]
    }))
    .unwrap()
}

#[test]
fn sync_scopes_and_repos_map_onto_sources() {
    let c = config();
    let route = |options: Value| parse(&c, &data("sync", options)).map(|(_, r)| r.unwrap());
    assert_eq!(route(json!([])).unwrap(), (SyncScope::Full, None));
    assert_eq!(
        route(json!([{"name": "scope", "type": 3, "value": "ucf"}])).unwrap(),
        (SyncScope::Full, Some(vec!["ucf_state".into()]))
    );
    assert_eq!(
        route(json!([{"name": "repo", "type": 3, "value": "o/b"}])).unwrap(),
        (
            SyncScope::Repo { repo: "o/b".into() },
            Some(vec!["github".into()])
        )
    );
    let err = route(json!([{"name": "scope", "type": 3, "value": "everything"}])).unwrap_err();
    assert!(err.contains("full, ucf, agents, repos"), "{err}");
    let err = route(json!([{"name": "repo", "type": 3, "value": "o/zzz"}])).unwrap_err();
    assert!(err.contains("o/a, o/b"), "{err}");
    let err = route(json!([
        {"name": "scope", "type": 3, "value": "ucf"},
        {"name": "repo", "type": 3, "value": "o/a"}
    ]))
    .unwrap_err();
    assert!(err.contains("scope repos"), "{err}");
}

#[test]
fn bad_options_are_sentences_for_the_member() {
    let c = config();
    let err = |sub: &str, options: Value| parse(&c, &data(sub, options)).unwrap_err();
    assert!(err(
        "history",
        json!([{"name": "limit", "type": 4, "value": 99}])
    )
    .contains("1 and 20"));
    assert!(err(
        "history",
        json!([{"name": "limit", "type": 4, "value": "x"}])
    )
    .contains("whole number"));
    assert!(err("rollback", json!([])).contains("id of a run"));
    assert!(err("explode", json!([])).contains("sync, status, history, rollback"));
    assert_eq!(
        parse(&c, &data("history", json!([]))).unwrap().0,
        Command::History {
            limit: HISTORY_DEFAULT
        }
    );
    let other: Data = serde_json::from_value(json!({"name": "other"})).unwrap();
    assert!(parse(&c, &other).unwrap_err().contains("/helix"));
}
