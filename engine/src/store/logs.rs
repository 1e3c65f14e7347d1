//! Log lines, inserted in batches.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::ids::{ExecutionId, TaskId, TaskRunId};
use crate::log::Level;

/// A line to store. Its text must already be masked: the store writes what
/// it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLog {
    pub execution_id: ExecutionId,
    pub task_run_id: Option<TaskRunId>,
    pub task_id: Option<TaskId>,
    pub attempt: Option<u32>,
    pub level: Level,
    /// Unix milliseconds.
    pub at: i64,
    pub message: String,
}

/// A stored line; `id` orders the lines of an execution and is the SSE
/// event id of live logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub id: i64,
    pub execution_id: ExecutionId,
    pub task_run_id: Option<TaskRunId>,
    pub task_id: Option<TaskId>,
    pub attempt: Option<u32>,
    pub level: Level,
    pub at: i64,
    pub message: String,
}

type LogRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    i64,
    String,
);

impl Store {
    /// Inserts lines in one transaction and returns them with their ids.
    pub async fn insert_logs(&self, lines: Vec<NewLog>) -> Result<Vec<LogRecord>, StoreError> {
        use super::WritePool as _;
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let mut stored = Vec::with_capacity(lines.len());
            for line in lines {
                let id: i64 = sqlx::query_scalar(
                "INSERT INTO logs (execution_id, task_run_id, task_id, attempt, level, at, message)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(line.execution_id.as_str())
            .bind(line.task_run_id.as_ref().map(TaskRunId::as_str))
            .bind(line.task_id.as_ref().map(TaskId::as_str))
            .bind(line.attempt.map(i64::from))
            .bind(line.level.as_str())
            .bind(line.at)
            .bind(&line.message)
            .fetch_one(&mut *tx)
            .await?;
                stored.push(LogRecord {
                    id,
                    execution_id: line.execution_id,
                    task_run_id: line.task_run_id,
                    task_id: line.task_id,
                    attempt: line.attempt,
                    level: line.level,
                    at: line.at,
                    message: line.message,
                });
            }
            tx.commit().await?;
            Ok(stored)
        })
    }

    /// An execution's lines at `min_level` or above with an id after
    /// `after_id`, oldest first, at most `limit`.
    pub async fn logs(
        &self,
        execution_id: &ExecutionId,
        min_level: Level,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<LogRecord>, StoreError> {
        self.find_logs(
            execution_id,
            &LogQuery {
                min_level,
                after_id,
                limit,
                ..LogQuery::default()
            },
        )
        .await
    }

    /// An execution's lines that match `query`, oldest first.
    pub async fn find_logs(
        &self,
        execution_id: &ExecutionId,
        query: &LogQuery,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let levels: Vec<&str> = Level::ALL
            .into_iter()
            .filter(|l| *l >= query.min_level)
            .map(Level::as_str)
            .collect();
        let placeholders = vec!["?"; levels.len()].join(", ");
        let mut sql = format!(
            "SELECT id, execution_id, task_run_id, task_id, attempt, level, at, message FROM logs
             WHERE execution_id = ? AND id > ? AND level IN ({placeholders})"
        );
        for (column, set) in [
            ("task_id", query.task_id.is_some()),
            ("task_run_id", query.task_run_id.is_some()),
            ("attempt", query.attempt.is_some()),
        ] {
            if set {
                sql.push_str(&format!(" AND {column} = ?"));
            }
        }
        sql.push_str(" ORDER BY id LIMIT ? OFFSET ?");
        let sql = super::numbered(&sql);
        let rows = with_pool!(&self.pool, |pool, d| {
            // Only placeholders and fixed column names are formatted in; every
            // value is bound.
            let mut statement = sqlx::query_as::<_, LogRow>(sqlx::AssertSqlSafe(sql))
                .bind(execution_id.as_str())
                .bind(query.after_id);
            for level in &levels {
                statement = statement.bind(*level);
            }
            if let Some(task_id) = &query.task_id {
                statement = statement.bind(task_id.as_str());
            }
            if let Some(task_run_id) = &query.task_run_id {
                statement = statement.bind(task_run_id.as_str());
            }
            if let Some(attempt) = query.attempt {
                statement = statement.bind(i64::from(attempt));
            }
            statement
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(
                |(id, execution_id, task_run_id, task_id, attempt, level, at, message)| {
                    Ok(LogRecord {
                        id,
                        execution_id: ExecutionId::new(execution_id),
                        task_run_id: task_run_id.map(TaskRunId::new),
                        task_id: task_id.map(TaskId::new),
                        attempt: attempt.and_then(|a| u32::try_from(a).ok()),
                        level: Level::parse(&level).ok_or_else(|| {
                            StoreError::Corrupt(format!("unknown log level {level:?}"))
                        })?,
                        at,
                        message,
                    })
                },
            )
            .collect()
    }
}

/// Which of an execution's lines to read: Kestra's filters (`minLevel`,
/// `taskId`, `taskRunId`, `attempt`), then a position (`after_id`, for
/// following) or a page (`offset`, for `page` and `size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub min_level: Level,
    pub task_id: Option<TaskId>,
    pub task_run_id: Option<TaskRunId>,
    pub attempt: Option<u32>,
    pub after_id: i64,
    pub limit: i64,
    pub offset: i64,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            min_level: Level::Trace,
            task_id: None,
            task_run_id: None,
            attempt: None,
            after_id: 0,
            limit: i64::MAX,
            offset: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(execution: &str, level: Level, message: &str) -> NewLog {
        NewLog {
            execution_id: ExecutionId::new(execution),
            task_run_id: None,
            task_id: Some(TaskId::new("t")),
            attempt: Some(1),
            level,
            at: 1,
            message: message.to_owned(),
        }
    }

    #[tokio::test]
    async fn lines_come_back_in_order_filtered_by_level_and_position() {
        let store = Store::scratch().await.unwrap();
        let stored = store
            .insert_logs(vec![
                line("e1", Level::Debug, "one"),
                line("e1", Level::Info, "two"),
                line("e2", Level::Error, "other execution"),
                line("e1", Level::Error, "three"),
            ])
            .await
            .unwrap();
        assert!(stored.windows(2).all(|w| w[0].id < w[1].id));
        let messages =
            |records: Vec<LogRecord>| records.into_iter().map(|r| r.message).collect::<Vec<_>>();
        let e1 = ExecutionId::new("e1");
        assert_eq!(
            messages(store.logs(&e1, Level::Trace, 0, 100).await.unwrap()),
            ["one", "two", "three"]
        );
        assert_eq!(
            messages(store.logs(&e1, Level::Info, 0, 100).await.unwrap()),
            ["two", "three"]
        );
        assert_eq!(
            messages(
                store
                    .logs(&e1, Level::Trace, stored[1].id, 100)
                    .await
                    .unwrap()
            ),
            ["three"]
        );
        assert_eq!(
            messages(store.logs(&e1, Level::Trace, 0, 1).await.unwrap()),
            ["one"]
        );
    }

    #[tokio::test]
    async fn lines_filter_by_task_run_and_attempt_and_page() {
        let store = Store::scratch().await.unwrap();
        let mut other = line("e1", Level::Info, "other task");
        other.task_id = Some(TaskId::new("u"));
        other.task_run_id = Some(TaskRunId::new("r2"));
        let mut second = line("e1", Level::Info, "second attempt");
        second.attempt = Some(2);
        store
            .insert_logs(vec![
                line("e1", Level::Info, "first"),
                other,
                second,
                line("e1", Level::Warn, "last"),
            ])
            .await
            .unwrap();
        let e1 = ExecutionId::new("e1");
        let find = |query: LogQuery| {
            let store = store.clone();
            let e1 = e1.clone();
            async move {
                store
                    .find_logs(&e1, &query)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.message)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            find(LogQuery {
                task_id: Some(TaskId::new("t")),
                ..LogQuery::default()
            })
            .await,
            ["first", "second attempt", "last"]
        );
        assert_eq!(
            find(LogQuery {
                task_run_id: Some(TaskRunId::new("r2")),
                ..LogQuery::default()
            })
            .await,
            ["other task"]
        );
        assert_eq!(
            find(LogQuery {
                attempt: Some(2),
                ..LogQuery::default()
            })
            .await,
            ["second attempt"]
        );
        assert_eq!(
            find(LogQuery {
                limit: 2,
                offset: 2,
                ..LogQuery::default()
            })
            .await,
            ["second attempt", "last"]
        );
        assert_eq!(
            find(LogQuery {
                limit: 2,
                offset: 4,
                ..LogQuery::default()
            })
            .await,
            Vec::<String>::new()
        );
    }
}

/// What a search condition on log lines reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogField {
    /// Text in the message (Kestra's `q`).
    Query,
    Namespace,
    FlowId,
    ExecutionId,
    /// When the line was written (Kestra's `startDate` and `endDate`).
    Timestamp,
    /// The lowest level (Kestra's `level`, a text operand such as `WARN`):
    /// EQUALS is this level or above, NOT_EQUALS below it.
    MinLevel,
}

/// A search of every execution's lines: Kestra's conditions, all of
/// which must hold, and the namespaces the reader may see.
#[derive(Debug, Clone, Default)]
pub struct LogSearch {
    pub conditions: Vec<super::query::Condition<LogField>>,
    /// `None`: every namespace (see `auth::Principal::scopes`).
    pub scopes: Option<Vec<String>>,
}

/// A line found by a search, with its execution's namespace and flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLog {
    pub log: LogRecord,
    pub namespace: String,
    pub flow_id: String,
}

type FoundRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    i64,
    String,
    String,
    String,
);

impl Store {
    /// One page (from 1) of the lines of every execution that match
    /// `search`, newest first, and how many match.
    pub async fn search_logs(
        &self,
        search: &LogSearch,
        page: i64,
        size: i64,
    ) -> Result<(Vec<FoundLog>, i64), StoreError> {
        use super::history::{Bind, bind_all};
        use super::query::{Op, Operand, sql};
        let size = size.clamp(1, 10_000);
        let offset = (page.max(1) - 1).saturating_mul(size);
        with_pool!(&self.pool, |pool, d| {
            let mut conditions = Vec::new();
            let mut binds = Vec::new();
            for condition in &search.conditions {
                let column = match condition.field {
                    LogField::Query => "l.message",
                    LogField::Namespace => "e.namespace",
                    LogField::FlowId => "e.flow_id",
                    LogField::ExecutionId => "l.execution_id",
                    LogField::Timestamp => "l.at",
                    LogField::MinLevel => {
                        let Operand::Text(text) = &condition.operand else {
                            continue;
                        };
                        let min = Level::parse(text).unwrap_or(Level::Trace);
                        let levels: Vec<&str> = Level::ALL
                            .into_iter()
                            .filter(|l| (*l >= min) == (condition.op != Op::NotEquals))
                            .map(Level::as_str)
                            .collect();
                        conditions.push(sql(
                            "l.level",
                            Op::In,
                            &Operand::Text(levels.join(",")),
                            d,
                            &mut binds,
                        ));
                        continue;
                    }
                };
                let op = if condition.field == LogField::Query && condition.op == Op::Equals {
                    Op::Contains
                } else {
                    condition.op
                };
                conditions.push(sql(column, op, &condition.operand, d, &mut binds));
            }
            if let Some(scopes) = &search.scopes {
                let mut any = vec!["1 = 0".to_owned()];
                for scope in scopes {
                    any.push(sql("e.namespace", Op::Prefix, &Operand::Text(scope.clone()), d, &mut binds));
                }
                conditions.push(format!("({})", any.join(" OR ")));
            }
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            let from = "FROM logs l JOIN executions e ON e.id = l.execution_id";
            // Only fixed fragments and placeholders are formatted in; every value is bound.
            let count_sql = super::numbered(&format!("SELECT COUNT(*) {from} {filter_sql}"));
            let total = bind_all!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)), &binds)
                .fetch_one(pool)
                .await?;
            let rows_sql = super::numbered(&format!(
                "SELECT l.id, l.execution_id, l.task_run_id, l.task_id, l.attempt, l.level, l.at, l.message, e.namespace, e.flow_id
                 {from} {filter_sql} ORDER BY l.at DESC, l.id DESC LIMIT ? OFFSET ?"
            ));
            let rows: Vec<FoundRow> =
                bind_all!(sqlx::query_as::<_, FoundRow>(sqlx::AssertSqlSafe(rows_sql)), &binds)
                    .bind(size)
                    .bind(offset)
                    .fetch_all(pool)
                    .await?;
            let found = rows
                .into_iter()
                .map(|(id, execution_id, task_run_id, task_id, attempt, level, at, message, namespace, flow_id)| {
                    Ok(FoundLog {
                        log: LogRecord {
                            id,
                            execution_id: ExecutionId::new(execution_id),
                            task_run_id: task_run_id.map(TaskRunId::new),
                            task_id: task_id.map(TaskId::new),
                            attempt: attempt.and_then(|a| u32::try_from(a).ok()),
                            level: Level::parse(&level).ok_or_else(|| {
                                StoreError::Corrupt(format!("unknown log level {level:?}"))
                            })?,
                            at,
                            message,
                        },
                        namespace,
                        flow_id,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((found, total))
        })
    }

    /// Deletes an execution's lines (Kestra's `DELETE /logs/{executionId}`)
    /// at `min_level` or above, of one task, task run or attempt if given;
    /// how many were deleted.
    pub async fn delete_logs(&self, execution_id: &ExecutionId, query: &LogQuery) -> Result<u64, StoreError> {
        let levels: Vec<&str> = Level::ALL
            .into_iter()
            .filter(|l| *l >= query.min_level)
            .map(Level::as_str)
            .collect();
        let mut sql = format!(
            "DELETE FROM logs WHERE execution_id = ? AND level IN ({})",
            vec!["?"; levels.len()].join(", ")
        );
        for (column, set) in [
            ("task_id", query.task_id.is_some()),
            ("task_run_id", query.task_run_id.is_some()),
            ("attempt", query.attempt.is_some()),
        ] {
            if set {
                sql.push_str(&format!(" AND {column} = ?"));
            }
        }
        let sql = super::numbered(&sql);
        let done = with_pool!(&self.pool, |pool, d| {
            // Only placeholders and fixed column names are formatted in.
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(execution_id.as_str());
            for level in &levels {
                statement = statement.bind(*level);
            }
            if let Some(task_id) = &query.task_id {
                statement = statement.bind(task_id.as_str());
            }
            if let Some(task_run_id) = &query.task_run_id {
                statement = statement.bind(task_run_id.as_str());
            }
            if let Some(attempt) = query.attempt {
                statement = statement.bind(i64::from(attempt));
            }
            statement.execute(pool).await?.rows_affected()
        });
        Ok(done)
    }
}
