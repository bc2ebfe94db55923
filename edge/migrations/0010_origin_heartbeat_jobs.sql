-- The job ids (recording exports, clips) each origin said in its latest heartbeat it runs or has queued (JSON array;
-- NULL = an origin that does not list its jobs). A job handed to an origin that a later beat does not list is lost —
-- the origin restarted or dropped it — and the StreamObject hands it out again without waiting for its deadline.
ALTER TABLE origin_heartbeats ADD COLUMN job_ids TEXT;
