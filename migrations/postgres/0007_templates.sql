-- See migrations/sqlite/0013_templates.sql.
CREATE TABLE templates (
    namespace   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    description TEXT,
    source      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (namespace, id)
);
