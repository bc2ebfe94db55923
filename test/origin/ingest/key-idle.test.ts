// The origin's word in each authorize (keyIdleHere): no other encoder of the key is connected here or being admitted.
// True lets the edge resume a session it applied late after this origin gave up on the publish (edge/takeover.ts);
// it must be false while another encoder of the key is being admitted or publishes here, and true again once the
// earlier one was given up on, refused or has left. The edge is a stand-in recording each request.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizeOutcome, EdgeClient } from '../../../origin/edge-client.ts';
import type { EventOutbox } from '../../../origin/event-outbox.ts';
import { LiveIngest } from '../../../origin/ingest/live-ingest.ts';
import { createMetrics } from '../../../origin/metrics.ts';
import type { TranscodePool } from '../../../origin/pipeline/transcode-pool.ts';
import type { AuthorizeIngestRequest } from '../../../shared/schemas/internal.ts';
import { ingestGrant } from '../../support/declined-broadcast.ts';

let mediaDir = '';
beforeAll(async () => {
  mediaDir = await mkdtemp(path.join(os.tmpdir(), 'key-idle-'));
});
afterAll(async () => {
  await rm(mediaDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
});

/** An edge whose answers the test hands out one call at a time. */
function standInEdge() {
  const calls: { request: AuthorizeIngestRequest; answer: (outcome: AuthorizeOutcome | 'time out') => void }[] = [];
  const edge = {
    authorize: (request: AuthorizeIngestRequest, timeoutMs: number) =>
      new Promise<AuthorizeOutcome>((resolve, reject) => {
        const timeout = () => reject(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }));
        // 'time out': as fetch's AbortSignal.timeout would, once the call's whole deadline has passed.
        calls.push({ request, answer: (outcome) => (outcome === 'time out' ? setTimeout(timeout, timeoutMs) : resolve(outcome)) });
      }),
  } as unknown as EdgeClient;
  return { edge, calls };
}

function ingestWith(edge: EdgeClient) {
  const pool = {
    running: 0,
    capacity: 4,
    tryStart: () => ({ ok: false, reason: 'closed', capacity: 4, running: 0, message: 'test pool' }),
  } as unknown as TranscodePool;
  return new LiveIngest({
    originId: 'o1',
    publicUrl: 'http://127.0.0.1:9',
    mediaDir,
    statsIntervalMs: 60_000,
    edge,
    outbox: { enqueue: async () => undefined } as unknown as EventOutbox,
    pool,
    metrics: createMetrics({ liveStreams: () => 0, outboxDepth: () => 0 }),
    // One call, no retry: a failed call is a given-up publish (edge_unavailable).
    authorizeBudgetMs: 1500,
  });
}

const idleWord = (request: AuthorizeIngestRequest) => ('keyIdleHere' in request ? request.keyIdleHere : undefined);
const until = async (check: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('keyIdleHere in the authorize', () => {
  it('is false while another publish of the key is being admitted, true again once that one was given up on', async () => {
    const { edge, calls } = standInEdge();
    const ingest = ingestWith(edge);
    const admit = (streamKey: string) => ingest.admit({ streamKey, protocol: 'rtmp', remoteAddress: '127.0.0.1' }, () => undefined);
    const first = admit('sk_a');
    await until(() => calls.length === 1);
    const second = admit('sk_a');
    const otherKey = admit('sk_b');
    await until(() => calls.length === 3);
    expect(calls.map((c) => idleWord(c.request))).toEqual([true, false, true]);
    // The first call times out: the origin gives up on it (the edge may still apply it).
    calls[0]!.answer('time out');
    expect(await first).toMatchObject({ ok: false, reason: 'edge_unavailable' });
    expect(calls).toHaveLength(3); // a timed-out call is not tried again
    calls[1]!.answer({ ok: false, reason: 'already_live', detail: 'another encoder is publishing to this stream' });
    calls[2]!.answer({ ok: false, reason: 'already_live', detail: 'x' });
    await Promise.all([second, otherKey]);
    // The encoder reconnects: nothing of its key is here now.
    const again = admit('sk_a');
    await until(() => calls.length === 4);
    expect(idleWord(calls[3]!.request)).toBe(true);
    calls[3]!.answer({ ok: false, reason: 'stream_finished', detail: 'x' });
    await again;
  });

  it('is false while an encoder of the key publishes here, true again once it has left', async () => {
    const { edge, calls } = standInEdge();
    const ingest = ingestWith(edge);
    const admit = () => ingest.admit({ streamKey: 'sk_live', protocol: 'rtmp', remoteAddress: '127.0.0.1' }, () => undefined);
    const live = admit();
    await until(() => calls.length === 1);
    calls[0]!.answer({ ok: true, grant: ingestGrant('ls_live') });
    const admitted = await live;
    if (!admitted.ok) throw new Error(`not admitted: ${admitted.reason}`);

    const thief = admit();
    await until(() => calls.length === 2);
    expect(idleWord(calls[1]!.request)).toBe(false);
    calls[1]!.answer({ ok: false, reason: 'already_live', detail: 'x' });
    await thief;

    ingest.released(admitted.broadcast, 'peer closed');
    const back = admit();
    await until(() => calls.length === 3);
    expect(idleWord(calls[2]!.request)).toBe(true);
    calls[2]!.answer({ ok: false, reason: 'stream_finished', detail: 'x' });
    await back;
    await ingest.close();
  });
});
