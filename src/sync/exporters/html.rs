//! The `html` export: one standalone page (embedded CSS and JS, inline SVG, no external fetch).
//!
//! Rendering goes through minijinja with HTML auto-escaping (the template is named `.html`),
//! so every string from the snapshot is escaped by the engine, never by hand. Geometry for the
//! UCF gauges and trend charts comes from `report::charts` as plain numbers and path strings
//! made only of digits, so nothing from the data reaches an attribute unescaped. Nothing here
//! does I/O.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{context, Environment, Value};

use super::report::{self, analytics, charts};
use super::{Artifact, ExportError, ExportInput, Scope};

const TEMPLATE: &str = include_str!("../../../templates/report.html");
const CSS: &str = include_str!("../../../templates/report.css");
const JS: &str = include_str!("../../../templates/report.js");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    // Escaping stops markup, not `javascript:` links: only web URLs become hrefs.
    env.add_filter("safe_url", |u: String| report::safe_url(&u).to_owned());
    env.add_template("report.html", TEMPLATE)
        .expect("the embedded template parses");
    env
});

pub fn export(
    input: &ExportInput<'_>,
    scope: Scope,
    trend_runs: usize,
) -> Result<Artifact, ExportError> {
    let r = report::build(input, scope);
    let charts = charts::of(input, &r, scope, trend_runs, None);
    let html = ENV
        .get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                r => Value::from(Serde(&r)),
                gauges => Value::from(Serde(&charts.gauges)),
                trends => Value::from(Serde(&charts.trends)),
                trend_runs => charts.trend_runs,
                analytics => Value::from(Serde(analytics::view(&crate::sync::analytics::compute(input, scope)))),
                css => Value::from_safe_string(CSS.to_owned()),
                js => Value::from_safe_string(JS.to_owned()),
            })
        })
        .map_err(|e| ExportError::Invalid(format!("html template: {e:#}")))?;
    Ok(Artifact {
        format: "html",
        extension: "html",
        content_type: "text/html; charset=utf-8",
        bytes: html.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::fixture;

    #[test]
    fn gauges_and_trends_cover_every_metric() {
        let fixture = fixture::Fixture::new(1, 10);
        let input = fixture.input();
        let html = String::from_utf8(export(&input, Scope::Full, 30).unwrap().bytes).unwrap();
        assert_eq!(
            html.matches("class=\"gauge ").count(),
            6,
            "one gauge per metric"
        );
        assert_eq!(html.matches("<polyline").count(), 6, "one trend per metric");
        assert!(!html.contains("src=\"http") && !html.contains("href=\"//"));
        assert!(html.contains("prefers-color-scheme: dark"));
    }

    #[test]
    fn trend_is_limited_to_the_configured_runs() {
        let fixture = fixture::Fixture::new(1, 10);
        let input = fixture.input();
        let html = String::from_utf8(export(&input, Scope::Ucf, 3).unwrap().bytes).unwrap();
        assert_eq!(html.matches("class=\"dot\"").count(), 6 * 3);
    }
}
