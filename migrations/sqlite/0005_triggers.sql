-- Schedule triggers: the last scheduled time each one has fired for (or,
-- at first sight, the time from which it counts), so that a restart
-- neither fires a schedule twice nor forgets the ones it missed.
CREATE TABLE triggers (
    namespace  TEXT    NOT NULL,
    flow_id    TEXT    NOT NULL,
    trigger_id TEXT    NOT NULL,
    -- Unix milliseconds.
    last_date  INTEGER NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id)
);
