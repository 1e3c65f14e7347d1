-- Kestra's templates (deprecated there, still in use): a named list of
-- tasks and `errors` per namespace, which a flow.Template task runs. The
-- source is YAML with id, namespace, description, tasks and errors.
CREATE TABLE templates (
    namespace   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    description TEXT,
    source      TEXT    NOT NULL,
    -- Unix milliseconds of the last save.
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (namespace, id)
);
