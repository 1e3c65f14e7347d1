-- The nodes of a deployment and which of them runs each execution.
--
-- A node registers itself at start and beats every few seconds. An
-- execution under way is run by its `owner`, a node; the owner's heartbeat
-- is its lease: a node whose heartbeat is older than the lease time has
-- lost its executions, and another executor node claims them (crash
-- recovery, through the task runs' checkpoints). A claim is the UPDATE that
-- sets `owner`: one transaction, so an execution has one owner at a time.
CREATE TABLE nodes (
    id           TEXT    PRIMARY KEY,
    -- Comma-separated: web, executor, scheduler.
    roles        TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    -- Unix milliseconds.
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    -- Set when the node stopped cleanly (its executions were released).
    stopped_at   INTEGER
);

ALTER TABLE executions ADD COLUMN owner TEXT;
CREATE INDEX executions_by_owner ON executions (owner) WHERE owner IS NOT NULL;

-- One task run per place (task, parent run, value) in an execution: two
-- walks of the same execution (a node that lost its lease and the node
-- that claimed it) cannot both start a task, so no task is submitted
-- twice. Restarts reuse the run; replays copy runs into a new execution.
CREATE UNIQUE INDEX task_runs_one_per_place
    ON task_runs (execution_id, task_id, COALESCE(parent_task_run_id, ''), COALESCE(value, ''));

-- The started executions of a flow, counted against its concurrency limit
-- by whichever node starts the next one.
CREATE INDEX executions_started_by_flow ON executions (namespace, flow_id)
    WHERE state IN ('RUNNING', 'KILLING', 'PAUSED', 'RETRYING');
