// The final outcome of what a webhook queue gave up on (its dead-letter queue): a delivery ends failed, "retries
// exhausted"; an event the fan-out never managed is recorded as failed, with a failed delivery per endpoint that
// wanted it, so it shows in the delivery log and can be redelivered. Never an attempt to send: a dead letter is final.
import type { WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import { newId } from '../../shared/identifiers.ts';
import { log } from '../log.ts';
import { FAILURE_REASONS, type DeliveryMessage } from './delivery.ts';
import { endpointWants } from './endpoint-rules.ts';
import { withAbsoluteMediaUrls } from './payload-urls.ts';

export const FAN_OUT_FAILED_REASON = `fan-out failed: ${FAILURE_REASONS.retriesExhausted}`;

/** A delivery message its queue gave up on. A settled delivery, or a message of an earlier run, keeps its outcome. */
export async function recordExhaustedDelivery(db: D1Database, body: unknown, queue: string): Promise<void> {
  const message = body as Partial<DeliveryMessage> | null;
  if (typeof message?.deliveryId !== 'string' || !Number.isInteger(message.run)) {
    log('webhook_dead_letter_unrecordable', { queue, reason: 'not a delivery message' });
    return;
  }
  const now = new Date().toISOString();
  const failed = await db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'failed', failure_reason = ?, next_attempt_at = NULL, updated_at = ?
       WHERE id = ? AND run = ? AND status IN ('pending', 'retrying')
       RETURNING id, endpoint_id, event_id, attempts`,
    )
    .bind(FAILURE_REASONS.retriesExhausted, now, message.deliveryId, message.run!)
    .first<{ id: string; endpoint_id: string; event_id: string; attempts: number }>();
  if (failed) {
    log('webhook_delivery_failed', {
      deliveryId: failed.id,
      webhookId: failed.endpoint_id,
      eventId: failed.event_id,
      attempts: failed.attempts,
      reason: FAILURE_REASONS.retriesExhausted,
      queue,
    });
  } else {
    log('webhook_dead_letter_settled', { deliveryId: message.deliveryId, run: message.run, queue });
  }
}

const isEvent = (body: unknown): body is WebhookEvent => {
  const e = body as Partial<WebhookEvent> | null;
  return (
    typeof e?.id === 'string' &&
    typeof e.workspaceId === 'string' &&
    typeof e.streamId === 'string' &&
    typeof e.type === 'string' &&
    Number.isInteger(e.sequence)
  );
};

/**
 * An event its queue gave up fanning out. Deliveries already made keep going if their message was sent; the ones
 * still owed a message, and the ones never made, end failed (redeliverable, with media URLs absolute on `publicBase` as
 * fan-out would have made them). Idempotent.
 */
export async function recordUndeliverableEvent(db: D1Database, body: unknown, queue: string, publicBase: string | null = null): Promise<void> {
  if (!isEvent(body)) {
    log('webhook_event_unrecordable', { queue, reason: 'not a webhook event' });
    return;
  }
  const event = body;
  const now = new Date().toISOString();
  const text = JSON.stringify(withAbsoluteMediaUrls(event, publicBase));
  const { results: endpoints } = await db
    .prepare('SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = ? AND enabled = 1')
    .bind(event.workspaceId)
    .all<{ id: string; event_types: string }>();
  const wanted = endpoints.filter((e) => endpointWants(JSON.parse(e.event_types) as string[], event.type));
  await db.batch([
    db
      .prepare(
        `INSERT INTO webhook_events (id, workspace_id, stream_id, sequence, type, body, received_at, fan_out_status, fan_out_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'failed', ?) ON CONFLICT DO NOTHING`,
      )
      .bind(event.id, event.workspaceId, event.streamId, event.sequence, event.type, text, now, FAILURE_REASONS.retriesExhausted),
    db
      .prepare(`UPDATE webhook_events SET fan_out_status = 'failed', fan_out_error = ? WHERE id = ?`)
      .bind(FAILURE_REASONS.retriesExhausted, event.id),
    ...wanted.map((endpoint) =>
      db
        .prepare(
          `INSERT INTO webhook_deliveries
             (id, endpoint_id, event_id, event_type, body, status, failure_reason, run, enqueued_run, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, 'failed', ?, 1, 1, ?, ?) ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
        )
        .bind(newId('whd'), endpoint.id, event.id, event.type, text, FAN_OUT_FAILED_REASON, now, now),
    ),
    db
      .prepare(
        `UPDATE webhook_deliveries SET status = 'failed', failure_reason = ?, next_attempt_at = NULL, updated_at = ?
         WHERE event_id = ? AND status = 'pending' AND enqueued_run < run`,
      )
      .bind(FAN_OUT_FAILED_REASON, now, event.id),
  ]);
  log('webhook_event_failed', {
    eventId: event.id,
    streamId: event.streamId,
    workspaceId: event.workspaceId,
    type: event.type,
    endpoints: wanted.length,
    reason: FAILURE_REASONS.retriesExhausted,
    queue,
  });
}
