//! Kestra's search filters in the query string, as its API and clients
//! (`kestrapy`'s `QueryFilter`, Kestra's UI) send them:
//! `filters[namespace][PREFIX]=company`, `filters[labels][EQUALS][env]=prod`,
//! `filters[state][IN]=FAILED,WARNING`, and the same under
//! `filters[and][0]…`. Each field accepts Kestra's operations for it
//! (`QueryFilter.Field.supportedOp`) and each search Kestra's fields for
//! its resource; anything else is a 400 naming what is accepted.

use engine::store::query::{Op, Operand, check_regex};

use crate::error::ApiError;

/// Kestra's fields: the name in the query string, its operations and,
/// for the fields of a few words, the values it takes.
const FIELDS: &[(&str, &[Op], &[&str])] = {
    use Op::*;
    const TEXT: &[Op] = &[
        Equals, NotEquals, Contains, StartsWith, EndsWith, Regex, In, NotIn, Prefix,
    ];
    const DATE: &[Op] = &[
        GreaterThanOrEqualTo,
        GreaterThan,
        LessThanOrEqualTo,
        LessThan,
        Equals,
        NotEquals,
    ];
    const ID: &[Op] = &[Equals, NotEquals, Contains, StartsWith, EndsWith, In, NotIn];
    &[
        ("q", &[Equals, NotEquals], &[]),
        ("scope", &[Equals, NotEquals], &["USER", "SYSTEM"]),
        ("namespace", TEXT, &[]),
        ("kind", &[Equals, NotEquals, In, NotIn], &[]),
        ("labels", &[Equals, NotEquals, In, NotIn, Contains], &[]),
        ("flowId", TEXT, &[]),
        ("updated", DATE, &[]),
        ("startDate", DATE, &[]),
        ("endDate", DATE, &[]),
        ("state", &[Equals, NotEquals, In, NotIn], &[]),
        ("timeRange", &[Equals], &[]),
        ("triggerExecutionId", ID, &[]),
        ("triggerId", ID, &[]),
        ("triggerState", &[Equals, NotEquals], &["ENABLED", "DISABLED"]),
        ("executionId", ID, &[]),
        ("childFilter", &[Equals, NotEquals], &["CHILD", "MAIN"]),
        ("workerId", ID, &[]),
        ("existingOnly", &[Equals, NotEquals], &[]),
        ("level", &[Equals, NotEquals], &[]),
    ]
};

/// Kestra's namespace of system flows (`kestra.system-flows.namespace`),
/// what the `scope` filter tells apart.
pub(crate) const SYSTEM_NAMESPACE: &str = "system";

/// What is searched, with the fields Kestra accepts for it
/// (`QueryFilter.Resource`) and, of those, the ones Mortar cannot apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resource {
    Flow,
    Execution,
    Log,
    Trigger,
}

impl Resource {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Flow => &["labels", "namespace", "q", "scope", "flowId"],
            Self::Execution => &[
                "q",
                "scope",
                "flowId",
                "startDate",
                "endDate",
                "state",
                "labels",
                "triggerExecutionId",
                "childFilter",
                "namespace",
                "kind",
                "timeRange",
            ],
            Self::Log => &[
                "q",
                "scope",
                "namespace",
                "startDate",
                "endDate",
                "flowId",
                "triggerId",
                "level",
                "executionId",
                "timeRange",
            ],
            Self::Trigger => &[
                "q",
                "scope",
                "namespace",
                "workerId",
                "flowId",
                "startDate",
                "endDate",
                "triggerId",
                "triggerState",
            ],
        }
    }

    /// Kestra's fields for this resource that Mortar does not apply, and why.
    fn unsupported(self, field: &str) -> Option<&'static str> {
        match (self, field) {
            (Self::Trigger, "workerId") => Some("Mortar does not pin triggers to workers"),
            (Self::Trigger, "startDate" | "endDate") => {
                Some("filter triggers by namespace, flow, id or state")
            }
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Flow => "FLOW",
            Self::Execution => "EXECUTION",
            Self::Log => "LOG",
            Self::Trigger => "TRIGGER",
        }
    }
}

/// One filter of the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub field: &'static str,
    pub op: Op,
    /// A map value's key (`filters[labels][EQUALS][env]=prod`).
    pub key: Option<String>,
    pub value: String,
}

impl Filter {
    pub fn text(&self) -> Operand {
        Operand::Text(self.value.clone())
    }

    /// Whether the filter keeps the records whose field is `word` (a field
    /// of a few words, EQUALS or NOT_EQUALS: `scope` SYSTEM, `childFilter`
    /// CHILD, `triggerState` DISABLED).
    pub fn selects(&self, word: &str) -> bool {
        (self.value == word) == (self.op == Op::Equals)
    }

    /// The value as an instant (ISO-8601), for the date fields.
    pub fn instant(&self) -> Result<Operand, ApiError> {
        super::executions::parse_instant(&format!("filters[{}]", self.field), &self.value)
            .map(Operand::Millis)
    }

    /// `timeRange`'s ISO-8601 duration (`PT24H`, `P7D`) as the instant
    /// that long ago.
    pub fn since(&self) -> Result<Operand, ApiError> {
        let refuse = |e: String| ApiError::BadRequest {
            message: format!(
                "filters[timeRange] {:?} is not an ISO-8601 duration such as PT24H or P7D: {e}",
                self.value
            ),
        };
        let span: jiff::Span = self.value.parse().map_err(|e: jiff::Error| refuse(e.to_string()))?;
        let then = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .checked_sub(span)
            .map_err(|e| refuse(e.to_string()))?;
        Ok(Operand::Millis(then.timestamp().as_millisecond()))
    }
}

/// The filters in `query` (the raw query string) that `resource` accepts,
/// every problem named at once.
pub(crate) fn parse(query: Option<&str>, resource: Resource) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let Some(rest) = name.strip_prefix("filters") else {
            continue;
        };
        match one(rest, value.into_owned(), resource) {
            Ok(filter) => filters.push(filter),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(filters)
    } else {
        Err(ApiError::BadRequest {
            message: errors.join("; "),
        })
    }
}

fn one(rest: &str, value: String, resource: Resource) -> Result<Filter, String> {
    // `[a][b][c]` into its segments.
    let mut segments = Vec::new();
    let mut tail = rest;
    while let Some(after) = tail.strip_prefix('[') {
        let Some((segment, next)) = after.split_once(']') else {
            return Err("an unclosed `[`".to_owned());
        };
        segments.push(segment);
        tail = next;
    }
    if !tail.is_empty() || segments.is_empty() {
        return Err("write filters[field][OPERATION]=value".to_owned());
    }
    // An AND group is the same as the flat list.
    while segments.first() == Some(&"and") {
        if segments.len() < 2 || segments[1].parse::<usize>().is_err() {
            return Err("write filters[and][0][field][OPERATION]=value".to_owned());
        }
        segments.drain(..2);
    }
    if segments.first() == Some(&"or") {
        return Err(
            "OR groups are not supported yet: make one search a branch, or use IN".to_owned(),
        );
    }
    let (field, op, key) = match segments.as_slice() {
        [field, op] => (*field, *op, None),
        [field, op, key] => (*field, *op, Some((*key).to_owned())),
        _ => return Err("write filters[field][OPERATION]=value".to_owned()),
    };
    let Some(&(field, ops, words)) = FIELDS.iter().find(|(name, _, _)| *name == field) else {
        return Err(format!(
            "unknown field {field:?}; the fields of {} are {}",
            resource.name(),
            resource.fields().join(", ")
        ));
    };
    if !resource.fields().contains(&field) {
        return Err(format!(
            "field {field} is not supported for resource {}; supported fields are {}",
            resource.name(),
            resource.fields().join(", ")
        ));
    }
    if let Some(why) = resource.unsupported(field) {
        return Err(format!("field {field} is not supported by Mortar: {why}"));
    }
    let names = || ops.iter().map(|op| op.name()).collect::<Vec<_>>().join(", ");
    let op = Op::parse(op)
        .filter(|op| ops.contains(op))
        .ok_or_else(|| format!("operation {op} is not supported for field {field}; supported operations are {}", names()))?;
    if key.is_some() && field != "labels" {
        return Err(format!("field {field} takes no key: write filters[{field}][{}]=value", op.name()));
    }
    if op == Op::Regex {
        check_regex(&value)?;
    }
    if !words.is_empty() && !words.contains(&value.as_str()) {
        return Err(format!("{value:?}: use {}", words.join(" or ")));
    }
    // A label without a key is `key:value`, as Kestra's UI writes it.
    let (key, value) = match (field, key) {
        ("labels", None) if matches!(op, Op::Equals | Op::NotEquals) => {
            let (k, v) = value
                .split_once(':')
                .ok_or_else(|| format!("a label is filters[labels][{}][key]=value or key:value", op.name()))?;
            (Some(k.trim().to_owned()), v.trim().to_owned())
        }
        (_, key) => (key, value),
    };
    Ok(Filter {
        field,
        op,
        key,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestras_query_syntax_is_read() {
        let q = "filters[namespace][PREFIX]=company&filters[labels][EQUALS][env]=prod&filters%5Bstate%5D%5BIN%5D=FAILED%2CWARNING&page=1";
        let filters = parse(Some(q), Resource::Execution).unwrap();
        assert_eq!(filters.len(), 3);
        assert_eq!(filters[0].op, Op::Prefix);
        assert_eq!(filters[1].key.as_deref(), Some("env"));
        assert_eq!(filters[2].value, "FAILED,WARNING");
        let grouped = parse(Some("filters[and][0][flowId][EQUALS]=load"), Resource::Execution).unwrap();
        assert_eq!(grouped[0].field, "flowId");
        let label = parse(Some("filters[labels][EQUALS]=team:data"), Resource::Flow).unwrap();
        assert_eq!((label[0].key.as_deref(), label[0].value.as_str()), (Some("team"), "data"));
    }

    #[test]
    fn what_kestra_refuses_is_named() {
        let e = |q: &str, r| match parse(Some(q), r) {
            Err(ApiError::BadRequest { message }) => message,
            other => panic!("{other:?}"),
        };
        assert!(e("filters[state][PREFIX]=x", Resource::Execution).contains("supported operations are EQUALS, NOT_EQUALS, IN, NOT_IN"));
        assert!(e("filters[level][EQUALS]=INFO", Resource::Flow).contains("not supported for resource FLOW"));
        assert!(e("filters[nope][EQUALS]=x", Resource::Log).contains("unknown field \"nope\""));
        assert!(e("filters[or][0][q][EQUALS]=x", Resource::Flow).contains("OR groups"));
        assert!(e("filters[q][REGEX]=(", Resource::Flow).contains("supported operations"));
        assert!(e("filters[namespace][REGEX]=(", Resource::Flow).contains("regular expression"));
    }
}
