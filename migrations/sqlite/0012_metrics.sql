-- Metrics that tasks publish (Kestra's MetricEntry): counters, timers (in
-- milliseconds) and gauges, each of one task run. No foreign key to the
-- execution: PurgeExecutions decides on its own whether metrics go.
CREATE TABLE metrics (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace    TEXT    NOT NULL,
    flow_id      TEXT    NOT NULL,
    task_id      TEXT,
    execution_id TEXT,
    task_run_id  TEXT,
    -- counter, timer or gauge.
    type         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    value        REAL    NOT NULL,
    -- Unix milliseconds.
    at           INTEGER NOT NULL,
    -- A JSON object of text tags.
    tags         TEXT    NOT NULL
);
CREATE INDEX metrics_by_execution ON metrics (execution_id, id);
CREATE INDEX metrics_by_flow ON metrics (namespace, flow_id, name, at);
