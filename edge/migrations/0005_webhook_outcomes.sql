-- Every webhook ends with a recorded outcome: why a delivery failed, why an endpoint was switched off (410 Gone), and
-- events the fan-out gave up on (their dead-letter queue).
-- retries exhausted | endpoint gone (HTTP 410) | endpoint disabled … | fan-out failed: retries exhausted
ALTER TABLE webhook_deliveries ADD COLUMN failure_reason TEXT;
-- Set when the platform disabled the endpoint (a 410 Gone answer); cleared when the customer enables it again.
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at TEXT;
-- 'fanned_out' once its deliveries exist; 'failed' when the events queue gave up on it (dead-lettered).
ALTER TABLE webhook_events ADD COLUMN fan_out_status TEXT NOT NULL DEFAULT 'fanned_out';
ALTER TABLE webhook_events ADD COLUMN fan_out_error TEXT;

-- At most a few attempts to one endpoint at a time across all consumer invocations: each running batch leases a slot
-- for the endpoint's messages in it; a lease that is never released (a crashed invocation) just runs out.
CREATE TABLE webhook_endpoint_slots (
  endpoint_id TEXT NOT NULL,
  slot INTEGER NOT NULL,
  lease_id TEXT NOT NULL,
  lease_until TEXT NOT NULL,
  PRIMARY KEY (endpoint_id, slot)
);
