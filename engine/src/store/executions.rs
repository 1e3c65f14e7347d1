//! Executions and task runs. Every transition is one transaction that reads
//! the current state, asks `State::on` for the next one, and writes it with
//! its history entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AssertSqlSafe;

use super::WritePool as _;

use super::{Store, StoreError, now_ms};
use crate::ids::{ExecutionId, FlowId, Namespace, TaskId, TaskRunId};
use crate::state::{Event, State};

/// Writes `next` over a task run that still holds `known` (on an executor
/// of either backend); false when it no longer does.
macro_rules! write_version {
    ($executor:expr, $id:expr, $known:expr, $next:expr, $outputs:expr) => {
        sqlx::query(
            "UPDATE task_runs SET state = $1, attempts = $2, histories = $3, ended_at = $4, outputs = COALESCE($5, outputs)
             WHERE id = $6 AND state = $7 AND attempts = $8 AND histories = $9",
        )
        .bind($next.state.as_str())
        .bind(&$next.attempts)
        .bind(&$next.histories)
        .bind($next.ended_at)
        .bind($outputs.map(to_json))
        .bind($id.as_str())
        .bind($known.state.as_str())
        .bind(&$known.attempts)
        .bind(&$known.histories)
        .execute($executor)
        .await
        .map(|done| done.rows_affected() == 1)
    };
}

/// Inserts a new task run, CREATED, in a transaction of either backend.
macro_rules! insert_task_run {
    ($tx:expr, $d:expr, $run:expr, $now:expr, $owner:expr) => {{
        let run: &NewTaskRun = $run;
        let histories = vec![StateChange {
            state: State::Created,
            date: $now,
        }];
        sqlx::query(AssertSqlSafe(guarded_insert(
            $d,
            "(id, execution_id, task_id, parent_task_run_id, value, state, histories, created_at)",
            8,
        )))
        .bind(run.id.as_str())
        .bind(run.execution_id.as_str())
        .bind(run.task_id.as_str())
        .bind(run.parent_task_run_id.as_ref().map(TaskRunId::as_str))
        .bind(&run.value)
        .bind(State::Created.as_str())
        .bind(to_json(&histories))
        .bind($now)
        .bind($owner)
        .execute(&mut *$tx)
        .await
    }};
}

/// `INSERT INTO task_runs <columns>` of `count` values ($1…), the second
/// being the execution's id, done only while the node named by the next
/// parameter owns the execution (a NULL there: whoever). On PostgreSQL the
/// execution's row is share-locked for the insert: a claim by another node
/// waits for it, or it waits for the claim and then inserts nothing.
/// Either way a node that lost an execution creates no task run in it.
fn guarded_insert(d: super::Dialect, columns: &str, count: usize) -> String {
    let values: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
    let lock = match d {
        super::Dialect::Sqlite => "",
        super::Dialect::Postgres => " FOR SHARE",
    };
    let owner = count + 1;
    format!(
        "INSERT INTO task_runs {columns} SELECT {}
         WHERE ${owner} IS NULL OR EXISTS (SELECT 1 FROM executions WHERE id = $2 AND owner = ${owner}{lock})",
        values.join(", ")
    )
}

/// What inserting a task run came to: stored, or not because its
/// execution has another owner now or another walk made the run for the
/// same place (task, parent, value) first.
fn task_run_inserted(id: &ExecutionId, result: Result<u64, sqlx::Error>) -> Result<(), StoreError> {
    match result {
        Ok(1) => Ok(()),
        Ok(_) => Err(StoreError::Lost(id.to_string())),
        Err(error)
            if error
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()) =>
        {
            Err(StoreError::Lost(id.to_string()))
        }
        Err(error) => Err(StoreError::Database(error)),
    }
}

/// The states of an execution that holds a slot of its flow's
/// concurrency limit: started and not ended.
const STARTED: &str = "('RUNNING', 'KILLING', 'PAUSED', 'RETRYING')";

/// What [`Store::start_within_limit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The execution is RUNNING now.
    Started,
    /// The flow's limit is reached: it stays CREATED (queued).
    Full,
    /// It is not CREATED any more (killed while queued, or started).
    Gone(State),
}

/// One entry of a state history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: State,
    /// Unix milliseconds.
    pub date: i64,
}

/// One attempt of a task run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub state: State,
    pub start: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: ExecutionId,
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub flow_revision: i64,
    pub inputs: Value,
    pub labels: BTreeMap<String, String>,
    pub trigger_vars: Option<Value>,
    pub original_id: Option<ExecutionId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    pub id: ExecutionId,
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub flow_revision: i64,
    pub state: State,
    pub inputs: Value,
    pub labels: BTreeMap<String, String>,
    pub trigger_vars: Option<Value>,
    pub outputs: Value,
    pub histories: Vec<StateChange>,
    pub original_id: Option<ExecutionId>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewTaskRun {
    pub id: TaskRunId,
    pub execution_id: ExecutionId,
    pub task_id: TaskId,
    pub parent_task_run_id: Option<TaskRunId>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunRecord {
    pub id: TaskRunId,
    pub execution_id: ExecutionId,
    pub task_id: TaskId,
    pub parent_task_run_id: Option<TaskRunId>,
    pub value: Option<String>,
    pub state: State,
    pub attempts: Vec<Attempt>,
    pub outputs: Option<Value>,
    pub checkpoint: Option<Value>,
    pub histories: Vec<StateChange>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

type ExecutionRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// What [`Store::add_execution_labels`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelsOutcome {
    Set,
    NotFound,
    /// Labels are set once an execution has ended; it is in this state.
    NotEnded(State),
}

const EXECUTION_COLUMNS: &str = "id, namespace, flow_id, flow_revision, state, inputs, labels, trigger_vars, outputs, histories, original_id, created_at, ended_at";

type TaskRunRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

const TASK_RUN_COLUMNS: &str = "id, execution_id, task_id, parent_task_run_id, value, state, attempts, outputs, checkpoint, histories, created_at, ended_at";

impl Store {
    /// Stores a new execution in CREATED, with the task runs to start with,
    /// in one transaction.
    pub async fn create_execution(
        &self,
        new: &NewExecution,
        first_task_runs: &[NewTaskRun],
    ) -> Result<ExecutionRecord, StoreError> {
        self.insert_execution(new, first_task_runs, false, None, None)
            .await
    }

    /// Stores a new execution already RUNNING (its history has CREATED and
    /// RUNNING), saving the executor a transaction per execution.
    pub async fn create_started_execution(
        &self,
        new: &NewExecution,
    ) -> Result<ExecutionRecord, StoreError> {
        self.insert_execution(new, &[], true, None, None).await
    }

    /// Stores a new execution, RUNNING if `started` (else CREATED), with the
    /// real values of its SECRET inputs (`new.inputs` has them masked) kept
    /// apart for [`Store::execution_secrets`], all in one transaction.
    pub async fn create_execution_with_secrets(
        &self,
        new: &NewExecution,
        started: bool,
        secrets: &serde_json::Map<String, Value>,
    ) -> Result<ExecutionRecord, StoreError> {
        self.insert_execution(
            new,
            &[],
            started,
            Some(secrets).filter(|s| !s.is_empty()),
            None,
        )
        .await
    }

    /// As [`Store::create_execution_with_secrets`], owned by node `owner`
    /// from the start (the node that creates it runs it), or by nobody
    /// (an executor node claims it). An id that exists already is
    /// [`StoreError::Duplicate`]: derived ids (a schedule's tick) make
    /// that insert the guard against firing twice.
    pub async fn create_owned_execution(
        &self,
        new: &NewExecution,
        started: bool,
        secrets: &serde_json::Map<String, Value>,
        owner: Option<&str>,
    ) -> Result<ExecutionRecord, StoreError> {
        self.insert_execution(
            new,
            &[],
            started,
            Some(secrets).filter(|s| !s.is_empty()),
            owner,
        )
        .await
    }

    /// The real values of an execution's SECRET inputs (empty if it has
    /// none). Only the executor reads them; no API returns them.
    pub async fn execution_secrets(
        &self,
        id: &ExecutionId,
    ) -> Result<serde_json::Map<String, Value>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> = with_pool!(&self.pool, |pool, d| sqlx::query_as(
            "SELECT sealed FROM execution_secrets WHERE execution_id = $1"
        )
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?;
        match row {
            Some((Some(sealed),)) => self.open_execution_secrets(id, &sealed),
            // Rows in clear are sealed when the store opens.
            Some((None,)) => Err(StoreError::Corrupt(format!(
                "the SECRET inputs of execution {id} are not sealed"
            ))),
            None => Ok(Default::default()),
        }
    }

    async fn insert_execution(
        &self,
        new: &NewExecution,
        first_task_runs: &[NewTaskRun],
        started: bool,
        secrets: Option<&serde_json::Map<String, Value>>,
        owner: Option<&str>,
    ) -> Result<ExecutionRecord, StoreError> {
        let now = now_ms();
        let mut histories = vec![StateChange {
            state: State::Created,
            date: now,
        }];
        if started {
            histories.push(StateChange {
                state: State::Running,
                date: now,
            });
        }
        let state = if started {
            State::Running
        } else {
            State::Created
        };
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            sqlx::query(
            "INSERT INTO executions (id, namespace, flow_id, flow_revision, state, inputs, labels, trigger_vars, histories, original_id, created_at, owner)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new.id.as_str())
        .bind(new.namespace.as_str())
        .bind(new.flow_id.as_str())
        .bind(new.flow_revision)
        .bind(state.as_str())
        .bind(to_json(&new.inputs))
        .bind(to_json(&new.labels))
        .bind(new.trigger_vars.as_ref().map(to_json))
        .bind(to_json(&histories))
        .bind(new.original_id.as_ref().map(ExecutionId::as_str))
        .bind(now)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(|error| match error.as_database_error().is_some_and(|e| e.is_unique_violation()) {
            true => StoreError::Duplicate(format!("execution {}", new.id)),
            false => StoreError::Database(error),
        })?;
            if let Some(secrets) = secrets {
                // Sealed with the store's key: the database never holds them in clear.
                sqlx::query("INSERT INTO execution_secrets (execution_id, inputs, sealed) VALUES ($1, '', $2)")
                .bind(new.id.as_str())
                .bind(self.seal_execution_secrets(&new.id, secrets))
                .execute(&mut *tx)
                .await?;
            }
            for run in first_task_runs {
                task_run_inserted(
                    &run.execution_id,
                    insert_task_run!(tx, d, run, now, owner).map(|done| done.rows_affected()),
                )?;
            }
            tx.commit().await?;
            Ok(ExecutionRecord {
                id: new.id.clone(),
                namespace: new.namespace.clone(),
                flow_id: new.flow_id.clone(),
                flow_revision: new.flow_revision,
                state,
                inputs: new.inputs.clone(),
                labels: new.labels.clone(),
                trigger_vars: new.trigger_vars.clone(),
                outputs: Value::Object(Default::default()),
                histories,
                original_id: new.original_id.clone(),
                created_at: now,
                ended_at: None,
            })
        })
    }

    pub async fn get_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let row: Option<ExecutionRow> =
            // Built from constants only.
            with_pool!(&self.pool, |pool, d| sqlx::query_as(AssertSqlSafe(format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1")))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await)?;
        row.map(execution_from_row).transpose()
    }

    /// Adds labels to an execution (a key already there takes the new
    /// value): one that has ended, as Kestra's "set labels" on a terminated
    /// execution, or a running one too when `running` (the execution.Labels
    /// task); checked and written in one transaction.
    pub async fn add_execution_labels(
        &self,
        id: &ExecutionId,
        labels: &BTreeMap<String, String>,
        running: bool,
    ) -> Result<LabelsOutcome, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let row: Option<(String, String)> = sqlx::query_as(locked!(
                d,
                "SELECT state, labels FROM executions WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((state, current)) = row else {
                return Ok(LabelsOutcome::NotFound);
            };
            let state = State::parse(&state).ok_or_else(|| {
                StoreError::Corrupt(format!("execution {id} has the state {state:?}"))
            })?;
            if !state.is_terminal() && !running {
                return Ok(LabelsOutcome::NotEnded(state));
            }
            let mut merged: BTreeMap<String, String> = from_json(&current)?;
            merged.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            sqlx::query("UPDATE executions SET labels = $1 WHERE id = $2")
                .bind(to_json(&merged))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(LabelsOutcome::Set)
        })
    }

    /// Applies `event` to an execution; returns the new state.
    pub async fn execution_event(
        &self,
        id: &ExecutionId,
        event: Event,
    ) -> Result<State, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let row: Option<(String, String)> = sqlx::query_as(locked!(
                d,
                "SELECT state, histories FROM executions WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (state, histories) =
                row.ok_or_else(|| StoreError::NotFound(format!("execution {id}")))?;
            let state = parse_state(&state)?;
            let next = state.on(event)?;
            let now = now_ms();
            let mut histories: Vec<StateChange> = from_json(&histories)?;
            if next != state {
                histories.push(StateChange {
                    state: next,
                    date: now,
                });
            }
            let ended_at = next.is_terminal().then_some(now);
            sqlx::query(
                "UPDATE executions SET state = $1, histories = $2, ended_at = $3 WHERE id = $4",
            )
            .bind(next.as_str())
            .bind(to_json(&histories))
            .bind(ended_at)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(next)
        })
    }

    /// Starts a CREATED execution of a flow with a concurrency limit if
    /// fewer than `limit` of the flow's executions are started and not
    /// ended, counted across every node: one transaction, serialised per
    /// flow (an advisory lock on PostgreSQL, the write lock on SQLite), so
    /// two nodes never both take the last slot.
    pub async fn start_within_limit(
        &self,
        id: &ExecutionId,
        limit: u64,
    ) -> Result<Slot, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let row: Option<(String, String, String, String)> = sqlx::query_as(locked!(
                d,
                "SELECT state, histories, namespace, flow_id FROM executions WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (state, histories, namespace, flow) =
                row.ok_or_else(|| StoreError::NotFound(format!("execution {id}")))?;
            let state = parse_state(&state)?;
            if state != State::Created {
                return Ok(Slot::Gone(state));
            }
            if matches!(d, super::Dialect::Postgres) {
                sqlx::query("SELECT pg_advisory_xact_lock(1296388980, hashtext($1 || ' ' || $2))")
                    .bind(&namespace)
                    .bind(&flow)
                    .execute(&mut *tx)
                    .await?;
            }
            let started: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM executions WHERE namespace = $1 AND flow_id = $2 AND state IN {STARTED}"
        )))
        .bind(&namespace)
        .bind(&flow)
        .fetch_one(&mut *tx)
        .await?;
            if u64::try_from(started).unwrap_or(0) >= limit {
                return Ok(Slot::Full);
            }
            let now = now_ms();
            let mut histories: Vec<StateChange> = from_json(&histories)?;
            histories.push(StateChange {
                state: State::Running,
                date: now,
            });
            sqlx::query("UPDATE executions SET state = $1, histories = $2 WHERE id = $3")
                .bind(State::Running.as_str())
                .bind(to_json(&histories))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Slot::Started)
        })
    }

    /// Ends an execution with `event`, unless a kill came in the meantime:
    /// then it ends KILLED. One transaction.
    pub async fn end_execution(&self, id: &ExecutionId, event: Event) -> Result<State, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let row: Option<(String, String)> = sqlx::query_as(locked!(
                d,
                "SELECT state, histories FROM executions WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (state, histories) =
                row.ok_or_else(|| StoreError::NotFound(format!("execution {id}")))?;
            let state = parse_state(&state)?;
            let event = if state == State::Killing {
                Event::Stopped
            } else {
                event
            };
            let next = state.on(event)?;
            let now = now_ms();
            let mut histories: Vec<StateChange> = from_json(&histories)?;
            histories.push(StateChange {
                state: next,
                date: now,
            });
            sqlx::query(
                "UPDATE executions SET state = $1, histories = $2, ended_at = $3 WHERE id = $4",
            )
            .bind(next.as_str())
            .bind(to_json(&histories))
            .bind(next.is_terminal().then_some(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(next)
        })
    }

    pub async fn set_execution_outputs(
        &self,
        id: &ExecutionId,
        outputs: &Value,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE executions SET outputs = $1 WHERE id = $2"
        )
        .bind(to_json(outputs))
        .bind(id.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Executions that were under way (CREATED, RUNNING, KILLING, RETRYING,
    /// PAUSED) when the process stopped: what recovery picks up.
    pub async fn unfinished_executions(&self) -> Result<Vec<ExecutionId>, StoreError> {
        let ids: Vec<String> = with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            AssertSqlSafe(format!(
                "SELECT id FROM executions WHERE state IN {} ORDER BY created_at",
                super::nodes::UNFINISHED
            ))
        )
        .fetch_all(pool)
        .await)?;
        Ok(ids.into_iter().map(ExecutionId::new).collect())
    }

    /// Stores new task runs (CREATED) in one transaction. With `owner`,
    /// only while that node owns their execution (else
    /// [`StoreError::Lost`], and none is stored).
    pub async fn create_task_runs(
        &self,
        runs: &[NewTaskRun],
        owner: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            for run in runs {
                task_run_inserted(
                    &run.execution_id,
                    insert_task_run!(tx, d, run, now, owner).map(|done| done.rows_affected()),
                )?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores a new task run already RUNNING in its first attempt, saving
    /// a transaction per task. With `owner`, only while that node owns the
    /// execution (else [`StoreError::Lost`]).
    pub async fn start_task_run(
        &self,
        run: &NewTaskRun,
        owner: Option<&str>,
    ) -> Result<TaskRunRecord, StoreError> {
        let now = now_ms();
        let histories = vec![
            StateChange {
                state: State::Created,
                date: now,
            },
            StateChange {
                state: State::Running,
                date: now,
            },
        ];
        let attempts = vec![Attempt {
            state: State::Running,
            start: now,
            end: None,
        }];
        let inserted = with_pool!(&self.pool, |pool, d| {
            sqlx::query(AssertSqlSafe(guarded_insert(
            d,
            "(id, execution_id, task_id, parent_task_run_id, value, state, attempts, histories, created_at)",
            9
        )))
        .bind(run.id.as_str())
        .bind(run.execution_id.as_str())
        .bind(run.task_id.as_str())
        .bind(run.parent_task_run_id.as_ref().map(TaskRunId::as_str))
        .bind(&run.value)
        .bind(State::Running.as_str())
        .bind(to_json(&attempts))
        .bind(to_json(&histories))
        .bind(now)
        .bind(owner)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        });
        task_run_inserted(&run.execution_id, inserted)?;
        Ok(TaskRunRecord {
            id: run.id.clone(),
            execution_id: run.execution_id.clone(),
            task_id: run.task_id.clone(),
            parent_task_run_id: run.parent_task_run_id.clone(),
            value: run.value.clone(),
            state: State::Running,
            attempts,
            outputs: None,
            checkpoint: None,
            histories,
            created_at: now,
            ended_at: None,
        })
    }

    /// Applies `event` to a task run, with its attempts: `Start` opens an
    /// attempt, an ending event closes the open one. `outputs`, when given,
    /// are stored with the transition.
    pub async fn task_run_event(
        &self,
        id: &TaskRunId,
        event: Event,
        outputs: Option<&Value>,
    ) -> Result<State, StoreError> {
        self.task_run_event_read(id, event, outputs)
            .await
            .map(|version| version.state)
    }

    /// As [`Store::task_run_event`] for a writer that knows the run's
    /// last version (it wrote it): one guarded UPDATE instead of a
    /// transaction that reads and writes, four round trips to SQLite's
    /// thread fewer per event. When the row has changed since (someone
    /// else wrote it), the event is applied on what the row holds now.
    pub async fn task_run_event_from(
        &self,
        id: &TaskRunId,
        known: &TaskRunVersion,
        event: Event,
        outputs: Option<&Value>,
    ) -> Result<TaskRunVersion, StoreError> {
        // An event illegal from the known state may be legal from the
        // row's: the read path decides.
        let Ok(next) = known.apply(event, now_ms()) else {
            return self.task_run_event_read(id, event, outputs).await;
        };
        if with_pool!(&self.pool, |pool, d| write_version!(
            pool, id, known, &next, outputs
        ))? {
            return Ok(next);
        }
        self.task_run_event_read(id, event, outputs).await
    }

    async fn task_run_event_read(
        &self,
        id: &TaskRunId,
        event: Event,
        outputs: Option<&Value>,
    ) -> Result<TaskRunVersion, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let row: Option<(String, String, String)> = sqlx::query_as(locked!(
                d,
                "SELECT state, attempts, histories FROM task_runs WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (state, attempts, histories) =
                row.ok_or_else(|| StoreError::NotFound(format!("task run {id}")))?;
            let known = TaskRunVersion {
                state: parse_state(&state)?,
                attempts,
                histories,
                ended_at: None,
            };
            let next = known.apply(event, now_ms())?;
            // The row was just read under the write lock: the guard holds.
            write_version!(&mut *tx, id, &known, &next, outputs)?;
            tx.commit().await?;
            Ok(next)
        })
    }

    /// Records what a task needs to re-attach to its remote work after a
    /// restart. Written the moment the task has it.
    pub async fn set_checkpoint(
        &self,
        id: &TaskRunId,
        checkpoint: &Value,
    ) -> Result<(), StoreError> {
        let done = with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE task_runs SET checkpoint = $1 WHERE id = $2"
        )
        .bind(to_json(checkpoint))
        .bind(id.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("task run {id}")));
        }
        Ok(())
    }

    /// Deletes task runs (a restart clears the `errors` and `finally`
    /// branches so they run again on the new outcome). One transaction.
    pub async fn delete_task_runs(&self, ids: &[TaskRunId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            for id in ids {
                sqlx::query("DELETE FROM task_runs WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Inserts task runs as they are (state, attempts, outputs): a replay
    /// starts with the original's finished runs. One transaction.
    pub async fn copy_task_runs(&self, runs: &[TaskRunRecord]) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            for run in runs {
                sqlx::query(
                "INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, value, state, attempts, outputs, checkpoint, histories, created_at, ended_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(run.id.as_str())
            .bind(run.execution_id.as_str())
            .bind(run.task_id.as_str())
            .bind(run.parent_task_run_id.as_ref().map(TaskRunId::as_str))
            .bind(&run.value)
            .bind(run.state.as_str())
            .bind(to_json(&run.attempts))
            .bind(run.outputs.as_ref().map(to_json))
            .bind(run.checkpoint.as_ref().map(to_json))
            .bind(to_json(&run.histories))
            .bind(run.created_at)
            .bind(run.ended_at)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// One task run.
    pub async fn get_task_run(&self, id: &TaskRunId) -> Result<Option<TaskRunRecord>, StoreError> {
        // Built from constants only.
        let row: Option<TaskRunRow> =
            with_pool!(&self.pool, |pool, d| sqlx::query_as(AssertSqlSafe(
                format!("SELECT {TASK_RUN_COLUMNS} FROM task_runs WHERE id = $1")
            ))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(task_run_from_row).transpose()
    }

    /// Every task run of an execution, in creation order.
    /// At most `limit` task runs of an execution from the `offset`th, in
    /// the order [`Store::task_runs`] gives them all.
    pub async fn task_runs_page(
        &self,
        execution_id: &ExecutionId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<TaskRunRecord>, StoreError> {
        // Built from constants only.
        let rows: Vec<TaskRunRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TASK_RUN_COLUMNS} FROM task_runs WHERE execution_id = $1 ORDER BY created_at, {} LIMIT $2 OFFSET $3",
            d.insertion_order()
        )))
        .bind(execution_id.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
        })?;
        rows.into_iter().map(task_run_from_row).collect()
    }

    /// How many task runs an execution has, and a digest that changes
    /// whenever one is added or changes state, attempts, outputs or
    /// checkpoint: a page that shows them asks for them again only then.
    pub async fn task_run_digest(
        &self,
        execution_id: &ExecutionId,
    ) -> Result<(i64, String), StoreError> {
        let (count, ended, histories, checkpoints, outputs): (i64, i64, i64, i64, i64) =
            with_pool!(&self.pool, |pool, d| sqlx::query_as(
                "SELECT count(*), coalesce(max(ended_at), 0), coalesce(sum(length(histories)), 0),
                    coalesce(sum(length(checkpoint)), 0), coalesce(sum(length(outputs)), 0)
             FROM task_runs WHERE execution_id = $1",
            )
            .bind(execution_id.as_str())
            .fetch_one(pool)
            .await)?;
        Ok((
            count,
            format!("{count}.{ended}.{histories}.{checkpoints}.{outputs}"),
        ))
    }

    /// Each task's id and the state of its latest run, in the order the
    /// tasks first ran.
    pub async fn task_states(
        &self,
        execution_id: &ExecutionId,
    ) -> Result<Vec<(TaskId, State)>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(AssertSqlSafe(format!("SELECT task_id, state FROM task_runs WHERE execution_id = $1 ORDER BY created_at, {}", d.insertion_order())))
                .bind(execution_id.as_str())
                .fetch_all(pool)
                .await
        })?;
        let mut order: Vec<TaskId> = Vec::new();
        let mut latest: std::collections::HashMap<String, State> = std::collections::HashMap::new();
        for (task, state) in rows {
            let state = parse_state(&state)?;
            if latest.insert(task.clone(), state).is_none() {
                order.push(TaskId::new(task));
            }
        }
        Ok(order
            .into_iter()
            .map(|task| {
                let state = latest[task.as_str()];
                (task, state)
            })
            .collect())
    }

    pub async fn task_runs(
        &self,
        execution_id: &ExecutionId,
    ) -> Result<Vec<TaskRunRecord>, StoreError> {
        // Built from constants only.
        let rows: Vec<TaskRunRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TASK_RUN_COLUMNS} FROM task_runs WHERE execution_id = $1 ORDER BY created_at, {}",
            d.insertion_order()
        )))
        .bind(execution_id.as_str())
        .fetch_all(pool)
        .await
        })?;
        rows.into_iter().map(task_run_from_row).collect()
    }
}

fn execution_from_row(row: ExecutionRow) -> Result<ExecutionRecord, StoreError> {
    let (
        id,
        namespace,
        flow_id,
        flow_revision,
        state,
        inputs,
        labels,
        trigger_vars,
        outputs,
        histories,
        original_id,
        created_at,
        ended_at,
    ) = row;
    Ok(ExecutionRecord {
        id: ExecutionId::new(id),
        namespace: Namespace::new(namespace),
        flow_id: FlowId::new(flow_id),
        flow_revision,
        state: parse_state(&state)?,
        inputs: from_json(&inputs)?,
        labels: from_json(&labels)?,
        trigger_vars: trigger_vars.as_deref().map(from_json).transpose()?,
        outputs: from_json(&outputs)?,
        histories: from_json(&histories)?,
        original_id: original_id.map(ExecutionId::new),
        created_at,
        ended_at,
    })
}

fn task_run_from_row(row: TaskRunRow) -> Result<TaskRunRecord, StoreError> {
    let (
        id,
        execution_id,
        task_id,
        parent,
        value,
        state,
        attempts,
        outputs,
        checkpoint,
        histories,
        created_at,
        ended_at,
    ) = row;
    Ok(TaskRunRecord {
        id: TaskRunId::new(id),
        execution_id: ExecutionId::new(execution_id),
        task_id: TaskId::new(task_id),
        parent_task_run_id: parent.map(TaskRunId::new),
        value,
        state: parse_state(&state)?,
        attempts: from_json(&attempts)?,
        outputs: outputs.as_deref().map(from_json).transpose()?,
        checkpoint: checkpoint.as_deref().map(from_json).transpose()?,
        histories: from_json(&histories)?,
        created_at,
        ended_at,
    })
}

fn parse_state(text: &str) -> Result<State, StoreError> {
    State::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown state {text:?}")))
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing our own plain types (maps, vectors, serde_json values)
    // cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("bad JSON in the database: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn new_execution() -> NewExecution {
        NewExecution {
            id: ExecutionId::generate(),
            namespace: Namespace::new("company.team"),
            flow_id: FlowId::new("hello"),
            flow_revision: 3,
            inputs: json!({"name": "World"}),
            labels: BTreeMap::from([("team".to_owned(), "data".to_owned())]),
            trigger_vars: None,
            original_id: None,
        }
    }

    fn new_run(execution: &ExecutionId, task: &str) -> NewTaskRun {
        NewTaskRun {
            id: TaskRunId::generate(),
            execution_id: execution.clone(),
            task_id: TaskId::new(task),
            parent_task_run_id: None,
            value: None,
        }
    }

    #[tokio::test]
    async fn an_execution_goes_through_its_states_with_a_history() {
        let store = Store::scratch().await.unwrap();
        let new = new_execution();
        let created = store.create_execution(&new, &[]).await.unwrap();
        assert_eq!(created.state, State::Created);
        assert_eq!(
            store.execution_event(&new.id, Event::Start).await.unwrap(),
            State::Running
        );
        assert_eq!(
            store.unfinished_executions().await.unwrap(),
            vec![new.id.clone()]
        );
        assert_eq!(
            store
                .execution_event(&new.id, Event::Succeed)
                .await
                .unwrap(),
            State::Success
        );
        let read = store.get_execution(&new.id).await.unwrap().unwrap();
        let states: Vec<State> = read.histories.iter().map(|h| h.state).collect();
        assert_eq!(states, [State::Created, State::Running, State::Success]);
        assert!(read.ended_at.is_some());
        assert_eq!(read.inputs, json!({"name": "World"}));
        assert_eq!(read.labels["team"], "data");
        assert!(store.unfinished_executions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_illegal_transition_changes_nothing() {
        let store = Store::scratch().await.unwrap();
        let new = new_execution();
        store.create_execution(&new, &[]).await.unwrap();
        let error = store
            .execution_event(&new.id, Event::Succeed)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Illegal(_)), "{error}");
        assert_eq!(
            store.get_execution(&new.id).await.unwrap().unwrap().state,
            State::Created
        );
        let missing = store
            .execution_event(&ExecutionId::new("nope"), Event::Start)
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound(_)));
    }

    #[tokio::test]
    async fn an_event_from_a_known_version_is_applied_on_the_row_even_when_it_changed() {
        let store = Store::scratch().await.unwrap();
        let new = new_execution();
        store.create_execution(&new, &[]).await.unwrap();
        let started = store
            .start_task_run(&new_run(&new.id, "t"), None)
            .await
            .unwrap();
        let known = TaskRunVersion::of(&started);
        // The writer's own version: one guarded update.
        let retried = store
            .task_run_event_from(&started.id, &known, Event::Retry, None)
            .await
            .unwrap();
        assert_eq!(retried.state, State::Retrying);
        // Someone else moved the row on meanwhile; the stale version is
        // not written over it: the event applies to what the row holds.
        store
            .task_run_event(&started.id, Event::Start, None)
            .await
            .unwrap();
        let outputs = json!({"value": 1});
        let ended = store
            .task_run_event_from(&started.id, &retried, Event::Succeed, Some(&outputs))
            .await
            .unwrap();
        assert_eq!(ended.state, State::Success);
        let read = store.get_task_run(&started.id).await.unwrap().unwrap();
        let attempts: Vec<State> = read.attempts.iter().map(|a| a.state).collect();
        assert_eq!(attempts, [State::Failed, State::Success]);
        let states: Vec<State> = read.histories.iter().map(|h| h.state).collect();
        assert_eq!(
            states,
            [
                State::Created,
                State::Running,
                State::Retrying,
                State::Running,
                State::Success
            ]
        );
        assert_eq!(read.outputs, Some(outputs));
        assert_eq!(
            TaskRunVersion::of(&read),
            ended,
            "the version round-trips through the store"
        );
        // A stale version never makes an illegal transition legal.
        let error = store
            .task_run_event_from(&started.id, &known, Event::Retry, None)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Illegal(_)), "{error}");
    }

    #[tokio::test]
    async fn task_runs_keep_attempts_outputs_and_checkpoints() {
        let store = Store::scratch().await.unwrap();
        let new = new_execution();
        let run = new_run(&new.id, "create_cluster");
        store
            .create_execution(&new, std::slice::from_ref(&run))
            .await
            .unwrap();

        store
            .task_run_event(&run.id, Event::Start, None)
            .await
            .unwrap();
        store
            .set_checkpoint(&run.id, &json!({"cluster_id": "0123-abc"}))
            .await
            .unwrap();
        store
            .task_run_event(&run.id, Event::Retry, None)
            .await
            .unwrap();
        store
            .task_run_event(&run.id, Event::Start, None)
            .await
            .unwrap();
        let outputs = json!({"clusterId": "0123-abc"});
        store
            .task_run_event(&run.id, Event::Succeed, Some(&outputs))
            .await
            .unwrap();

        let runs = store.task_runs(&new.id).await.unwrap();
        assert_eq!(runs.len(), 1);
        let read = &runs[0];
        assert_eq!(read.state, State::Success);
        let attempt_states: Vec<State> = read.attempts.iter().map(|a| a.state).collect();
        assert_eq!(attempt_states, [State::Failed, State::Success]);
        assert!(read.attempts.iter().all(|a| a.end.is_some()));
        assert_eq!(read.outputs, Some(outputs));
        assert_eq!(read.checkpoint, Some(json!({"cluster_id": "0123-abc"})));
    }
}

/// What `search_executions` filters on; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub states: Vec<State>,
    /// Unix milliseconds, inclusive.
    pub created_from: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub created_to: Option<i64>,
    /// Labels that must all match, `key` = `value`.
    pub labels: Vec<(String, String)>,
    /// The namespaces (with those under them) the reader may see; `None`:
    /// every one (see `auth::Principal::scopes`).
    pub scopes: Option<Vec<String>>,
    /// Kestra's `filters[field][OPERATION]`, all of which must hold.
    pub conditions: Vec<super::query::Condition<ExecutionField>>,
}

/// What a search condition on executions reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionField {
    Id,
    Namespace,
    FlowId,
    State,
    /// When it was created (Kestra's `startDate`).
    StartDate,
    /// When it ended (Kestra's `endDate`; none while it runs).
    EndDate,
    /// The value of this label.
    Label(String),
    /// Text in the id, namespace or flow id (Kestra's `q`).
    Query,
    /// The execution that started it, a Subflow's or a Flow trigger's.
    TriggerExecutionId,
    /// Whether another execution started it: EQUALS is yes, NOT_EQUALS
    /// no (Kestra's `childFilter` CHILD and MAIN); the operand is unused.
    HasParent,
}

impl ExecutionField {
    /// The SQL expression this field reads, a fixed text.
    pub(super) fn column(&self, d: super::Dialect) -> &'static str {
        use super::Dialect::{Postgres, Sqlite};
        match (self, d) {
            (Self::Id, _) => "id",
            (Self::Namespace, _) => "namespace",
            (Self::FlowId, _) => "flow_id",
            (Self::State, _) => "state",
            (Self::StartDate, _) => "created_at",
            (Self::EndDate, _) => "ended_at",
            (Self::Label(_), Sqlite) => "json_extract(labels, '$.' || json_quote(?))",
            (Self::Label(_), Postgres) => "(labels::jsonb ->> ?)",
            (Self::Query, _) => "",
            (Self::TriggerExecutionId | Self::HasParent, Sqlite) => {
                "json_extract(trigger_vars, '$.executionId')"
            }
            (Self::TriggerExecutionId | Self::HasParent, Postgres) => {
                "(trigger_vars::jsonb ->> 'executionId')"
            }
        }
    }
}

/// One page of a search, newest first.
#[derive(Debug, Clone)]
pub struct ExecutionPage {
    pub results: Vec<ExecutionRecord>,
    pub total: i64,
}

impl Store {
    /// Executions matching `filter`, newest first; `page` counts from 1.
    pub async fn search_executions(
        &self,
        filter: &ExecutionFilter,
        page: i64,
        size: i64,
    ) -> Result<ExecutionPage, StoreError> {
        use super::history::{Bind, bind_all};
        let size = size.clamp(1, 1000);
        let offset = (page.max(1) - 1) * size;
        with_pool!(&self.pool, |pool, d| {
            let (conditions, binds) = super::history::conditions(filter, d);
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            // Only fixed fragments and placeholders are formatted in; every value is bound.
            let count_sql =
                super::numbered(&format!("SELECT COUNT(*) FROM executions {filter_sql}"));
            let count = bind_all!(
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql)),
                &binds
            );
            let total = count.fetch_one(pool).await?;
            let rows_sql = super::numbered(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions {filter_sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            ));
            let rows = bind_all!(
                sqlx::query_as::<_, ExecutionRow>(AssertSqlSafe(rows_sql)),
                &binds
            );
            let rows = rows.bind(size).bind(offset).fetch_all(pool).await?;
            Ok(ExecutionPage {
                results: rows
                    .into_iter()
                    .map(execution_from_row)
                    .collect::<Result<_, _>>()?,
                total,
            })
        })
    }
}

#[cfg(test)]
pub(crate) mod search_tests {
    use serde_json::json;

    use super::*;

    /// A CREATED execution of `namespace.flow` with `labels`, for tests.
    pub(crate) async fn seed(
        store: &Store,
        namespace: &str,
        flow: &str,
        labels: &[(&str, &str)],
    ) -> ExecutionId {
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: Namespace::new(namespace),
            flow_id: FlowId::new(flow),
            flow_revision: 1,
            inputs: json!({}),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            trigger_vars: None,
            original_id: None,
        };
        store.create_execution(&new, &[]).await.unwrap();
        new.id
    }

    #[tokio::test]
    async fn filters_combine_and_pages_are_newest_first() {
        let store = Store::scratch().await.unwrap();
        let a = seed(&store, "company.data", "load", &[("env", "prod")]).await;
        let b = seed(&store, "company.data.sub", "load", &[("env", "dev")]).await;
        let c = seed(&store, "company", "other", &[]).await;
        let _ = seed(&store, "company_data", "load", &[]).await;
        store.execution_event(&c, Event::Start).await.unwrap();

        let ids = |page: ExecutionPage| page.results.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let by_ns = ExecutionFilter {
            namespace: Some("company.data".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(store.search_executions(&by_ns, 1, 10).await.unwrap()),
            [b.clone(), a.clone()]
        );
        let running = ExecutionFilter {
            states: vec![State::Running],
            ..Default::default()
        };
        assert_eq!(
            ids(store.search_executions(&running, 1, 10).await.unwrap()),
            std::slice::from_ref(&c)
        );
        let prod = ExecutionFilter {
            labels: vec![("env".into(), "prod".into())],
            ..Default::default()
        };
        assert_eq!(
            ids(store.search_executions(&prod, 1, 10).await.unwrap()),
            std::slice::from_ref(&a)
        );

        let all = ExecutionFilter::default();
        let first = store.search_executions(&all, 1, 3).await.unwrap();
        assert_eq!(first.total, 4);
        assert_eq!(first.results.len(), 3);
        let second = store.search_executions(&all, 2, 3).await.unwrap();
        assert_eq!(second.results.len(), 1);
        assert_eq!(second.results[0].id, a);
    }
}

/// A task run's state, attempts and histories as the store holds them
/// (the JSON text itself), which is what a guarded update compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRunVersion {
    pub state: State,
    attempts: String,
    histories: String,
    ended_at: Option<i64>,
}

impl TaskRunVersion {
    /// The version of a record as the store wrote it.
    pub fn of(record: &TaskRunRecord) -> Self {
        Self {
            state: record.state,
            attempts: to_json(&record.attempts),
            histories: to_json(&record.histories),
            ended_at: record.ended_at,
        }
    }

    /// The version after `event` at `now`: `Start` opens an attempt, an
    /// ending event closes the open one, a new state is added to the
    /// histories.
    fn apply(&self, event: Event, now: i64) -> Result<Self, StoreError> {
        let next = self.state.on(event)?;
        let mut attempts: Vec<Attempt> = from_json(&self.attempts)?;
        let mut histories: Vec<StateChange> = from_json(&self.histories)?;
        match next {
            State::Running if self.state != State::Paused => attempts.push(Attempt {
                state: State::Running,
                start: now,
                end: None,
            }),
            State::Running | State::Killing | State::Paused => {}
            ended => {
                if let Some(open) = attempts.last_mut().filter(|a| a.end.is_none()) {
                    // A retried attempt ended as a failure.
                    open.state = if ended == State::Retrying {
                        State::Failed
                    } else {
                        ended
                    };
                    open.end = Some(now);
                }
            }
        }
        if next != self.state {
            histories.push(StateChange {
                state: next,
                date: now,
            });
        }
        Ok(Self {
            state: next,
            attempts: to_json(&attempts),
            histories: to_json(&histories),
            ended_at: next.is_terminal().then_some(now),
        })
    }
}
