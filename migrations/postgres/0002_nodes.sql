-- The nodes of a deployment and which of them runs each execution (see
-- migrations/sqlite/0008_nodes.sql for the protocol).
CREATE TABLE nodes (
    id           TEXT COLLATE "C" PRIMARY KEY,
    roles        TEXT   NOT NULL,
    host         TEXT   NOT NULL,
    pid          BIGINT NOT NULL,
    version      TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at   BIGINT
);

ALTER TABLE executions ADD COLUMN owner TEXT COLLATE "C";
CREATE INDEX executions_by_owner ON executions (owner) WHERE owner IS NOT NULL;

-- One task run per place (see migrations/sqlite/0008_nodes.sql).
CREATE UNIQUE INDEX task_runs_one_per_place
    ON task_runs (execution_id, task_id, COALESCE(parent_task_run_id, ''), COALESCE(value, ''));

-- The started executions of a flow, counted against its concurrency limit
-- by whichever node starts the next one.
CREATE INDEX executions_started_by_flow ON executions (namespace, flow_id)
    WHERE state IN ('RUNNING', 'KILLING', 'PAUSED', 'RETRYING');
