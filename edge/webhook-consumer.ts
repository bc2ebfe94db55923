// The webhook Queues' consumer, one handler per queue:
//  - riverhead-webhooks (events from the StreamObjects): record each event once and fan it out into one delivery per
//    matching enabled endpoint. No HTTP happens here, so no receiver can hold up events or lifecycle changes.
//  - riverhead-webhook-deliveries (first attempts): endpoints are served concurrently, each endpoint's deliveries in
//    order; a failed delivery moves to the retry lane.
//  - riverhead-webhook-retries: later attempts on the backoff schedule (message.retry), then the dead-letter queue.
//  - riverhead-webhook-dead-letters and riverhead-webhooks-dlq: what a queue gave up on ends failed, with a reason
//    (edge/webhooks/dead-letters.ts), so no event or delivery is ever left pending.
// An endpoint whose latest attempt failed gets its new deliveries straight on the retry lane, so the first-attempt
// lane only ever waits on receivers that are answering; and an endpoint gets a bounded share of any batch.
import type { Env } from './env.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { log } from './log.ts';
import { endpointWants } from './webhooks/endpoint-rules.ts';
import {
  attemptDelivery,
  recordNextAttempt,
  webhookSettings,
  type AttemptVerdict,
  type DeliveryMessage,
  type WebhookSettings,
} from './webhooks/delivery.ts';
import { disableGoneEndpoint } from './webhooks/endpoint-disabling.ts';
import { recordExhaustedDelivery, recordUndeliverableEvent } from './webhooks/dead-letters.ts';
import { leaseEndpointSlot, releaseEndpointSlot, type SlotLease } from './webhooks/endpoint-slots.ts';
import type { PendingDelivery } from './webhooks/store.ts';
import { newId } from '../shared/identifiers.ts';
import { publicBaseUrl } from './public-base-url.ts';
import { withAbsoluteMediaUrls } from './webhooks/payload-urls.ts';

export type { PendingDelivery } from './webhooks/store.ts';

export const WEBHOOK_QUEUES = {
  events: 'riverhead-webhooks',
  deliveries: 'riverhead-webhook-deliveries',
  retries: 'riverhead-webhook-retries',
  /** Dead letters of both delivery lanes (and where the consumer puts a delivery whose 24 h are spent). */
  deadLetters: 'riverhead-webhook-dead-letters',
  /** Dead letters of the events queue: events whose fan-out kept failing. */
  eventDeadLetters: 'riverhead-webhooks-dlq',
} as const;

/**
 * Wall time one endpoint may use of a batch before the rest of its messages go back on the queue: a slow receiver
 * (answering, but just under the timeout) never holds a batch — and so the lane, where batches run one at a time —
 * for longer than this plus one attempt.
 */
export const ENDPOINT_BATCH_BUDGET_MS = 2000;
/** A slot lease outlives the batch's use of it: its budget, one more attempt, and our own storage calls. */
const LEASE_MARGIN_MS = 5000;

/** When our own storage fails (not the receiver), the message comes back after this long. */
const INFRASTRUCTURE_RETRY_SECONDS = 5;
const SEND_BATCH_LIMIT = 100;

export async function consumeWebhookEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case WEBHOOK_QUEUES.deliveries:
      return deliver(batch as MessageBatch<DeliveryMessage>, env, 'first');
    case WEBHOOK_QUEUES.retries:
      return deliver(batch as MessageBatch<DeliveryMessage>, env, 'retry');
    case WEBHOOK_QUEUES.events:
      return fanOut(batch as MessageBatch<WebhookEvent>, env);
    case WEBHOOK_QUEUES.deadLetters:
      return settleDeadLetters(batch, (body) => recordExhaustedDelivery(env.DB, body, batch.queue));
    case WEBHOOK_QUEUES.eventDeadLetters:
      return settleDeadLetters(batch, (body) => recordUndeliverableEvent(env.DB, body, batch.queue, publicBaseUrl(env)));
    default:
      log('webhook_queue_unknown', { queue: batch.queue, messages: batch.messages.length });
      batch.retryAll({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
  }
}

/** Each dead letter gets its final outcome recorded; only our own storage failing brings one back. */
async function settleDeadLetters(batch: MessageBatch<unknown>, record: (body: unknown) => Promise<void>): Promise<void> {
  for (const message of batch.messages) {
    try {
      await record(message.body);
      message.ack();
    } catch (error) {
      log('webhook_dead_letter_error', { queue: batch.queue, messageId: message.id, error: String(error) });
      message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
    }
  }
}

async function fanOut(batch: MessageBatch<WebhookEvent>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    try {
      await fanOutEvent(env, message.body);
      message.ack();
    } catch (error) {
      log('webhook_fan_out_failed', { eventId: message.body.id, streamId: message.body.streamId, error: String(error) });
      message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
    }
  }
}

/**
 * Idempotent: a second copy of the event (Queues deliver at least once) adds no delivery, and only re-sends a message
 * that a crash left unsent. The body stored (and signed, and redelivered) is the payload as receivers get it: media URLs
 * absolute on PUBLIC_BASE_URL when it is set.
 */
export async function fanOutEvent(env: Env, event: WebhookEvent): Promise<void> {
  const now = new Date().toISOString();
  const body = JSON.stringify(withAbsoluteMediaUrls(event, publicBaseUrl(env)));
  const { results: endpoints } = await env.DB.prepare(
    'SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = ? AND enabled = 1',
  )
    .bind(event.workspaceId)
    .all<{ id: string; event_types: string }>();
  const wanted = endpoints.filter((e) => endpointWants(JSON.parse(e.event_types) as string[], event.type));
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO webhook_events (id, workspace_id, stream_id, sequence, type, body, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).bind(event.id, event.workspaceId, event.streamId, event.sequence, event.type, body, now),
    ...wanted.map((endpoint) =>
      env.DB.prepare(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
      ).bind(newId('whd'), endpoint.id, event.id, event.type, body, now, now),
    ),
  ]);
  if (wanted.length === 0) return;
  // Every delivery of this event still owed a message: the ones just made, and any a crash left unsent last time.
  const { results: pending } = await env.DB.prepare(
    `SELECT d.id, d.endpoint_id, d.run, e.failing_since FROM webhook_deliveries d
     JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.event_id = ? AND d.enqueued_run < d.run`,
  )
    .bind(event.id)
    .all<PendingDelivery>();
  await enqueueDeliveries(env, pending);
}

/**
 * First attempts go on the first-attempt lane, unless their endpoint is failing: then on the retry lane, at once.
 * Each delivery's run is marked as sent afterwards (its row is the outbox).
 */
export async function enqueueDeliveries(env: Env, deliveries: PendingDelivery[]): Promise<void> {
  const message = (d: PendingDelivery) => ({ body: { deliveryId: d.id, endpointId: d.endpoint_id, run: d.run } });
  const healthy = deliveries.filter((d) => !d.failing_since).map(message);
  const failing = deliveries.filter((d) => d.failing_since).map(message);
  for (let i = 0; i < healthy.length; i += SEND_BATCH_LIMIT) {
    await env.WEBHOOK_DELIVERIES.sendBatch(healthy.slice(i, i + SEND_BATCH_LIMIT));
  }
  for (let i = 0; i < failing.length; i += SEND_BATCH_LIMIT) {
    await env.WEBHOOK_RETRIES.sendBatch(failing.slice(i, i + SEND_BATCH_LIMIT));
  }
  if (deliveries.length === 0) return;
  await env.DB.batch(
    deliveries.map((d) =>
      env.DB.prepare('UPDATE webhook_deliveries SET enqueued_run = MAX(enqueued_run, ?) WHERE id = ?').bind(d.run, d.id),
    ),
  );
}

/**
 * Endpoints concurrently, each endpoint's messages in order, under one of the endpoint's few slots (endpoint-slots.ts;
 * when all are taken by other invocations, its messages go back on the queue for a while). Once an endpoint fails in
 * this batch its remaining messages are not tried now (each could wait out the whole timeout again): they wait as long
 * as the failed one. Once it has used its share of the batch, the rest go back on the queue.
 */
async function deliver(batch: MessageBatch<DeliveryMessage>, env: Env, lane: 'first' | 'retry'): Promise<void> {
  const settings = webhookSettings(env);
  const started = Date.now();
  const byEndpoint = new Map<string, Message<DeliveryMessage>[]>();
  for (const message of batch.messages) {
    const key = message.body.endpointId;
    byEndpoint.set(key, [...(byEndpoint.get(key) ?? []), message]);
  }
  const leaseMs = ENDPOINT_BATCH_BUDGET_MS + settings.timeoutMs + LEASE_MARGIN_MS;
  const busySeconds = Math.max(1, Math.ceil(settings.timeoutMs / 1000));
  await Promise.all(
    [...byEndpoint.entries()].map(async ([endpointId, messages]) => {
      let lease: SlotLease | null;
      try {
        lease = await leaseEndpointSlot(env.DB, endpointId, leaseMs);
      } catch (error) {
        log('webhook_delivery_error', { endpointId, lane, error: String(error) });
        for (const message of messages) message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
        return;
      }
      if (!lease) {
        log('webhook_endpoint_busy', { endpointId, lane, messages: messages.length, requeuedForSeconds: busySeconds });
        for (const message of messages) {
          await requeue(env, message, lane, busySeconds).catch(() => message.retry({ delaySeconds: busySeconds }));
        }
        return;
      }
      try {
        await deliverInOrder(env, messages, lane, settings, started);
      } finally {
        await releaseEndpointSlot(env.DB, lease).catch((error) =>
          log('webhook_slot_release_failed', { endpointId, error: String(error) }),
        );
      }
    }),
  );
}

/** One endpoint's messages of a batch, in order, while its slot is held. */
async function deliverInOrder(
  env: Env,
  messages: Message<DeliveryMessage>[],
  lane: 'first' | 'retry',
  settings: WebhookSettings,
  started: number,
): Promise<void> {
  let deferSeconds: number | null = null;
  for (const message of messages) {
    try {
      if (deferSeconds !== null) {
        await recordNextAttempt(env.DB, message.body, deferSeconds);
        await later(env, message, lane, deferSeconds);
        continue;
      }
      if (Date.now() - started >= ENDPOINT_BATCH_BUDGET_MS) {
        await requeue(env, message, lane);
        continue;
      }
      const verdict = await attemptDelivery(env, message.body, settings);
      await settle(env, message, lane, verdict);
      if (verdict.kind === 'retry') deferSeconds = verdict.delaySeconds;
      if (verdict.kind === 'dead') deferSeconds = settings.retry.baseSeconds;
    } catch (error) {
      log('webhook_delivery_error', { deliveryId: message.body.deliveryId, lane, error: String(error) });
      message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
    }
  }
}

/**
 * Back on its own lane as a new message (due now, or once the endpoint's slots are likely free): not a failure, so it
 * spends none of the queue's retry budget, which would otherwise send a long backlog to the dead-letter queue untried.
 */
async function requeue(env: Env, message: Message<DeliveryMessage>, lane: 'first' | 'retry', delaySeconds = 0) {
  await recordNextAttempt(env.DB, message.body, delaySeconds);
  await (lane === 'first' ? env.WEBHOOK_DELIVERIES : env.WEBHOOK_RETRIES).send(message.body, delaySeconds ? { delaySeconds } : undefined);
  message.ack();
}

/** The retry lane retries in place; the first-attempt lane hands over to the retry lane. */
async function later(env: Env, message: Message<DeliveryMessage>, lane: 'first' | 'retry', delaySeconds: number) {
  if (lane === 'retry') {
    message.retry({ delaySeconds });
    return;
  }
  await env.WEBHOOK_RETRIES.send(message.body, { delaySeconds });
  message.ack();
}

async function settle(env: Env, message: Message<DeliveryMessage>, lane: 'first' | 'retry', verdict: AttemptVerdict) {
  switch (verdict.kind) {
    case 'skip':
    case 'delivered':
      message.ack();
      return;
    case 'retry':
      await later(env, message, lane, verdict.delaySeconds);
      return;
    case 'dead':
      log('webhook_dead_lettered', { deliveryId: message.body.deliveryId, endpointId: message.body.endpointId });
      await env.WEBHOOK_DEAD_LETTERS.send(message.body);
      message.ack();
      return;
    case 'gone': {
      const notices = await disableGoneEndpoint(env.DB, message.body.endpointId, verdict.result.statusCode ?? 410);
      await enqueueDeliveries(env, notices);
      message.ack();
      return;
    }
  }
}
