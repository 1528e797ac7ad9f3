//! How a list of values reaches a statement: numbered placeholders for multi-row inserts and
//! SQLite's `IN (…)` lists, or one PostgreSQL array literal joined by key. Text only; running
//! the statements is the callers' job. A value must never be spliced into SQL text here:
//! every value is bound.

/// Appends `rows` groups of `cols` numbered placeholders starting at `$first`:
/// `($1, $2), ($3, $4)` for `(2, 2, 1)`.
pub(super) fn push_placeholders(sql: &mut String, rows: usize, cols: usize, first: usize) {
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            sql.push_str(&format!(
                "{}${}",
                if c == 0 { "" } else { ", " },
                first + r * cols + c
            ));
        }
        sql.push(')');
    }
}

/// `items` as a PostgreSQL array literal, bound as one parameter and read with
/// `CAST($n AS TEXT[])`: the `Any` driver binds no arrays. Every element is quoted, so a
/// comma, brace, quote or the word NULL inside one stays text.
pub(super) fn pg_text_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        let mut sql = String::new();
        push_placeholders(&mut sql, 2, 2, 3);
        assert_eq!(sql, "($3, $4), ($5, $6)");
    }

    #[test]
    fn an_array_literal_quotes_every_element() {
        assert_eq!(pg_text_array([] as [&str; 0]), "{}");
        assert_eq!(
            pg_text_array(["a,b", "NULL", "{x}", r#"q"\"#]),
            r#"{"a,b","NULL","{x}","q\"\\"}"#
        );
    }
}
