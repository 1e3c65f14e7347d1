-- Executions: one run of one flow revision.
CREATE TABLE executions (
    id            TEXT    PRIMARY KEY,
    namespace     TEXT    NOT NULL,
    flow_id       TEXT    NOT NULL,
    flow_revision INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    -- JSON: the rendered inputs (secret values masked), labels, trigger
    -- variables and outputs.
    inputs        TEXT    NOT NULL DEFAULT '{}',
    labels        TEXT    NOT NULL DEFAULT '{}',
    trigger_vars  TEXT,
    outputs       TEXT    NOT NULL DEFAULT '{}',
    -- JSON array of {state, date}: every state this execution went through.
    histories     TEXT    NOT NULL,
    -- Set on a replay: the execution this one was replayed from.
    original_id   TEXT,
    -- Unix milliseconds.
    created_at    INTEGER NOT NULL,
    ended_at      INTEGER
);

CREATE INDEX executions_by_flow ON executions (namespace, flow_id, created_at DESC);
CREATE INDEX executions_by_created ON executions (created_at DESC);
CREATE INDEX executions_by_state ON executions (state, created_at DESC);

-- Task runs: one run of one task in an execution (one per ForEach value).
CREATE TABLE task_runs (
    id                 TEXT    PRIMARY KEY,
    execution_id       TEXT    NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id            TEXT    NOT NULL,
    parent_task_run_id TEXT,
    -- The ForEach value this run is for, if any.
    value              TEXT,
    state              TEXT    NOT NULL,
    -- JSON array of {state, startDate, endDate}: one element per attempt.
    attempts           TEXT    NOT NULL DEFAULT '[]',
    outputs            TEXT,
    -- JSON written by a task the moment it has a handle on remote work
    -- (cluster id, run id, statement id), so that a restart re-attaches.
    checkpoint         TEXT,
    histories          TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    ended_at           INTEGER
);

CREATE INDEX task_runs_by_execution ON task_runs (execution_id, created_at);

-- Log lines. The rowid is the order and the SSE event id.
CREATE TABLE logs (
    id           INTEGER PRIMARY KEY,
    execution_id TEXT    NOT NULL,
    task_run_id  TEXT,
    task_id      TEXT,
    attempt      INTEGER,
    level        TEXT    NOT NULL,
    -- Unix milliseconds.
    at           INTEGER NOT NULL,
    message      TEXT    NOT NULL
);

CREATE INDEX logs_by_execution ON logs (execution_id, id);
