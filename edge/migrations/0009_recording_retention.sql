-- Recordings from durable media (issue 11): what the index needs to list a recording's state without its object, and
-- retention. A workspace's recording_retention_days (NULL = keep forever) sets each recording's expires_at (epoch ms,
-- from ended_at, the session's end); the scheduled sweep cleans recordings past it (media deleted, cleaned = 1).
ALTER TABLE workspaces ADD COLUMN recording_retention_days INTEGER;

ALTER TABLE recordings ADD COLUMN watchable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN exportable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN cleaned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN ended_at INTEGER;
ALTER TABLE recordings ADD COLUMN expires_at INTEGER;
CREATE INDEX recordings_expiring ON recordings (expires_at) WHERE cleaned = 0 AND expires_at IS NOT NULL;
