-- The video library (issue 13): one row per video, for lists, filters and the videoId → owner map. An uploaded or
-- imported video lives in its own VideoObject (these rows are its index, kept in step as an owed effect); a recording or
-- clip video is a view of its stream's object (stream_id, recording_id / clip_id say which).
CREATE TABLE videos (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  stream_id TEXT,
  recording_id TEXT,
  clip_id TEXT,
  title TEXT
);
CREATE INDEX videos_by_workspace ON videos (workspace_id, created_at DESC, id DESC);
CREATE INDEX videos_by_workspace_status ON videos (workspace_id, status, created_at DESC, id DESC);
CREATE INDEX videos_by_workspace_source ON videos (workspace_id, source, created_at DESC, id DESC);
CREATE INDEX videos_by_stream ON videos (stream_id);

-- Playback IDs now belong to videos too (kind 'video', stream_id holding the videoId like webhook_events does), and a
-- recording's may outlive its stream: stream_id no longer references streams. Rebuilt, as SQLite cannot drop a
-- constraint; nothing references this table.
CREATE TABLE playback_ids_v2 (
  id TEXT PRIMARY KEY,
  stream_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  access_policy TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'live',
  target_id TEXT,
  media_prefix TEXT
);
INSERT INTO playback_ids_v2 (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
  SELECT id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix FROM playback_ids;
DROP TABLE playback_ids;
ALTER TABLE playback_ids_v2 RENAME TO playback_ids;
CREATE INDEX playback_ids_by_stream ON playback_ids (stream_id);
CREATE INDEX playback_ids_by_target ON playback_ids (target_id);
