-- One-time upload URLs of uploaded videos (issue 13): the token's SHA-256 only (never the token), the one video it may
-- write (videos/{videoId}/source), its part size and expiry, the R2 multipart upload once the first part arrived, and
-- the parts received (their etags complete the multipart; the list lets a client resume after a dropped connection).
CREATE TABLE video_uploads (
  token_hash TEXT PRIMARY KEY,
  video_id TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL,
  part_size INTEGER NOT NULL,
  max_parts INTEGER NOT NULL,
  max_bytes INTEGER NOT NULL,
  -- epoch ms
  expires_at INTEGER NOT NULL,
  -- open (parts taken) → completing (putting the file together) → completed (the token is spent)
  state TEXT NOT NULL DEFAULT 'open',
  r2_upload_id TEXT,
  started_at TEXT,
  created_at TEXT NOT NULL,
  completed_at TEXT
);
CREATE INDEX video_uploads_by_expiry ON video_uploads (state, expires_at);

CREATE TABLE video_upload_parts (
  video_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (video_id, n)
);
