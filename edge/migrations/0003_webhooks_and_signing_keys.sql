-- Webhook endpoints, one delivery per (event, endpoint) with every attempt logged, and RS256 keys for private playback.
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  -- JSON array of webhook types; an empty array means every type.
  event_types TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  -- whsec_…: kept as issued, since every delivery is signed with it.
  secret TEXT NOT NULL,
  -- After a rotation the previous secret signs too (a second v1 signature) until it expires, so receivers can switch.
  previous_secret TEXT,
  previous_secret_expires_at TEXT,
  -- Set by a failed attempt, cleared by a successful one: while set, new deliveries skip the first-attempt lane.
  failing_since TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  -- The exact JSON sent; its id is the webhook-id header, the same on every attempt and redelivery.
  body TEXT NOT NULL,
  -- pending (queued), retrying, succeeded, failed (retries exhausted, handed to the dead-letter queue)
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  -- A run is the first delivery or one redelivery: its own backoff, from its own start; stale queue messages of an
  -- earlier run are dropped.
  run INTEGER NOT NULL DEFAULT 1,
  -- The run a queue message has been sent for; below `run` means one is still owed (an outbox, crash-safe).
  enqueued_run INTEGER NOT NULL DEFAULT 0,
  run_attempts INTEGER NOT NULL DEFAULT 0,
  run_started_at TEXT,
  next_attempt_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  status_code INTEGER,
  latency_ms INTEGER NOT NULL,
  error TEXT,
  PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE signing_keys (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  -- Only the public half is kept; the private key is shown once, on create.
  public_key_jwk TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX signing_keys_by_workspace ON signing_keys (workspace_id, created_at DESC, id DESC);
