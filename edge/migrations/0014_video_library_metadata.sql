-- Recording and clip videos (issue 13) have no VideoObject: the title and metadata set on them through PATCH
-- /v1/videos/{id} live on their library row (JSON of the metadata; NULL = none set).
ALTER TABLE videos ADD COLUMN metadata TEXT;

-- Recordings watchable before the library existed join it as they are (later changes keep their rows in step). Clips
-- made before it stay out of the library (they still play): D1 holds no creation time to list them by.
INSERT OR IGNORE INTO videos (id, workspace_id, source, status, created_at, stream_id, recording_id)
  SELECT 'vid_' || substr(id, 5), workspace_id, 'recording', 'ready', created_at, stream_id, id
  FROM recordings WHERE watchable = 1 AND cleaned = 0 AND id LIKE 'rec\_%' ESCAPE '\';
