//! The metadata operations (GetCatalogs, GetSchemas, GetTables,
//! GetColumns), answered from the Unity Catalog with the columns JDBC's
//! DatabaseMetaData names, as the service does; what the connector's
//! `cursor.catalogs()`, `schemas()`, `tables()` and `columns()`, and the
//! JDBC and ODBC drivers' browsers, read. Names are matched by the
//! request's patterns (`%` any run, `_` one character, case-insensitive;
//! none is everything).

use regex::Regex;

use crate::Shared;
use crate::sql::{ColumnType, Rows};
use crate::thrift::{Struct, Value};

/// The rows of metadata operation `method`, or None when it is not one.
pub(super) async fn rows(state: &Shared, method: &str, req: &Struct) -> Option<Rows> {
    let pattern = |id: i16| Pattern::new(req.text(id).as_deref());
    let (catalogs, schemas, tables) = crate::unity::names(state);
    let split = |full: &str| -> Vec<String> { full.splitn(3, '.').map(str::to_owned).collect() };
    Some(match method {
        "GetCatalogs" => table(&[("TABLE_CAT", S)], catalogs.into_iter().map(|c| vec![Some(c)])),
        "GetSchemas" => {
            let (cat, sch) = (pattern(2), pattern(3));
            let rows = schemas.iter().map(|s| split(s)).filter(|p| cat.matches(&p[0]) && sch.matches(&p[1]));
            table(
                &[("TABLE_SCHEM", S), ("TABLE_CATALOG", S)],
                rows.map(|p| vec![Some(p[1].clone()), Some(p[0].clone())]),
            )
        }
        "GetTables" => {
            let (cat, sch, tab) = (pattern(2), pattern(3), pattern(4));
            let types: Vec<String> = match req.get(5) {
                Some(Value::List(_, items)) => items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Binary(b) => Some(String::from_utf8_lossy(b).to_uppercase()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let rows = tables.iter().filter_map(|(full, kind)| {
                let p = split(full);
                // JDBC's table types: a managed or external table is a TABLE.
                let jdbc = if kind == "VIEW" { "VIEW" } else { "TABLE" };
                let wanted = types.is_empty() || types.iter().any(|t| t == jdbc || t == kind);
                (cat.matches(&p[0]) && sch.matches(&p[1]) && tab.matches(&p[2]) && wanted).then(|| {
                    let mut row = vec![Some(p[0].clone()), Some(p[1].clone()), Some(p[2].clone()), Some(jdbc.to_owned()), Some(String::new())];
                    row.extend([None, None, None, None, None]);
                    row
                })
            });
            table(
                &[
                    ("TABLE_CAT", S), ("TABLE_SCHEM", S), ("TABLE_NAME", S), ("TABLE_TYPE", S), ("REMARKS", S),
                    ("TYPE_CAT", S), ("TYPE_SCHEM", S), ("TYPE_NAME", S), ("SELF_REFERENCING_COL_NAME", S), ("REF_GENERATION", S),
                ],
                rows,
            )
        }
        "GetColumns" => {
            let (cat, sch, tab, col) = (pattern(2), pattern(3), pattern(4), pattern(5));
            let mut rows = Vec::new();
            for (full, _) in &tables {
                let p = split(full);
                if !(cat.matches(&p[0]) && sch.matches(&p[1]) && tab.matches(&p[2])) {
                    continue;
                }
                for (i, (name, type_name)) in crate::unity::columns_of(state, &p[2]).await.into_iter().enumerate() {
                    if col.matches(&name) {
                        rows.push(column_row(&p, &name, type_name, i + 1));
                    }
                }
            }
            table(
                &[
                    ("TABLE_CAT", S), ("TABLE_SCHEM", S), ("TABLE_NAME", S), ("COLUMN_NAME", S), ("DATA_TYPE", I),
                    ("TYPE_NAME", S), ("COLUMN_SIZE", I), ("BUFFER_LENGTH", I), ("DECIMAL_DIGITS", I), ("NUM_PREC_RADIX", I),
                    ("NULLABLE", I), ("REMARKS", S), ("COLUMN_DEF", S), ("SQL_DATA_TYPE", I), ("SQL_DATETIME_SUB", I),
                    ("CHAR_OCTET_LENGTH", I), ("ORDINAL_POSITION", I), ("IS_NULLABLE", S), ("SCOPE_CATALOG", S),
                    ("SCOPE_SCHEMA", S), ("SCOPE_TABLE", S), ("SOURCE_DATA_TYPE", I), ("IS_AUTO_INCREMENT", S),
                ],
                rows.into_iter(),
            )
        }
        _ => return None,
    })
}

const S: &str = "STRING";
const I: &str = "INT";

fn table(columns: &[(&str, &'static str)], rows: impl Iterator<Item = Vec<Option<String>>>) -> Rows {
    Rows {
        columns: columns
            .iter()
            .map(|(name, ty)| ColumnType {
                name: (*name).to_owned(),
                type_name: ty,
                type_text: ty,
            })
            .collect(),
        rows: rows.collect(),
    }
}

/// One GetColumns row: the column's JDBC type code and name, nullable, at
/// its 1-based position.
fn column_row(table: &[String], name: &str, type_name: &str, position: usize) -> Vec<Option<String>> {
    let (code, jdbc_name, size) = match type_name {
        "LONG" => (-5, "BIGINT", Some(19)),
        "INT" => (4, "INT", Some(10)),
        "DOUBLE" => (8, "DOUBLE", Some(15)),
        "BOOLEAN" => (16, "BOOLEAN", Some(1)),
        "TIMESTAMP" => (93, "TIMESTAMP", Some(29)),
        "DATE" => (91, "DATE", Some(10)),
        "BINARY" => (-2, "BINARY", None),
        _ => (12, "STRING", None),
    };
    let text = |s: &str| Some(s.to_owned());
    let num = |n: i64| Some(n.to_string());
    vec![
        text(&table[0]), text(&table[1]), text(&table[2]), text(name), num(code),
        text(jdbc_name), size.map(|n: i64| n.to_string()), None, None, None,
        num(1), text(""), None, None, None,
        None, num(position as i64), text("YES"), None,
        None, None, None, text("NO"),
    ]
}

/// A JDBC name pattern.
struct Pattern(Option<Regex>);

impl Pattern {
    fn new(pattern: Option<&str>) -> Self {
        let Some(p) = pattern.filter(|p| !p.is_empty() && *p != "%" && *p != "*") else {
            return Self(None);
        };
        let mut re = String::from("(?i)^");
        for c in p.chars() {
            match c {
                '%' => re.push_str(".*"),
                '_' => re.push('.'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        Self(Regex::new(&re).ok())
    }

    fn matches(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|re| re.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn patterns_are_jdbc_like() {
        assert!(Pattern::new(None).matches("anything"));
        assert!(Pattern::new(Some("%")).matches("anything"));
        assert!(Pattern::new(Some("ny%")).matches("NYCtaxi"));
        assert!(Pattern::new(Some("t_ips")).matches("trips"));
        assert!(!Pattern::new(Some("t_ips")).matches("tripss"));
        assert!(!Pattern::new(Some("a.b")).matches("axb"));
    }
}
