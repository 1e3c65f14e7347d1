-- Flows: the current revision of each flow, what lists and searches read.
CREATE TABLE flows (
    namespace   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    description TEXT,
    source      TEXT    NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    -- Unix milliseconds (UTC).
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (namespace, id)
) WITHOUT ROWID;

CREATE INDEX flows_by_update ON flows (updated_at DESC);

-- Every saved revision is kept, for history, diff and restore.
CREATE TABLE flow_revisions (
    namespace  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, id, revision)
) WITHOUT ROWID;
