-- What web nodes must agree on about logins: failed attempts (per user
-- and per address, for the lockout) and the one-time setup link's token,
-- so that any web node behind a load balancer enforces and accepts them.
CREATE TABLE login_failures (
    -- `user:<name in lower case>` or `address:<ip>`.
    key      TEXT    PRIMARY KEY,
    count    INTEGER NOT NULL,
    -- Unix milliseconds: no attempt before this; when it was last counted.
    until_ms INTEGER NOT NULL,
    last_ms  INTEGER NOT NULL
);

CREATE TABLE setup_tokens (
    -- SHA-256 of the token, hex.
    digest   TEXT    PRIMARY KEY,
    until_ms INTEGER NOT NULL
);
