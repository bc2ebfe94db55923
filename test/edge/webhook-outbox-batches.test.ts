// The pure planner behind the StreamObject's webhook outbox: batches within the Queue's limits, oversized bodies trimmed.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { planBatches, fitBody, bodyBytes, QUEUE_LIMITS, TRUNCATED_METADATA_KEY } from '../../edge/webhook-outbox-batches.ts';
import type { WebhookEvent, LiveStreamWebhook, LiveEventWebhook } from '../../shared/schemas/webhook-event.ts';

function event(sequence: number, metadata: Record<string, string> = {}, reason: string | null = null): WebhookEvent {
  return {
    id: `evt_${sequence}`, type: 'video.live_stream.updated', event: 'UPDATED', sequence, timestamp: new Date(0).toISOString(),
    workspaceId: 'ws_1', streamId: 'ls_1', status: 'NOT_STARTED', sessionId: null, reason, subject: null,
    data: { streamId: 'ls_1', status: 'NOT_STARTED', metadata } as unknown as LiveStreamWebhook['data'],
  };
}
const row = (e: WebhookEvent) => ({ sequence: e.sequence, body: JSON.stringify(e) });

describe('planBatches', () => {
  it('keeps every batch within the count and byte limits, in sequence order, losing nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 250 }), (sizes) => {
        const rows = sizes.map((n, i) => row(event(i + 1, { k: 'x'.repeat(n) })));
        const batches = planBatches(rows);
        expect(batches.flat().map((m) => m.sequence)).toEqual(rows.map((r) => r.sequence));
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(QUEUE_LIMITS.maxMessages);
          const bytes = batch.reduce((sum, m) => sum + bodyBytes(JSON.stringify(m.body)), 0);
          expect(batch.length === 1 || bytes <= QUEUE_LIMITS.maxBatchBytes).toBe(true);
          for (const m of batch) expect(bodyBytes(JSON.stringify(m.body))).toBeLessThanOrEqual(QUEUE_LIMITS.maxMessageBytes);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('150 small events → 100 + 50', () => {
    const batches = planBatches(Array.from({ length: 150 }, (_, i) => row(event(i + 1))));
    expect(batches.map((b) => b.length)).toEqual([100, 50]);
  });

  it('counts wide characters twice (they serialize as two bytes)', () => {
    expect(bodyBytes('é'.repeat(1000))).toBe(1000 + 64);
    expect(bodyBytes('雪'.repeat(1000))).toBe(2000 + 64);
  });
});

describe('fitBody', () => {
  it('leaves a body within the limit alone', () => {
    const e = event(1, { name: 'launch' });
    expect(fitBody(e)).toEqual({ body: e, trimmed: false });
  });

  it('trims metadata and a long reason first, keeping identity, sequence and status', () => {
    const e = event(7, { big: '雪'.repeat(70_000) }, 'r'.repeat(5000));
    const { body, trimmed } = fitBody(e);
    expect(trimmed).toBe(true);
    expect(body).toMatchObject({ id: 'evt_7', sequence: 7, status: 'NOT_STARTED', event: 'UPDATED' });
    expect(Object.keys(body.data.metadata)).toEqual([TRUNCATED_METADATA_KEY]);
    expect(body.reason!.length).toBeLessThanOrEqual(1001);
    expect(bodyBytes(JSON.stringify(body))).toBeLessThanOrEqual(QUEUE_LIMITS.maxMessageBytes);
  });

  it('falls back to a reference to the stream when its view alone is too large', () => {
    const e = event(3);
    (e.data as unknown as Record<string, unknown>).profiles = 'p'.repeat(200_000);
    const { body } = fitBody(e);
    expect(body.data).toEqual({ streamId: 'ls_1', status: 'NOT_STARTED' });
    expect(body.id).toBe('evt_3');
  });

  it("trims a live event's webhook the same way, falling back to a reference to the event", () => {
    const e: LiveEventWebhook = {
      id: 'evt_9', type: 'video.live_event.live', event: 'LIVE_EVENT', sequence: 9, timestamp: new Date(0).toISOString(),
      workspaceId: 'ws_1', streamId: 'ls_1', liveEventId: 'le_1', status: 'LIVE_STATUS_LIVE', previousStatus: 'LIVE_STATUS_PREVIEW',
      operation: 'start', reason: null, sessionId: null, subject: null,
      data: { eventId: 'le_1', streamId: 'ls_1', status: 'LIVE_STATUS_LIVE', metadata: { big: 'x'.repeat(150_000) } } as unknown as LiveEventWebhook['data'],
    };
    const trimmed = fitBody(e);
    expect(trimmed.trimmed).toBe(true);
    expect(trimmed.body).toMatchObject({ event: 'LIVE_EVENT', liveEventId: 'le_1', sequence: 9, status: 'LIVE_STATUS_LIVE' });
    expect(Object.keys(trimmed.body.data.metadata)).toEqual([TRUNCATED_METADATA_KEY]);
    expect(trimmed.body.data.metadata[TRUNCATED_METADATA_KEY]).toContain('GET the live event');

    (e.data as unknown as Record<string, unknown>).name = 'n'.repeat(200_000);
    expect(fitBody(e).body.data).toEqual({ eventId: 'le_1', streamId: 'ls_1', status: 'LIVE_STATUS_LIVE' });
  });
});
