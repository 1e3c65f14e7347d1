-- Users, their roles, their browser sessions and API tokens, and the audit
-- log. Secrets of sessions and tokens are kept only as SHA-256 digests:
-- reading the database does not give a way in.
CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    -- argon2id, PHC string format.
    password_hash TEXT    NOT NULL,
    -- JSON array of grants: [{"role": "editor", "namespace": "company.data"}];
    -- no namespace means every namespace.
    grants        TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    -- Unix milliseconds.
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's value, hex.
    digest     TEXT    PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    -- The token the session's pages carry for state-changing requests.
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_name);

CREATE TABLE api_tokens (
    -- The public part of the token, shown in lists.
    id         TEXT    PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    -- SHA-256 of the whole token, hex.
    digest     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used  INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_name);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    -- Who: a user name, or what acted without one ("anonymous", "system").
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    namespace TEXT,
    -- What was acted on: a flow id, an execution id, a user, a token id…
    target    TEXT,
    -- Where the request came from.
    address   TEXT,
    -- Anything else worth keeping, as JSON; never a secret's value.
    detail    TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_actor ON audit(actor, at);
CREATE INDEX audit_action ON audit(action, at);
