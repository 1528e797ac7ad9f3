use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

#[test]
fn rate_limits_are_recognised_with_their_reset_time() {
    let now = 1_000_000;
    let s403 = StatusCode::FORBIDDEN;
    let reset = headers(&[
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "2000"),
    ]);
    let e = status_error("GitHub o/r commits", s403, &reset, "{}", now);
    assert_eq!(e.retry_at(), Some(2_000_000));
    assert!(
        e.to_string()
            .starts_with("GitHub o/r commits: GitHub rate limit"),
        "{e}"
    );
    assert!(matches!(
        e.job_error(),
        JobError::RateLimited {
            retry_at: 2_000_000,
            ..
        }
    ));
    let after = headers(&[("retry-after", "30")]);
    assert_eq!(
        status_error("x", s403, &after, "", now).retry_at(),
        Some(now + 30_000)
    );
    let bare429 = status_error(
        "x",
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        "",
        now,
    );
    assert_eq!(bare429.retry_at(), Some(now + 60_000));
}

#[test]
fn other_statuses_are_classified() {
    let h = HeaderMap::new();
    let bad_creds = status_error(
        "GitHub o/r issues",
        StatusCode::FORBIDDEN,
        &h,
        r#"{"message":"Bad credentials"}"#,
        0,
    );
    assert_eq!(
        bad_creds.to_string(),
        "GitHub o/r issues: HTTP 403: Bad credentials"
    );
    assert!(matches!(bad_creds.job_error(), JobError::Permanent(_)));
    for (code, permanent) in [
        (401, true),
        (404, true),
        (422, true),
        (408, false),
        (500, false),
        (502, false),
    ] {
        let e = status_error("x", StatusCode::from_u16(code).unwrap(), &h, "", 0);
        assert_eq!(
            matches!(e.job_error(), JobError::Permanent(_)),
            permanent,
            "{code}"
        );
    }
}

#[test]
fn next_link_is_taken_from_the_link_header() {
    let h = r#"<https://api.github.com/repositories/1/commits?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/commits?per_page=100&page=5>; rel="last""#;
    assert_eq!(
        next_link(h).as_deref(),
        Some("https://api.github.com/repositories/1/commits?per_page=100&page=2")
    );
    assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
}
