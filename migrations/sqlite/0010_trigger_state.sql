-- What each trigger shows and obeys beyond its last scheduled time: turned
-- off from the UI, the API or a Toggle task (`disabled`), when the
-- scheduler last looked at it and will next fire it, and when it last
-- started an execution (any trigger: Schedule, Flow, Webhook).
ALTER TABLE triggers ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE triggers ADD COLUMN next_date INTEGER;
ALTER TABLE triggers ADD COLUMN evaluated_at INTEGER;
ALTER TABLE triggers ADD COLUMN last_triggered INTEGER;
ALTER TABLE triggers ADD COLUMN last_execution_id TEXT;
ALTER TABLE triggers ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
