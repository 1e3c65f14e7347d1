-- See migrations/sqlite/0011_condition_windows.sql.
CREATE TABLE condition_windows (
    namespace    TEXT COLLATE "C" NOT NULL,
    flow_id      TEXT COLLATE "C" NOT NULL,
    condition_id TEXT COLLATE "C" NOT NULL,
    start_ms     BIGINT NOT NULL,
    end_ms       BIGINT NOT NULL,
    results      TEXT NOT NULL,
    PRIMARY KEY (namespace, flow_id, condition_id)
);
