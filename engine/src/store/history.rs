//! The execution history as pages show it: light rows (no inputs, outputs
//! or histories) searched, sorted and paged; counts of states over time; the
//! last execution of each flow; recent failures. Every query here is served
//! by an index of `0002_executions.sql` or `0003_execution_history.sql`, so
//! that pages stay fast with a large history.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use super::{ExecutionFilter, Store, StoreError, escape_like, now_ms};
use crate::ids::{ExecutionId, FlowId, Namespace};
use crate::state::State;

/// The columns the executions list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionSort {
    #[default]
    Created,
    Namespace,
    Flow,
    State,
    Duration,
}

impl ExecutionSort {
    pub const ALL: [ExecutionSort; 5] = [
        Self::Created,
        Self::Namespace,
        Self::Flow,
        Self::State,
        Self::Duration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Namespace => "namespace",
            Self::Flow => "flow",
            Self::State => "state",
            Self::Duration => "duration",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The SQL ordering; `?` is bound to now for the duration of a run.
    fn order_by(self) -> &'static str {
        match self {
            Self::Created => "created_at",
            Self::Namespace => "namespace",
            Self::Flow => "flow_id",
            Self::State => "state",
            Self::Duration => "(COALESCE(ended_at, ?) - created_at)",
        }
    }
}

/// What the executions list asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecutionQuery {
    pub filter: ExecutionFilter,
    /// Matched (case insensitive) against the id, namespace, flow id and labels.
    pub text: Option<String>,
    pub sort: ExecutionSort,
    pub descending: bool,
    /// From 1.
    pub page: i64,
    pub size: i64,
}

/// One execution without its inputs, outputs and histories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub id: ExecutionId,
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub flow_revision: i64,
    pub state: State,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SummaryPage {
    pub results: Vec<ExecutionSummary>,
    pub total: i64,
}

/// How many executions created in `[bucket, bucket + width)` are in `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub bucket: i64,
    pub state: State,
    pub count: i64,
}

const SUMMARY_COLUMNS: &str =
    "id, namespace, flow_id, flow_revision, state, labels, created_at, ended_at";

type SummaryRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Option<i64>,
);

pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// Binds the values [`conditions`] collected to a query of either backend,
/// in order.
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }};
}
pub(super) use bind_all;

impl Store {
    /// One page of executions matching `query`, with the number matching.
    pub async fn list_executions(&self, query: &ExecutionQuery) -> Result<SummaryPage, StoreError> {
        let size = query.size.clamp(1, 500);
        let offset = (query.page.max(1) - 1) * size;
        with_pool!(&self.pool, |pool, d| {
            let (mut conditions, mut binds) = conditions(&query.filter, d);
            if let Some(text) = query
                .text
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                let like = d.ilike();
                conditions.push(format!(
                    "(id {like} ? ESCAPE '\\' OR namespace {like} ? ESCAPE '\\' OR flow_id {like} ? ESCAPE '\\' OR labels {like} ? ESCAPE '\\')"
                ));
                let pattern = format!("%{}%", escape_like(text));
                binds.extend(std::iter::repeat_with(|| Bind::Text(pattern.clone())).take(4));
            }
            let where_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };

            // Only fixed fragments and placeholders are formatted in; every value is bound.
            let count = bind_all!(
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(super::numbered(&format!(
                    "SELECT COUNT(*) FROM executions {where_sql}"
                )))),
                &binds
            );
            let total = count.fetch_one(pool).await?;

            let direction = if query.descending { "DESC" } else { "ASC" };
            // Ties go by creation then id in the same direction, which the
            // indexes of 0003_execution_history.sql serve without a sort.
            let order = match query.sort {
                ExecutionSort::Created => format!("created_at {direction}, id {direction}"),
                sort => format!(
                    "{} {direction}, created_at {direction}, id {direction}",
                    sort.order_by()
                ),
            };
            let rows_sql = super::numbered(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM executions {where_sql} ORDER BY {order} LIMIT ? OFFSET ?"
            ));
            let mut rows = bind_all!(
                sqlx::query_as::<_, SummaryRow>(AssertSqlSafe(rows_sql)),
                &binds
            );
            if query.sort == ExecutionSort::Duration {
                rows = rows.bind(now_ms());
            }
            let rows = rows.bind(size).bind(offset).fetch_all(pool).await?;
            Ok(SummaryPage {
                results: rows
                    .into_iter()
                    .map(summary_from_row)
                    .collect::<Result<_, _>>()?,
                total,
            })
        })
    }

    /// Executions created in `[from, to)` counted per state and per bucket
    /// of `width` milliseconds (buckets start at multiples of `width`).
    pub async fn state_counts(
        &self,
        from: i64,
        to: i64,
        width: i64,
    ) -> Result<Vec<StateCount>, StoreError> {
        let width = width.max(1);
        let rows: Vec<(i64, String, i64)> = with_pool!(&self.pool, |pool, d| sqlx::query_as(
            "SELECT (created_at / $1) * $1 AS bucket, state, COUNT(*) FROM executions
             WHERE created_at >= $2 AND created_at < $3
             GROUP BY bucket, state ORDER BY bucket, state",
        )
        .bind(width)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(bucket, state, count)| {
                Ok(StateCount {
                    bucket,
                    state: parse_state(&state)?,
                    count,
                })
            })
            .collect()
    }

    /// The newest execution of each stored flow that has one.
    pub async fn last_executions(&self) -> Result<Vec<ExecutionSummary>, StoreError> {
        // One index probe per flow (executions_by_flow) rather than a
        // grouping over every execution.
        let rows: Vec<SummaryRow> = with_pool!(&self.pool, |pool, d| sqlx::query_as(
            AssertSqlSafe(format!(
                "SELECT {} FROM flows f JOIN executions e ON e.id = (
                 SELECT id FROM executions WHERE namespace = f.namespace AND flow_id = f.id
                 ORDER BY created_at DESC, id DESC LIMIT 1)
             WHERE f.deleted = 0",
                SUMMARY_COLUMNS
                    .split(", ")
                    .map(|c| format!("e.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(summary_from_row).collect()
    }

    /// The newest executions in one of `states`, at most `limit`.
    pub async fn recent_executions(
        &self,
        states: &[State],
        limit: i64,
    ) -> Result<Vec<ExecutionSummary>, StoreError> {
        let query = ExecutionQuery {
            filter: ExecutionFilter {
                states: states.to_vec(),
                ..Default::default()
            },
            descending: true,
            page: 1,
            size: limit,
            ..Default::default()
        };
        Ok(self.list_executions(&query).await?.results)
    }
}

pub(super) fn conditions(filter: &ExecutionFilter, d: super::Dialect) -> (Vec<String>, Vec<Bind>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(namespace) = filter.namespace.as_deref().filter(|n| !n.is_empty()) {
        // As Kestra: a namespace also matches its children. The range
        // (children sort between `ns` and `ns/`, as '.' < '/') lets the
        // namespace index narrow the rows before the exact test.
        conditions.push("(namespace >= ? AND namespace < ? AND (namespace = ? OR namespace LIKE ? ESCAPE '\\'))".to_owned());
        binds.push(Bind::Text(namespace.to_owned()));
        binds.push(Bind::Text(format!("{namespace}/")));
        binds.push(Bind::Text(namespace.to_owned()));
        binds.push(Bind::Text(format!("{}.%", escape_like(namespace))));
    }
    if let Some(flow_id) = filter.flow_id.as_deref().filter(|f| !f.is_empty()) {
        conditions.push("flow_id = ?".to_owned());
        binds.push(Bind::Text(flow_id.to_owned()));
    }
    if !filter.states.is_empty() {
        conditions.push(format!(
            "state IN ({})",
            vec!["?"; filter.states.len()].join(", ")
        ));
        binds.extend(
            filter
                .states
                .iter()
                .map(|s| Bind::Text(s.as_str().to_owned())),
        );
    }
    if let Some(from) = filter.created_from {
        conditions.push("created_at >= ?".to_owned());
        binds.push(Bind::Int(from));
    }
    if let Some(to) = filter.created_to {
        conditions.push("created_at < ?".to_owned());
        binds.push(Bind::Int(to));
    }
    for (key, value) in &filter.labels {
        conditions.push(
            match d {
                super::Dialect::Sqlite => "json_extract(labels, '$.' || json_quote(?)) = ?",
                super::Dialect::Postgres => "(labels::jsonb ->> ?) = ?",
            }
            .to_owned(),
        );
        binds.push(Bind::Text(key.clone()));
        binds.push(Bind::Text(value.clone()));
    }
    for condition in &filter.conditions {
        conditions.push(execution_condition(condition, d, &mut binds));
    }
    if let Some(scopes) = &filter.scopes {
        // A reader with no namespace sees nothing.
        let mut any = vec!["1 = 0".to_owned()];
        for scope in scopes {
            any.push("(namespace = ? OR namespace LIKE ? ESCAPE '\\')".to_owned());
            binds.push(Bind::Text(scope.clone()));
            binds.push(Bind::Text(format!("{}.%", escape_like(scope))));
        }
        conditions.push(format!("({})", any.join(" OR ")));
    }
    (conditions, binds)
}

/// One of Kestra's conditions on executions, in SQL.
fn execution_condition(
    condition: &super::query::Condition<super::executions::ExecutionField>,
    d: super::Dialect,
    binds: &mut Vec<Bind>,
) -> String {
    use super::executions::ExecutionField;
    use super::query::{Op, sql};
    match &condition.field {
        ExecutionField::Query => {
            // Text in any of the three; NOT_EQUALS is in none.
            let any: Vec<String> = ["id", "namespace", "flow_id"]
                .into_iter()
                .map(|column| sql(column, Op::Contains, &condition.operand, d, binds))
                .collect();
            let any = format!("({})", any.join(" OR "));
            if condition.op == Op::NotEquals {
                format!("NOT {any}")
            } else {
                any
            }
        }
        ExecutionField::Label(key) => {
            binds.push(Bind::Text(key.clone()));
            let column = condition.field.column(d);
            let test = sql(column, condition.op, &condition.operand, d, binds);
            // A label the execution does not have is not equal to any value.
            if matches!(condition.op, Op::NotEquals | Op::NotIn) {
                binds.push(Bind::Text(key.clone()));
                format!("({test} OR {column} IS NULL)")
            } else {
                test
            }
        }
        ExecutionField::HasParent => format!(
            "{} IS {}NULL",
            condition.field.column(d),
            if condition.op == Op::Equals { "NOT " } else { "" }
        ),
        field => sql(field.column(d), condition.op, &condition.operand, d, binds),
    }
}

fn parse_state(text: &str) -> Result<State, StoreError> {
    State::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown state {text:?}")))
}

fn summary_from_row(row: SummaryRow) -> Result<ExecutionSummary, StoreError> {
    let (id, namespace, flow_id, flow_revision, state, labels, created_at, ended_at) = row;
    Ok(ExecutionSummary {
        id: ExecutionId::new(id),
        namespace: Namespace::new(namespace),
        flow_id: FlowId::new(flow_id),
        flow_revision,
        state: parse_state(&state)?,
        labels: serde_json::from_str(&labels)
            .map_err(|e| StoreError::Corrupt(format!("bad labels in the database: {e}")))?,
        created_at,
        ended_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Event;
    use crate::store::FlowSource;

    use crate::store::executions::search_tests::seed;

    fn ids(page: SummaryPage) -> Vec<ExecutionId> {
        page.results.into_iter().map(|e| e.id).collect()
    }

    #[tokio::test]
    async fn text_search_sort_and_paging() {
        let store = Store::scratch().await.unwrap();
        let a = seed(&store, "company.data", "load_sales", &[("env", "prod")]).await;
        let b = seed(&store, "tutorial", "hello", &[]).await;
        let c = seed(&store, "company.data", "report", &[("env", "dev")]).await;
        store.execution_event(&b, Event::Start).await.unwrap();

        let query = |text: &str, sort, descending| ExecutionQuery {
            text: Some(text.to_owned()),
            sort,
            descending,
            page: 1,
            size: 10,
            ..Default::default()
        };
        assert_eq!(
            ids(store
                .list_executions(&query("sales", ExecutionSort::Created, true))
                .await
                .unwrap()),
            std::slice::from_ref(&a)
        );
        // Labels are searched too; `_` is a character, not a wildcard.
        assert_eq!(
            ids(store
                .list_executions(&query("prod", ExecutionSort::Created, true))
                .await
                .unwrap()),
            std::slice::from_ref(&a)
        );
        assert!(
            store
                .list_executions(&query("load_x", ExecutionSort::Created, true))
                .await
                .unwrap()
                .results
                .is_empty()
        );
        let by_flow = store
            .list_executions(&query("", ExecutionSort::Flow, false))
            .await
            .unwrap();
        assert_eq!(ids(by_flow), [b.clone(), a.clone(), c.clone()]);
        let by_state = store
            .list_executions(&query("", ExecutionSort::State, true))
            .await
            .unwrap();
        assert_eq!(by_state.results[0].id, b, "RUNNING sorts after CREATED");
        let _ = store
            .list_executions(&query("", ExecutionSort::Duration, true))
            .await
            .unwrap();

        let by_namespace = ExecutionQuery {
            filter: ExecutionFilter {
                namespace: Some("company".into()),
                ..Default::default()
            },
            page: 1,
            size: 10,
            ..Default::default()
        };
        assert_eq!(
            ids(store.list_executions(&by_namespace).await.unwrap()),
            [a.clone(), c.clone()],
            "children, oldest first"
        );
        let page = ExecutionQuery {
            page: 2,
            size: 2,
            descending: true,
            ..Default::default()
        };
        let second = store.list_executions(&page).await.unwrap();
        assert_eq!(second.total, 3);
        assert_eq!(second.results.len(), 1);
    }

    #[tokio::test]
    async fn counts_last_executions_and_failures() {
        let store = Store::scratch().await.unwrap();
        for (ns, id) in [("tutorial", "hello"), ("company", "never_run")] {
            let source = format!("id: {id}\nnamespace: {ns}\ntasks: []\n");
            let flow = FlowSource {
                namespace: Namespace::new(ns),
                id: FlowId::new(id),
                description: None,
                source,
            };
            store.save_flow(&flow).await.unwrap();
        }
        let first = seed(&store, "tutorial", "hello", &[]).await;
        store.execution_event(&first, Event::Fail).await.unwrap();
        let second = seed(&store, "tutorial", "hello", &[]).await;

        let last = store.last_executions().await.unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].id, second);

        let failures = store.recent_executions(&[State::Failed], 10).await.unwrap();
        assert_eq!(
            failures.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            [first]
        );

        let counts = store.state_counts(0, i64::MAX, 86_400_000).await.unwrap();
        let total: i64 = counts.iter().map(|c| c.count).sum();
        assert_eq!(total, 2);
        assert!(
            counts
                .iter()
                .any(|c| c.state == State::Failed && c.count == 1)
        );
        assert!(
            counts
                .iter()
                .any(|c| c.state == State::Created && c.count == 1)
        );
    }
}
