-- The origins the edge knows (issue 11): each has its own id and a secret derived from the edge's master key and its
-- generation (rotation bumps it; the secret itself is never stored). disabled_at set = its secret verifies nothing.
-- announced is the latest heartbeat's self-description (JSON: region, ingest host, ports, HLS URL, capacity, load,
-- draining), announced_at its edge-clock time in epoch ms; liveness for the lifecycle stays in origin_heartbeats.
CREATE TABLE IF NOT EXISTS origins (
  id TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  disabled_at TEXT NULL,
  announced TEXT NULL,
  announced_at INTEGER NULL
);
CREATE INDEX IF NOT EXISTS origins_region ON origins (region);
