//! Kestra's search filters (its `QueryFilter`): a field, an operation and
//! a value, as the API takes them in `filters[field][OPERATION]=value`.
//! One operation is evaluated in SQL (the searches that page in the
//! store) or on a value in memory (the searches over a short list), the
//! same way.

use super::history::Bind;
use super::{Dialect, escape_like};

/// Kestra's operations (`QueryFilter.Op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equals,
    NotEquals,
    GreaterThan,
    LessThan,
    GreaterThanOrEqualTo,
    LessThanOrEqualTo,
    In,
    NotIn,
    StartsWith,
    EndsWith,
    Contains,
    Regex,
    Prefix,
}

impl Op {
    pub const ALL: [Self; 13] = [
        Self::Equals,
        Self::NotEquals,
        Self::GreaterThan,
        Self::LessThan,
        Self::GreaterThanOrEqualTo,
        Self::LessThanOrEqualTo,
        Self::In,
        Self::NotIn,
        Self::StartsWith,
        Self::EndsWith,
        Self::Contains,
        Self::Regex,
        Self::Prefix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Equals => "EQUALS",
            Self::NotEquals => "NOT_EQUALS",
            Self::GreaterThan => "GREATER_THAN",
            Self::LessThan => "LESS_THAN",
            Self::GreaterThanOrEqualTo => "GREATER_THAN_OR_EQUAL_TO",
            Self::LessThanOrEqualTo => "LESS_THAN_OR_EQUAL_TO",
            Self::In => "IN",
            Self::NotIn => "NOT_IN",
            Self::StartsWith => "STARTS_WITH",
            Self::EndsWith => "ENDS_WITH",
            Self::Contains => "CONTAINS",
            Self::Regex => "REGEX",
            Self::Prefix => "PREFIX",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == text)
    }
}

/// A filter's value: text (a comma-separated list for IN and NOT_IN, as
/// Kestra splits it) or an instant in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Text(String),
    Millis(i64),
}

impl Operand {
    fn list(text: &str) -> impl Iterator<Item = &str> {
        text.split(',').map(str::trim)
    }
}

/// One condition on a field `F` of the searched records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition<F> {
    pub field: F,
    pub op: Op,
    pub operand: Operand,
}

/// A REGEX operand compiled, or why it is not a regular expression.
pub fn check_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("{pattern:?} is not a regular expression: {e}"))
}

/// Whether the text `actual` meets `op` with `operand` (in memory, for
/// the searches over a short list). CONTAINS ignores case; a bad REGEX is
/// refused before (`check_regex`), so here it matches nothing.
pub fn matches(op: Op, actual: &str, operand: &Operand) -> bool {
    let value = match operand {
        Operand::Text(text) => text.as_str(),
        Operand::Millis(ms) => return compare(op, actual.parse::<i64>().ok(), *ms),
    };
    match op {
        Op::Equals => actual == value,
        Op::NotEquals => actual != value,
        Op::In => Operand::list(value).any(|v| v == actual),
        Op::NotIn => !Operand::list(value).any(|v| v == actual),
        Op::StartsWith => actual.starts_with(value),
        Op::EndsWith => actual.ends_with(value),
        Op::Contains => actual.to_lowercase().contains(&value.to_lowercase()),
        Op::Regex => check_regex(value).is_ok_and(|re| re.is_match(actual)),
        Op::Prefix => {
            actual == value
                || actual
                    .strip_prefix(value)
                    .is_some_and(|rest| rest.starts_with('.'))
        }
        Op::GreaterThan => actual > value,
        Op::LessThan => actual < value,
        Op::GreaterThanOrEqualTo => actual >= value,
        Op::LessThanOrEqualTo => actual <= value,
    }
}

fn compare(op: Op, actual: Option<i64>, value: i64) -> bool {
    let Some(actual) = actual else {
        return matches!(op, Op::NotEquals);
    };
    match op {
        Op::Equals => actual == value,
        Op::NotEquals => actual != value,
        Op::GreaterThan => actual > value,
        Op::LessThan => actual < value,
        Op::GreaterThanOrEqualTo => actual >= value,
        Op::LessThanOrEqualTo => actual <= value,
        _ => false,
    }
}

/// The SQL condition `op` puts on `column` (a fixed expression of the
/// caller, never a value), its values pushed onto `binds` in order.
pub(super) fn sql(
    column: &str,
    op: Op,
    operand: &Operand,
    d: Dialect,
    binds: &mut Vec<Bind>,
) -> String {
    let text = match operand {
        Operand::Millis(ms) => {
            binds.push(Bind::Int(*ms));
            let symbol = match op {
                Op::Equals => "=",
                Op::NotEquals => "<>",
                Op::GreaterThan => ">",
                Op::LessThan => "<",
                Op::GreaterThanOrEqualTo => ">=",
                Op::LessThanOrEqualTo => "<=",
                // The parser gives instants to comparisons only.
                _ => "=",
            };
            return format!("{column} {symbol} ?");
        }
        Operand::Text(text) => text,
    };
    let like = |pattern: String, binds: &mut Vec<Bind>, like: &str| {
        binds.push(Bind::Text(pattern));
        format!("{column} {like} ? ESCAPE '\\'")
    };
    match op {
        Op::In | Op::NotIn => {
            let values: Vec<&str> = Operand::list(text).collect();
            binds.extend(values.iter().map(|v| Bind::Text((*v).to_owned())));
            format!(
                "{column} {}IN ({})",
                if op == Op::NotIn { "NOT " } else { "" },
                vec!["?"; values.len()].join(", ")
            )
        }
        Op::StartsWith => like(format!("{}%", escape_like(text)), binds, "LIKE"),
        Op::EndsWith => like(format!("%{}", escape_like(text)), binds, "LIKE"),
        Op::Contains => like(format!("%{}%", escape_like(text)), binds, d.ilike()),
        Op::Regex => {
            binds.push(Bind::Text(text.clone()));
            match d {
                Dialect::Sqlite => format!("{column} REGEXP ?"),
                Dialect::Postgres => format!("{column} ~ ?"),
            }
        }
        Op::Prefix => {
            binds.push(Bind::Text(text.clone()));
            binds.push(Bind::Text(format!("{}.%", escape_like(text))));
            format!("({column} = ? OR {column} LIKE ? ESCAPE '\\')")
        }
        Op::Equals | Op::NotEquals | Op::GreaterThan | Op::LessThan => {
            binds.push(Bind::Text(text.clone()));
            let symbol = match op {
                Op::Equals => "=",
                Op::NotEquals => "<>",
                Op::GreaterThan => ">",
                _ => "<",
            };
            format!("{column} {symbol} ?")
        }
        Op::GreaterThanOrEqualTo | Op::LessThanOrEqualTo => {
            binds.push(Bind::Text(text.clone()));
            let symbol = if op == Op::GreaterThanOrEqualTo { ">=" } else { "<=" };
            format!("{column} {symbol} ?")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Operand {
        Operand::Text(s.to_owned())
    }

    #[test]
    fn operations_match_as_kestra_reads_them() {
        assert!(matches(Op::Prefix, "company.team", &text("company")));
        assert!(matches(Op::Prefix, "company", &text("company")));
        assert!(!matches(Op::Prefix, "company_data", &text("company")));
        assert!(matches(Op::In, "b", &text("a, b")));
        assert!(matches(Op::NotIn, "c", &text("a,b")));
        assert!(matches(Op::Contains, "Company.Team", &text("team")));
        assert!(matches(Op::Regex, "load_daily", &text("^load_")));
        assert!(!matches(Op::Regex, "x", &text("(")));
        assert!(matches(Op::GreaterThanOrEqualTo, "20", &Operand::Millis(20)));
        assert_eq!(Op::parse("NOT_IN"), Some(Op::NotIn));
        assert_eq!(Op::parse("not_in"), None);
    }

    #[test]
    fn sql_binds_every_value() {
        let mut binds = Vec::new();
        let sql = sql("namespace", Op::In, &text("a,b"), Dialect::Postgres, &mut binds);
        assert_eq!(sql, "namespace IN (?, ?)");
        assert_eq!(binds.len(), 2);
        let sql = super::sql("flow_id", Op::Contains, &text("50%"), Dialect::Postgres, &mut binds);
        assert_eq!(sql, "flow_id ILIKE ? ESCAPE '\\'");
        assert!(matches!(&binds[2], Bind::Text(t) if t == "%50\\%%"));
    }
}
