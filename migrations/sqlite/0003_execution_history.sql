-- The executions page and the dashboard on a large history.
--
-- Filtering by flow id alone (without its namespace) cannot use
-- executions_by_flow, which starts with the namespace.
CREATE INDEX executions_by_flow_id ON executions (flow_id, created_at DESC);

-- The dashboard counts executions per state and per day over a date range:
-- this index covers that query, so it never reads the table.
CREATE INDEX executions_by_created_state ON executions (created_at, state);
