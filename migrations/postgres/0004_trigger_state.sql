-- See migrations/sqlite/0010_trigger_state.sql.
ALTER TABLE triggers ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE triggers ADD COLUMN next_date BIGINT;
ALTER TABLE triggers ADD COLUMN evaluated_at BIGINT;
ALTER TABLE triggers ADD COLUMN last_triggered BIGINT;
ALTER TABLE triggers ADD COLUMN last_execution_id TEXT COLLATE "C";
ALTER TABLE triggers ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
