-- Recordings and clips get playback IDs of their own, served from R2 once their media is stored.
ALTER TABLE playback_ids ADD COLUMN kind TEXT NOT NULL DEFAULT 'live';
ALTER TABLE playback_ids ADD COLUMN target_id TEXT;
ALTER TABLE playback_ids ADD COLUMN media_prefix TEXT;

CREATE TABLE recordings (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX recordings_by_workspace ON recordings (workspace_id, created_at DESC, id DESC);
CREATE INDEX recordings_by_stream ON recordings (stream_id, created_at DESC, id DESC);
