//! Reading SQL text as the JDBC tasks need it: statements split at their
//! `;` (not those inside quotes, comments, `$tag$` bodies or a trigger's
//! BEGIN … END), and `:name` placeholders replaced by quoted literals.

use serde_json::{Map, Value};

/// How a literal is written for a database.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
    /// Databricks SQL (Spark): a backslash escapes in a string.
    Spark,
}

/// Walks `sql`, calling `plain` with each stretch outside quotes and
/// comments (with its byte offset) and `quoted` with each quoted or
/// commented stretch, in order.
fn scan(sql: &str, mut visit: impl FnMut(usize, &str, bool)) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        let end = if rest.starts_with("--") {
            Some(rest.find('\n').map_or(sql.len(), |n| i + n))
        } else if let Some(body) = rest.strip_prefix("/*") {
            Some(body.find("*/").map_or(sql.len(), |n| i + 2 + n + 2))
        } else if let Some(q @ (b'\'' | b'"' | b'`')) = rest.bytes().next() {
            // A quote ends at the next one not doubled; E'…' strings also
            // take a backslash escape.
            let escapes = q == b'\'' && i > 0 && matches!(bytes[i - 1], b'E' | b'e');
            let mut j = i + 1;
            loop {
                match bytes.get(j) {
                    None => break sql.len().into(),
                    Some(b'\\') if escapes => j += 2,
                    Some(&c) if c == q => {
                        if bytes.get(j + 1) == Some(&q) {
                            j += 2;
                        } else {
                            break Some(j + 1);
                        }
                    }
                    Some(_) => j += 1,
                }
            }
        } else if rest.starts_with('$') {
            dollar_tag(rest).map(|tag| {
                rest[tag.len()..]
                    .find(tag)
                    .map_or(sql.len(), |n| i + tag.len() + n + tag.len())
            })
        } else {
            None
        };
        match end {
            Some(end) => {
                if start < i {
                    visit(start, &sql[start..i], false);
                }
                let end = end.min(sql.len());
                visit(i, &sql[i..end], true);
                i = end;
                start = end;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if start < sql.len() {
        visit(start, &sql[start..], false);
    }
}

/// `$$` or `$tag$` opening a dollar-quoted body (not `$1`).
fn dollar_tag(rest: &str) -> Option<&str> {
    let close = rest[1..].find('$')? + 1;
    let tag = &rest[1..close];
    let valid = tag.is_empty()
        || (tag.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && tag.chars().all(|c| c.is_alphanumeric() || c == '_'));
    valid.then(|| &rest[..=close])
}

/// The statements of `sql`, trimmed, empty ones left out.
pub(crate) fn split(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    // Inside CREATE TRIGGER … BEGIN … END, a `;` ends an inner statement.
    let mut depth = 0usize;
    scan(sql, |_, text, quoted| {
        if quoted {
            current.push_str(text);
            return;
        }
        let mut word = String::new();
        for c in text.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                current.push(c);
                continue;
            }
            block_word(&word, &current, &mut depth);
            word.clear();
            if c == ';' && depth == 0 {
                let statement = current.trim();
                if !statement.is_empty() {
                    statements.push(statement.to_owned());
                }
                current.clear();
            } else {
                current.push(c);
            }
        }
        block_word(&word, &current, &mut depth);
    });
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_owned());
    }
    statements
}

/// Counts BEGIN … END (and CASE … END inside one) in a statement that
/// creates a trigger, where the body's `;` do not end the statement.
fn block_word(word: &str, statement: &str, depth: &mut usize) {
    if word.is_empty() {
        return;
    }
    let head = statement.trim_start().to_ascii_uppercase();
    let creates_block = head.starts_with("CREATE")
        && head
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .take(6)
            .any(|w| w == "TRIGGER");
    if !creates_block {
        return;
    }
    match word.to_ascii_uppercase().as_str() {
        "BEGIN" | "CASE" => *depth += 1,
        "END" => *depth = depth.saturating_sub(1),
        _ => {}
    }
}

/// Whether a statement returns rows: a query, or a change with RETURNING.
pub(crate) fn returns_rows(statement: &str) -> bool {
    let mut words = Vec::new();
    scan(statement, |_, text, quoted| {
        if !quoted {
            words.extend(
                text.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .filter(|w| !w.is_empty())
                    .map(str::to_ascii_uppercase),
            );
        }
    });
    matches!(
        words.first().map(String::as_str),
        Some("SELECT" | "WITH" | "VALUES" | "TABLE" | "SHOW" | "EXPLAIN" | "PRAGMA" | "FETCH")
    ) || words.iter().any(|w| w == "RETURNING")
}

/// `sql` with each `:name` (outside quotes and comments, not a `::` cast)
/// whose name is a key of `parameters` replaced by that value as a
/// literal. Other `:words` stay as written.
pub(crate) fn bind(sql: &str, parameters: &Map<String, Value>, dialect: Dialect) -> String {
    if parameters.is_empty() {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    scan(sql, |_, text, quoted| {
        if quoted {
            out.push_str(text);
            return;
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            let c = text[i..].chars().next().unwrap_or(' ');
            let after_colon = i > 0 && bytes[i - 1] == b':';
            let before_colon = bytes.get(i + 1) == Some(&b':');
            if c == ':' && !after_colon && !before_colon {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(value) = parameters.get(&name) {
                    out.push_str(&literal(value, dialect));
                    i += 1 + name.len();
                    continue;
                }
            }
            out.push(c);
            i += c.len_utf8();
        }
    });
    out
}

/// How many `?` placeholders `sql` has outside quotes and comments.
pub(crate) fn placeholders(sql: &str) -> usize {
    let mut count = 0;
    scan(sql, |_, text, quoted| {
        if !quoted {
            count += text.matches('?').count();
        }
    });
    count
}

/// `sql` with its `?` placeholders (outside quotes and comments) replaced,
/// in order, by `values` as literals; a `?` past the values stays.
pub(crate) fn positional(sql: &str, values: &[Value], dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut next = values.iter();
    scan(sql, |_, text, quoted| {
        if quoted {
            out.push_str(text);
            return;
        }
        for c in text.chars() {
            match (c, c == '?') {
                (_, true) => match next.next() {
                    Some(value) => out.push_str(&literal(value, dialect)),
                    None => out.push('?'),
                },
                (c, false) => out.push(c),
            }
        }
    });
    out
}

/// A value as a SQL literal: strings quoted (PostgreSQL's `E'…'` escapes
/// the backslash too, whatever `standard_conforming_strings` says), a list
/// or mapping as its JSON text.
pub(crate) fn literal(value: &Value, dialect: Dialect) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => match dialect {
            Dialect::Postgres | Dialect::Spark => if *b { "TRUE" } else { "FALSE" }.into(),
            Dialect::Sqlite => if *b { "1" } else { "0" }.into(),
        },
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s, dialect),
        other => quote(&other.to_string(), dialect),
    }
}

fn quote(text: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    match dialect {
        Dialect::Postgres => {
            out.push_str("E'");
            for c in text.chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    // A NUL cannot be in a PostgreSQL string.
                    '\0' => {}
                    c => out.push(c),
                }
            }
        }
        Dialect::Spark => {
            out.push('\'');
            for c in text.chars() {
                if c == '\'' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Dialect::Sqlite => {
            out.push('\'');
            for c in text.chars() {
                if c == '\'' {
                    out.push('\'');
                }
                out.push(c);
            }
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn positional_placeholders_become_literals_outside_quotes() {
        let sql = "INSERT INTO t (a, b, c) VALUES (?, ?, '?') -- ?";
        assert_eq!(super::placeholders(sql), 2);
        assert_eq!(
            super::positional(sql, &[serde_json::json!(1), serde_json::json!("it's")], super::Dialect::Postgres),
            "INSERT INTO t (a, b, c) VALUES (1, E'it''s', '?') -- ?"
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn statements_split_at_semicolons_outside_quotes_comments_and_bodies() {
        let sql = "CREATE TABLE t(a text); -- a comment; still\nINSERT INTO t VALUES ('x;y'), (E'it\\'s;');\n\
            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
            /* block; */ SELECT \"odd;name\" FROM t;;\n\
            CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'b'; DELETE FROM t WHERE a = CASE WHEN 1 THEN 'c' END; END;\n\
            SELECT 2";
        let statements = split(sql);
        assert_eq!(statements.len(), 6, "{statements:#?}");
        assert_eq!(statements[0], "CREATE TABLE t(a text)");
        assert!(statements[1].ends_with("(E'it\\'s;')"), "{}", statements[1]);
        assert!(statements[2].contains("$body$ SELECT 1; $body$"));
        assert!(statements[3].ends_with("FROM t"));
        assert!(statements[4].ends_with("END"), "{}", statements[4]);
        assert_eq!(statements[5], "SELECT 2");
    }

    #[test]
    fn named_parameters_become_literals_where_they_stand_only() {
        let params =
            json!({"id": 5, "name": "O'Brien \\ co", "ok": true, "none": null, "tags": ["a"]});
        let params = params.as_object().unwrap();
        let sql =
            "SELECT :id::int, ':name', :name, :ok, :none, :tags, :other, x::text FROM t -- :id";
        assert_eq!(
            bind(sql, params, Dialect::Postgres),
            "SELECT 5::int, ':name', E'O''Brien \\\\ co', TRUE, NULL, E'[\"a\"]', :other, x::text FROM t -- :id"
        );
        assert_eq!(
            bind("SELECT :name, :ok", params, Dialect::Sqlite),
            "SELECT 'O''Brien \\ co', 1"
        );
    }

    #[test]
    fn a_statement_returns_rows_when_it_is_a_query_or_says_returning() {
        assert!(returns_rows("  select 1"));
        assert!(returns_rows("/* c */ WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(returns_rows("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!returns_rows("INSERT INTO t VALUES ('returning')"));
        assert!(!returns_rows("CREATE TABLE t(a int)"));
    }
}
