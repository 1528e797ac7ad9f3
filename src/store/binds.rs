//! How a list of values reaches a statement: numbered placeholders for multi-row inserts, or
//! a whole list as one parameter (a PostgreSQL array literal, a JSON array for SQLite's
//! `json_each`) joined by key. Text only; running the statements is the callers' job. A value
//! must never be spliced into SQL text here: every value is bound.
//!
//! A list is one parameter rather than a placeholder per item on both backends: one
//! statement text whatever its length (so it stays prepared), and on SQLite no binding cost
//! that grows with the square of the list (sqlx looks every parameter's name up, and SQLite
//! walks the statement's list of names for each: `sqlite3_bind_parameter_name` was 6.9% of
//! the queue bench's CPU).

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

/// `items` as one parameter for this backend: a PostgreSQL array literal, or a JSON array.
pub(super) fn text_list<'a>(postgres: bool, items: impl IntoIterator<Item = &'a str>) -> String {
    if postgres {
        return pg_text_array(items);
    }
    let items: Vec<&str> = items.into_iter().collect();
    serde_json::to_string(&items).expect("a list of strings always serializes")
}

/// ` IN` the list bound as parameter `$n` by [`text_list`], to follow a column name. Both
/// backends read the list as a set of rows, which the planner joins by an index probe per
/// item (or, without a usable index, by hashing the items once).
///
/// Not `= ANY(CAST($n AS TEXT[]))` on PostgreSQL: in a generic plan the cast is not folded,
/// and where the planner applies the test as a filter it re-parses the whole literal for
/// every row it reads (a plan made while the table was small, or a sequential scan: 40,000
/// rows against 1,000 keys took 5.0 s, `array_in` 3.7% of the server's CPU in the queue
/// bench; this form took 13 ms on the same plan shape, a hash semi join).
pub(super) fn in_list(postgres: bool, n: usize) -> String {
    format!(" IN ({})", list_rows(postgres, n))
}

/// The list bound as parameter `$n` by [`text_list`] as rows of one column, `value`.
pub(super) fn list_rows(postgres: bool, n: usize) -> String {
    if postgres {
        format!("SELECT unnest(CAST(${n} AS TEXT[])) AS value")
    } else {
        format!("SELECT value FROM json_each(${n})")
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
    fn a_json_list_escapes_like_json() {
        assert_eq!(text_list(false, ["a,b", r#"q"\"#]), r#"["a,b","q\"\\"]"#);
        assert_eq!(text_list(false, []), "[]");
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
