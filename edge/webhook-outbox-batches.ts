// Splits a StreamObject's pending webhook events (its stream's and its live event's; a VideoObject's too) into Queue batches that fit
// Cloudflare Queues' limits, so a backlog of large events (50 metadata keys of 512 characters make a ~30 KB body) never exceeds a sendBatch and wedges the outbox.
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';

/**
 * Queues' limits are 100 messages and 256 KB per sendBatch, 128 KB per message. A message is measured after
 * serialization, not as our JSON text, so we keep a margin below each.
 */
export const QUEUE_LIMITS = { maxMessages: 100, maxBatchBytes: 224_000, maxMessageBytes: 112_000 } as const;
export type QueueLimits = { maxMessages: number; maxBatchBytes: number; maxMessageBytes: number };

/** What a body weighs on the Queue: Latin-1 text serializes one byte per character, anything wider two. */
export function bodyBytes(json: string): number {
  // eslint-disable-next-line no-control-regex
  return (/[^\u0000-\u00ff]/.test(json) ? json.length * 2 : json.length) + 64;
}

export const TRUNCATED_METADATA_KEY = 'riverhead_truncated';
const REASON_MAX = 1000;

/**
 * A body too large for one message is trimmed rather than held back: the free-form parts (stream metadata, a long
 * reason) give way first, marked so the receiver knows to read the stream itself; the event's identity, type,
 * sequence and status are never dropped.
 */
export function fitBody(event: WebhookEvent, limits: QueueLimits = QUEUE_LIMITS): { body: WebhookEvent; trimmed: boolean } {
  if (bodyBytes(JSON.stringify(event)) <= limits.maxMessageBytes) return { body: event, trimmed: false };
  const trimmed: WebhookEvent = {
    ...event,
    reason: event.reason && event.reason.length > REASON_MAX ? `${event.reason.slice(0, REASON_MAX)}…` : event.reason,
    data: {
      ...event.data,
      metadata: { [TRUNCATED_METADATA_KEY]: `metadata left out: the event exceeded the Queue message limit; GET the ${event.event === 'LIVE_EVENT' ? 'live event' : event.event === 'VIDEO_ASSET' ? 'video' : 'stream'}` },
    },
  } as WebhookEvent;
  if (bodyBytes(JSON.stringify(trimmed)) <= limits.maxMessageBytes) return { body: trimmed, trimmed: true };
  // Only the resource's own view is left to cut: send the event by reference to the stream (or the live event).
  return { body: { ...trimmed, data: byReference(event) } as WebhookEvent, trimmed: true };
}

/** The least of an event's `data` that still says what it is about; the receiver GETs the rest. */
function byReference(event: WebhookEvent): Partial<WebhookEvent['data']> {
  if (event.event === 'LIVE_EVENT') {
    const { eventId, streamId, status } = event.data;
    return { eventId, streamId, status };
  }
  if (event.event === 'VIDEO_ASSET') {
    const { videoId, status } = event.data;
    return { videoId, status };
  }
  const { streamId, status } = event.data;
  return { streamId, status };
}

export interface OutboxRow {
  sequence: number;
  body: string;
}

export interface PlannedMessage {
  sequence: number;
  body: WebhookEvent;
  trimmed: boolean;
}

/** Consecutive batches in sequence order, each within the message count and byte budget. */
export function planBatches(rows: OutboxRow[], limits: QueueLimits = QUEUE_LIMITS): PlannedMessage[][] {
  const batches: PlannedMessage[][] = [];
  let current: PlannedMessage[] = [];
  let currentBytes = 0;
  for (const row of rows) {
    const { body, trimmed } = fitBody(JSON.parse(row.body) as WebhookEvent, limits);
    const bytes = bodyBytes(JSON.stringify(body));
    if (current.length > 0 && (current.length >= limits.maxMessages || currentBytes + bytes > limits.maxBatchBytes)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push({ sequence: row.sequence, body, trimmed });
    currentBytes += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
