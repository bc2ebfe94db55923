// D1 rows behind webhooks: endpoints, deliveries (one per event and endpoint) and their attempts, and the mapping of
// those rows to the API's shapes. SQL with bound parameters only.
import type { Webhook, WebhookAttempt, WebhookDelivery, DeliveryStatus } from '../../shared/schemas/webhooks.ts';

export interface EndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  description: string;
  event_types: string;
  enabled: number;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  failing_since: string | null;
  disabled_reason: string | null;
  disabled_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  run: number;
  enqueued_run: number;
  run_attempts: number;
  run_started_at: string | null;
  next_attempt_at: string | null;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  /** The receiver's body, first 4 KiB as text (0015); null when no response came or before that migration. */
  response_body: string | null;
  response_truncated: number;
  response_content_type: string | null;
}

/** A delivery still owed a queue message for its current run (see enqueueDeliveries). */
export interface PendingDelivery {
  id: string;
  endpoint_id: string;
  run: number;
  failing_since: string | null;
}

export function webhookView(row: EndpointRow): Webhook {
  return {
    webhookId: row.id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    enabled: row.enabled === 1,
    failingSince: row.failing_since,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function deliveryView(row: DeliveryRow, attempts: AttemptRow[]): WebhookDelivery {
  return {
    deliveryId: row.id,
    webhookId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    nextAttemptAt: row.next_attempt_at,
    failureReason: row.failure_reason,
    attempts: attempts
      .filter((a) => a.delivery_id === row.id)
      .sort((a, b) => b.attempt - a.attempt)
      .map(
        (a): WebhookAttempt => ({
          attempt: a.attempt,
          startedAt: a.started_at,
          statusCode: a.status_code,
          latencyMs: a.latency_ms,
          error: a.error,
          response:
            a.response_body === null
              ? null
              : { body: a.response_body, truncated: a.response_truncated === 1, contentType: a.response_content_type },
        }),
      ),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Secrets that sign a delivery now: the current one, and the previous one while its rotation grace lasts. */
export function signingSecrets(row: EndpointRow, now: Date): string[] {
  const previousValid =
    row.previous_secret && row.previous_secret_expires_at && Date.parse(row.previous_secret_expires_at) > now.getTime();
  return previousValid ? [row.secret, row.previous_secret!] : [row.secret];
}

export function findEndpoint(db: D1Database, workspaceId: string, endpointId: string): Promise<EndpointRow | null> {
  return db
    .prepare('SELECT * FROM webhook_endpoints WHERE id = ? AND workspace_id = ?')
    .bind(endpointId, workspaceId)
    .first<EndpointRow>();
}

export async function attemptsOf(db: D1Database, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const marks = deliveryIds.map(() => '?').join(', ');
  const { results } = await db
    .prepare(`SELECT * FROM webhook_attempts WHERE delivery_id IN (${marks}) ORDER BY attempt DESC`)
    .bind(...deliveryIds)
    .all<AttemptRow>();
  return results;
}
