-- Workspace indexes derived from the StreamObjects, plus workspaces and their access tokens.
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE access_tokens (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  secret_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE streams (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX streams_by_workspace ON streams (workspace_id, created_at DESC, id DESC);
CREATE INDEX streams_by_workspace_status ON streams (workspace_id, status, created_at DESC, id DESC);

-- Stream keys are stored only as SHA-256 hashes; the origin authorizes by hashing what the encoder sent.
CREATE TABLE stream_keys (
  key_hash TEXT PRIMARY KEY,
  stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE
);
CREATE INDEX stream_keys_by_stream ON stream_keys (stream_id);

CREATE TABLE playback_ids (
  id TEXT PRIMARY KEY,
  stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  workspace_id TEXT NOT NULL,
  access_policy TEXT NOT NULL
);
CREATE INDEX playback_ids_by_stream ON playback_ids (stream_id);
