-- Every lifecycle event the StreamObjects emit, as the Queue consumer received it: the log webhook deliveries start from.
CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  UNIQUE (stream_id, sequence)
);
CREATE INDEX webhook_events_by_workspace ON webhook_events (workspace_id, received_at);
