-- The store on PostgreSQL: the tables of migrations/sqlite/0001 to 0007 in
-- PostgreSQL's types. Columns keep the SQLite store's shapes (JSON as
-- text, times as Unix milliseconds in BIGINT, flags as BIGINT 0/1) so that
-- one query text serves both backends. Names and ids compare byte by byte
-- (COLLATE "C"), as in SQLite: the namespace range conditions depend on it.

CREATE TABLE flows (
    namespace   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    revision    BIGINT   NOT NULL,
    description TEXT,
    source      TEXT     NOT NULL,
    deleted     BIGINT   NOT NULL DEFAULT 0,
    updated_at  BIGINT   NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX flows_by_update ON flows (updated_at DESC);

CREATE TABLE flow_revisions (
    namespace  TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    revision   BIGINT   NOT NULL,
    source     TEXT     NOT NULL,
    deleted    BIGINT   NOT NULL DEFAULT 0,
    created_at BIGINT   NOT NULL,
    PRIMARY KEY (namespace, id, revision)
);

CREATE TABLE executions (
    id            TEXT COLLATE "C" PRIMARY KEY,
    namespace     TEXT COLLATE "C" NOT NULL,
    flow_id       TEXT COLLATE "C" NOT NULL,
    flow_revision BIGINT NOT NULL,
    state         TEXT COLLATE "C" NOT NULL,
    inputs        TEXT   NOT NULL DEFAULT '{}',
    labels        TEXT   NOT NULL DEFAULT '{}',
    trigger_vars  TEXT,
    outputs       TEXT   NOT NULL DEFAULT '{}',
    histories     TEXT   NOT NULL,
    original_id   TEXT,
    created_at    BIGINT NOT NULL,
    ended_at      BIGINT
);
CREATE INDEX executions_by_flow ON executions (namespace, flow_id, created_at DESC);
CREATE INDEX executions_by_created ON executions (created_at DESC);
CREATE INDEX executions_by_state ON executions (state, created_at DESC);
CREATE INDEX executions_by_created_id ON executions (created_at, id);
CREATE INDEX executions_by_namespace_created ON executions (namespace, created_at, id);
CREATE INDEX executions_by_flow_id ON executions (flow_id, created_at, id);
CREATE INDEX executions_by_state_created ON executions (state, created_at, id);
CREATE INDEX executions_by_created_state ON executions (created_at, state);

CREATE TABLE task_runs (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    execution_id       TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id            TEXT   NOT NULL,
    parent_task_run_id TEXT,
    value              TEXT,
    state              TEXT   NOT NULL,
    attempts           TEXT   NOT NULL DEFAULT '[]',
    outputs            TEXT,
    checkpoint         TEXT,
    histories          TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    ended_at           BIGINT,
    -- Insertion order, which SQLite's rowid gives there.
    seq                BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX task_runs_by_execution ON task_runs (execution_id, created_at, seq);

CREATE TABLE logs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id TEXT COLLATE "C" NOT NULL,
    task_run_id  TEXT,
    task_id      TEXT,
    attempt      BIGINT,
    level        TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    message      TEXT   NOT NULL
);
CREATE INDEX logs_by_execution ON logs (execution_id, id);

CREATE TABLE execution_secrets (
    execution_id TEXT COLLATE "C" PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    inputs       TEXT NOT NULL,
    sealed       BYTEA
);

CREATE TABLE triggers (
    namespace  TEXT COLLATE "C" NOT NULL,
    flow_id    TEXT COLLATE "C" NOT NULL,
    trigger_id TEXT COLLATE "C" NOT NULL,
    last_date  BIGINT NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id)
);

CREATE TABLE secrets (
    namespace  TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    value      BYTEA  NOT NULL,
    set_by     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- `key_check` keeps its sealed text in `value`; `generation` its count in
-- `number` (SQLite keeps both in `value`).
CREATE TABLE secret_meta (
    name   TEXT COLLATE "C" PRIMARY KEY,
    value  BYTEA,
    number BIGINT
);

CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT     NOT NULL,
    grants        TEXT     NOT NULL,
    disabled      BIGINT   NOT NULL DEFAULT 0,
    created_at    BIGINT   NOT NULL,
    updated_at    BIGINT   NOT NULL
);

CREATE TABLE sessions (
    digest     TEXT COLLATE "C" PRIMARY KEY,
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_name);

CREATE TABLE api_tokens (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    digest     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used  BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_name);

CREATE TABLE audit (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT COLLATE "C" NOT NULL,
    action    TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C",
    target    TEXT,
    address   TEXT,
    detail    TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_actor ON audit(actor, at);
CREATE INDEX audit_action ON audit(action, at);
