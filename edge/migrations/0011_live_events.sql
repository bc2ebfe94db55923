-- Scheduled live events (issue 12), indexed from their streams' objects: listing by status, finding by customId.
-- The event itself lives in its stream's StreamObject; these rows only serve lists, filters and the eventId → stream map.
CREATE TABLE live_events (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  custom_id TEXT,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- customId is unique per workspace (NULLs never collide); the create route claims it here before the event exists.
  UNIQUE (workspace_id, custom_id)
);
CREATE INDEX live_events_by_workspace ON live_events (workspace_id, created_at DESC, id DESC);
CREATE INDEX live_events_by_workspace_status ON live_events (workspace_id, status, created_at DESC, id DESC);
CREATE INDEX live_events_by_stream ON live_events (stream_id);
