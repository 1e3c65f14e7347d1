-- Failed logins and setup tokens shared by web nodes (see
-- migrations/sqlite/0009_login_state.sql).
CREATE TABLE login_failures (
    key      TEXT COLLATE "C" PRIMARY KEY,
    count    BIGINT NOT NULL,
    until_ms BIGINT NOT NULL,
    last_ms  BIGINT NOT NULL
);

CREATE TABLE setup_tokens (
    digest   TEXT COLLATE "C" PRIMARY KEY,
    until_ms BIGINT NOT NULL
);
