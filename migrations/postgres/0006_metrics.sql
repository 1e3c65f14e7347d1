-- See migrations/sqlite/0012_metrics.sql.
CREATE TABLE metrics (
    id           BIGSERIAL PRIMARY KEY,
    namespace    TEXT COLLATE "C" NOT NULL,
    flow_id      TEXT COLLATE "C" NOT NULL,
    task_id      TEXT COLLATE "C",
    execution_id TEXT COLLATE "C",
    task_run_id  TEXT COLLATE "C",
    type         TEXT NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    at           BIGINT NOT NULL,
    tags         TEXT NOT NULL
);
CREATE INDEX metrics_by_execution ON metrics (execution_id, id);
CREATE INDEX metrics_by_flow ON metrics (namespace, flow_id, name, at);
