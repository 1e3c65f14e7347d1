//! Rows of a query result (or a CSV file) as a table sorted by a click on a
//! column's header; numbers sort as numbers.

use std::cmp::Ordering;

use leptos::prelude::*;
use serde_json::Value;

/// Rows of objects (a query's `rows`, a JSON Lines file) as columns and cells,
/// the columns in the order they first appear.
pub(crate) fn from_objects(rows: &[Value]) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Value::Object(map) = row {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let cells = cells_of(&columns, rows);
    (columns, cells)
}

/// Each row's value of each column, null where it has none.
fn cells_of(columns: &[String], rows: &[Value]) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect()
}

/// Ion text, one value a line (Kestra's format between tasks), as
/// columns and cells: the columns in the order of the first struct's
/// fields, then any new ones; a line that is not a struct is one cell.
pub(crate) fn from_ion(text: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut columns: Vec<String> = Vec::new();
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The last line of a preview may be cut: it is left out.
        let Ok((value, fields)) = engine::flow::pebble::convert::ion_fields(line) else {
            continue;
        };
        match fields {
            Some(fields) => {
                for (name, _) in &fields {
                    if !columns.contains(name) {
                        columns.push(name.clone());
                    }
                }
                records.push(value);
            }
            None => records.push(serde_json::json!({ "value": value })),
        }
    }
    if records.iter().any(|r| r.get("value").is_some()) && !columns.iter().any(|c| c == "value") {
        columns.push("value".into());
    }
    let cells = cells_of(&columns, &records);
    (columns, cells)
}

/// CSV text (a header line, then rows) as columns and cells. Quotes are
/// honoured; numbers become numbers so that they sort as such.
pub(crate) fn from_csv(text: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(split_csv_line);
    let columns = lines.next().unwrap_or_default();
    let rows = lines
        .map(|fields| {
            fields
                .into_iter()
                .map(|f| match (f.parse::<i64>(), f.parse::<f64>()) {
                    (Ok(n), _) => Value::from(n),
                    (_, Ok(x)) => {
                        serde_json::Number::from_f64(x).map_or(Value::String(f), Value::Number)
                    }
                    _ => Value::String(f),
                })
                .collect()
        })
        .collect();
    (columns, rows)
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[component]
pub(crate) fn ResultTable(
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    #[prop(into)] caption: String,
) -> impl IntoView {
    // (column, descending)
    let sort = RwSignal::new(None::<(usize, bool)>);
    let count = rows.len();
    let rows = StoredValue::new(rows);
    let sorted = move || {
        let mut rows = rows.get_value();
        if let Some((column, descending)) = sort.get() {
            rows.sort_by(|a, b| {
                let order = compare(a.get(column), b.get(column));
                if descending { order.reverse() } else { order }
            });
        }
        rows
    };
    let headers = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let aria = move || match sort.get() {
                Some((c, false)) if c == i => "ascending",
                Some((c, true)) if c == i => "descending",
                _ => "none",
            };
            let toggle =
                move |_| sort.update(|s| *s = Some((i, matches!(*s, Some((c, false)) if c == i))));
            view! {
                <th scope="col" aria-sort=aria>
                    <button type="button" class="sort" on:click=toggle>{name.clone()}</button>
                </th>
            }
        })
        .collect_view();
    view! {
        <table class="data-table result-table">
            <caption>{caption} " · " {count} {if count == 1 { " row" } else { " rows" }}</caption>
            <thead><tr>{headers}</tr></thead>
            <tbody>
                {move || {
                    sorted()
                        .into_iter()
                        .map(|row| view! { <tr>{row.iter().map(|cell| view! { <td>{cell_text(cell)}</td> }).collect_view()}</tr> })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
    .into_any()
}

fn cell_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => cell_text(a.unwrap_or(&Value::Null)).cmp(&cell_text(b.unwrap_or(&Value::Null))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ion_lines_keep_their_columns_order_and_a_cut_last_line_is_left_out() {
        let (columns, rows) =
            from_ion("{zeta:\"a\",alpha:1.5e0}\n{zeta:\"b\",alpha:2e0,extra:null}\n{zeta:\"c");
        assert_eq!(columns, ["zeta", "alpha", "extra"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], [json!("a"), json!(1.5), Value::Null]);
    }

    #[test]
    fn objects_and_csv_become_columns() {
        let (columns, rows) = from_objects(&[
            json!({"region": "EU", "total": 3.5}),
            json!({"region": "US", "extra": 1}),
        ]);
        assert_eq!(columns, ["region", "total", "extra"]);
        assert_eq!(rows[1], [json!("US"), Value::Null, json!(1)]);
        let (columns, rows) = from_csv("region,amount\n\"EU, west\",10\nUS,2.5\n");
        assert_eq!(columns, ["region", "amount"]);
        assert_eq!(rows[0], [json!("EU, west"), json!(10)]);
        assert_eq!(rows[1], [json!("US"), json!(2.5)]);
        assert_eq!(
            compare(Some(&json!(10)), Some(&json!(9))),
            Ordering::Greater
        );
    }
}
