// POST /internal/events validates each event on its own: one invalid event is answered `rejected` with its reason,
// and the valid ones around it (same stream or another) are applied in order as if it were not there.
import { describe, it, expect, beforeAll } from 'vitest';
import { api, authorize, createStream, createWorkspace, getStream, json, originEvent, sendEvents, signedCall, type Workspace } from './helpers.ts';
import { ORIGIN_EVENT_LIMITS } from '../../shared/schemas/internal.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('internal-events');
});

/** The session's counters as the API shows them (kept current from the origin's stats events). */
const sourceSegments = async (streamId: string) => (await json(await api(ws, 'GET', `/live/streams/${streamId}/sessions`))).data[0].sourceSegments;

async function publishing() {
  const stream = await createStream(ws);
  const grant = await json(await authorize(stream.streamKey));
  return { stream, sessionId: grant.sessionId as string };
}

const stats = (issues: string[] | null, sourceSegments = 1) => ({
  sourceSegments,
  transcodedSegments: sourceSegments,
  sourceSegmentsDuration: 2 * sourceSegments,
  transcodedSegmentsDuration: 2 * sourceSegments,
  sourceBytes: 1000,
  transcodedBytes: 900,
  ingestRate: 500,
  outgoingRate: 450,
  isHealthy: issues === null,
  issues,
});

describe('POST /internal/events, one event at a time', () => {
  it('applies the valid events of a batch and rejects the one with an oversized issue message, naming the field', async () => {
    const a = await publishing();
    const b = await publishing();
    const longStderrLine = `[libx264 @ 0x55d0] ${'x'.repeat(ORIGIN_EVENT_LIMITS.issueChars * 3)}`;
    const batch = [
      originEvent(a.stream.streamId, a.sessionId, 'stats', stats(null, 1)),
      originEvent(a.stream.streamId, a.sessionId, 'stats', stats([longStderrLine], 2)),
      originEvent(b.stream.streamId, b.sessionId, 'stats', stats(['keyframe interval too long'], 7)),
      originEvent(a.stream.streamId, a.sessionId, 'publish_done', { reason: 'eof' }),
    ];
    const response = await sendEvents(batch);
    expect(response.status).toBe(200);
    const { results } = await json(response);
    expect(results.map((r: any) => [r.id, r.outcome])).toEqual([
      [batch[0]!.id, 'applied'],
      [batch[1]!.id, 'rejected'],
      [batch[2]!.id, 'applied'],
      [batch[3]!.id, 'applied'],
    ]);
    expect(results[1].reason).toMatch(/^data\.issues\.0: /);
    expect(results[1].reason.length).toBeLessThanOrEqual(ORIGIN_EVENT_LIMITS.outcomeReasonChars);
    expect(results[1].reason).not.toContain('xxxxxxxx'); // the reason names the field, it does not echo the value

    // Stream a: the valid stats landed and the publish_done after the poison was applied (ordering kept).
    const streamA = await getStream(ws, a.stream.streamId);
    expect(streamA.status).not.toBe('STREAMING');
    expect(streamA.activities.map((x: any) => x.event)).toContain('ON_PUBLISH_DONE');
    // Stream b: its stats applied though it shared the batch with the poison.
    const streamB = await getStream(ws, b.stream.streamId);
    expect(streamB.status).toBe('STREAMING');
    expect(await sourceSegments(b.stream.streamId)).toBe(7);

    // The rejected id is not remembered as seen: a corrected resend under the same id would still apply.
    const again = await json(await sendEvents([batch[2]!, batch[1]!]));
    expect(again.results.map((r: any) => r.outcome)).toEqual(['duplicate', 'rejected']);
  });

  it('rejects an event of an unknown type or with a missing field, and still answers for the rest', async () => {
    const a = await publishing();
    const good = originEvent(a.stream.streamId, a.sessionId, 'stats', stats(null, 3));
    const unknownType = originEvent(a.stream.streamId, a.sessionId, 'teleport', {});
    const { streamId: _drop, ...noStream } = originEvent(a.stream.streamId, a.sessionId, 'publish_done', { reason: 'eof' });
    const { results } = await json(await sendEvents([unknownType, noStream, good]));
    expect(results.map((r: any) => r.outcome)).toEqual(['rejected', 'rejected', 'applied']);
    expect(results[0].reason).toMatch(/^type: /);
    expect(results[1].reason).toMatch(/streamId/);
    expect(await sourceSegments(a.stream.streamId)).toBe(3);
  });

  it('still refuses a malformed envelope as a whole with 400 (no id to answer by, too many events, not a list)', async () => {
    const a = await publishing();
    const good = originEvent(a.stream.streamId, a.sessionId, 'stats', stats(null));
    expect((await signedCall('/internal/events', { events: [{ type: 'stats' }] })).status).toBe(400);
    expect((await signedCall('/internal/events', { events: 'all of them' })).status).toBe(400);
    expect((await signedCall('/internal/events', { events: [] })).status).toBe(400);
    expect((await signedCall('/internal/events', { events: [good], extra: 1 })).status).toBe(400);
    const tooMany = Array.from({ length: ORIGIN_EVENT_LIMITS.eventsPerBatch + 1 }, () => originEvent(a.stream.streamId, a.sessionId, 'stats', stats(null)));
    expect((await signedCall('/internal/events', { events: tooMany })).status).toBe(400);
  });
});
