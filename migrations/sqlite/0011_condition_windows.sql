-- Flow triggers that wait for several executions (MultipleCondition,
-- `preconditions` with several flows): which of their conditions have held
-- within the current time window, kept until the window ends or, by
-- default, until they all hold and the flow starts.
CREATE TABLE condition_windows (
    namespace    TEXT    NOT NULL,
    flow_id      TEXT    NOT NULL,
    condition_id TEXT    NOT NULL,
    -- Unix milliseconds, both included.
    start_ms     INTEGER NOT NULL,
    end_ms       INTEGER NOT NULL,
    -- A JSON list of the ids of the conditions that held.
    results      TEXT    NOT NULL,
    PRIMARY KEY (namespace, flow_id, condition_id)
);
