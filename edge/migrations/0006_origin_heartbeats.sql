-- Origin liveness, apart from per-stream stats: each origin's latest heartbeat, stamped with the EDGE's clock
-- (heard_at, epoch ms), and the sessions it says it holds. A StreamObject reads it when its stats deadline passes.
CREATE TABLE IF NOT EXISTS origin_heartbeats (
  origin_id TEXT PRIMARY KEY,
  heard_at INTEGER NOT NULL,
  origin_url TEXT NOT NULL,
  session_ids TEXT NOT NULL
);
