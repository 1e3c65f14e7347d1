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

type LogRow = (i64, String, Option<String>, Option<String>, Option<i64>, String, i64, String);

impl Store {
    /// Inserts lines in one transaction and returns them with their ids.
    pub async fn insert_logs(&self, lines: Vec<NewLog>) -> Result<Vec<LogRecord>, StoreError> {
        let mut tx = self.write().await?;
        let mut stored = Vec::with_capacity(lines.len());
        for line in lines {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO logs (execution_id, task_run_id, task_id, attempt, level, at, message)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        let levels: Vec<&str> = Level::ALL.into_iter().filter(|l| *l >= min_level).map(Level::as_str).collect();
        let placeholders = vec!["?"; levels.len()].join(", ");
        let sql = format!(
            "SELECT id, execution_id, task_run_id, task_id, attempt, level, at, message FROM logs
             WHERE execution_id = ? AND id > ? AND level IN ({placeholders}) ORDER BY id LIMIT ?"
        );
        // Only placeholders are formatted in; every value is bound.
        let mut query = sqlx::query_as::<_, LogRow>(sqlx::AssertSqlSafe(sql)).bind(execution_id.as_str()).bind(after_id);
        for level in levels {
            query = query.bind(level);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(id, execution_id, task_run_id, task_id, attempt, level, at, message)| {
                Ok(LogRecord {
                    id,
                    execution_id: ExecutionId::new(execution_id),
                    task_run_id: task_run_id.map(TaskRunId::new),
                    task_id: task_id.map(TaskId::new),
                    attempt: attempt.and_then(|a| u32::try_from(a).ok()),
                    level: Level::parse(&level)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown log level {level:?}")))?,
                    at,
                    message,
                })
            })
            .collect()
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
        let store = Store::in_memory().await.unwrap();
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
        let messages = |records: Vec<LogRecord>| records.into_iter().map(|r| r.message).collect::<Vec<_>>();
        let e1 = ExecutionId::new("e1");
        assert_eq!(messages(store.logs(&e1, Level::Trace, 0, 100).await.unwrap()), ["one", "two", "three"]);
        assert_eq!(messages(store.logs(&e1, Level::Info, 0, 100).await.unwrap()), ["two", "three"]);
        assert_eq!(messages(store.logs(&e1, Level::Trace, stored[1].id, 100).await.unwrap()), ["three"]);
        assert_eq!(messages(store.logs(&e1, Level::Trace, 0, 1).await.unwrap()), ["one"]);
    }
}
