-- The real values of an execution's SECRET inputs. `executions.inputs`
-- shows them masked; the executor reads them from here to resume, restart
-- or replay the execution. No API or page reads this table.
CREATE TABLE execution_secrets (
    execution_id TEXT PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    -- JSON object: input id -> value.
    inputs       TEXT NOT NULL
);
