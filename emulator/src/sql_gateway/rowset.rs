//! Results as TCLIService carries them: the columns as a TTableSchema and
//! the rows as a column-based TRowSet (one typed list per column and a
//! bitmap of its nulls), which every client reads.

use thrift::protocol::TType;

use crate::sql::{ColumnType, Rows};
use crate::thrift::{Struct, Value};

/// A TTableSchema: each column's name, primitive type and 1-based position.
pub(super) fn schema(columns: &[ColumnType]) -> Struct {
    let descs = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let primitive = Struct::new().with(1, Value::I32(type_id(c.type_name)));
            let entry = Struct::new().with(1, Value::Struct(primitive));
            let desc = Struct::new().with(1, Value::List(TType::Struct, vec![Value::Struct(entry)]));
            Value::Struct(
                Struct::new()
                    .with(1, Value::str(c.name.clone()))
                    .with(2, Value::Struct(desc))
                    .with(3, Value::I32(i as i32 + 1)),
            )
        })
        .collect();
    Struct::new().with(1, Value::List(TType::Struct, descs))
}

/// A TRowSet of rows `start..end`: no row-based rows (the list is
/// required), one TColumn per column.
pub(super) fn row_set(rows: &Rows, start: usize, end: usize) -> Struct {
    let columns = rows
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| Value::Struct(column(c.type_name, rows.rows[start..end].iter().map(|r| r.get(i).cloned().flatten()))))
        .collect();
    Struct::new()
        .with(1, Value::I64(start as i64))
        .with(2, Value::List(TType::Struct, Vec::new()))
        .with(3, Value::List(TType::Struct, columns))
        .with(5, Value::I32(rows.columns.len() as i32))
}

/// TTypeId of a Databricks type name.
fn type_id(type_name: &str) -> i32 {
    match type_name {
        "BOOLEAN" => 0,
        "BYTE" => 1,
        "SHORT" => 2,
        "INT" => 3,
        "LONG" => 4,
        "FLOAT" => 5,
        "DOUBLE" => 6,
        "TIMESTAMP" => 8,
        "BINARY" => 9,
        "DECIMAL" => 7, // sent as text; DECIMAL_TYPE would need its precision
        "DATE" => 17,
        _ => 7,
    }
}

/// One TColumn: the values in the type's own list (field 1 bool, 4 i32,
/// 5 i64, 6 double, 7 string, 8 binary) and the nulls as a bitmap, least
/// significant bit first. A value that does not parse as the column's type
/// makes the column text.
fn column(type_name: &str, values: impl Iterator<Item = Option<String>>) -> Struct {
    let values: Vec<Option<String>> = values.collect();
    let mut nulls = vec![0u8; values.len().div_ceil(8)];
    for (i, v) in values.iter().enumerate() {
        if v.is_none() {
            nulls[i / 8] |= 1 << (i % 8);
        }
    }
    let typed = |field: i16, elem: TType, parse: &dyn Fn(&str) -> Option<Value>, zero: Value| {
        let items: Option<Vec<Value>> = values
            .iter()
            .map(|v| match v {
                None => Some(zero.clone()),
                Some(s) => parse(s),
            })
            .collect();
        items.map(|items| (field, elem, items))
    };
    let parsed = match type_name {
        "BOOLEAN" => typed(1, TType::Bool, &|s| match s {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        }, Value::Bool(false)),
        "INT" | "SHORT" | "BYTE" => typed(4, TType::I32, &|s| s.parse().ok().map(Value::I32), Value::I32(0)),
        "LONG" => typed(5, TType::I64, &|s| s.parse().ok().map(Value::I64), Value::I64(0)),
        "DOUBLE" | "FLOAT" => typed(6, TType::Double, &|s| s.parse().ok().map(Value::Double), Value::Double(0.0)),
        "BINARY" => typed(8, TType::String, &|s| Some(Value::Binary(s.as_bytes().to_vec())), Value::Binary(Vec::new())),
        _ => None,
    };
    let (field, elem, items) = parsed.unwrap_or_else(|| {
        let items = values.iter().map(|v| Value::str(v.clone().unwrap_or_default())).collect();
        (7, TType::String, items)
    });
    let inner = Struct::new()
        .with(1, Value::List(elem, items))
        .with(2, Value::Binary(nulls));
    Struct::new().with(field, Value::Struct(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_keeps_its_type_and_marks_its_nulls() {
        let c = column("LONG", [Some("1".into()), None, Some("3".into())].into_iter());
        let inner = c.child(5).expect("an i64 column");
        assert_eq!(inner.get(1), Some(&Value::List(TType::I64, vec![Value::I64(1), Value::I64(0), Value::I64(3)])));
        assert_eq!(inner.bytes(2), Some(&[0b010][..]));
        // A value that is not a number turns the column into text.
        let c = column("LONG", [Some("x".into())].into_iter());
        assert!(c.child(7).is_some());
    }
}
