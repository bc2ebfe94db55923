// A poison event at the head of the origin's outbox (an oversized issue text, as an origin from before the clamp
// queued it) reaches the real edge: the edge rejects that event only, the origin quarantines it, and the live
// stream's stats keep flowing behind it — the stream stays STREAMING past the edge's 10 s stats deadline.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { Publishers } from '../support/encoder.ts';

let stack: Stack;
// The stream only has to be live: an encoder turned away on a slow moment comes back, as OBS would.
const publishers = new Publishers({ size: '640x360', reconnect: true });
beforeAll(async () => {
  stack = await startStack({ originEnv: { STATS_INTERVAL_MS: '1000' } });
});
afterAll(async () => {
  await publishers.stopAll();
  await stack?.stop();
});

const sourceSegments = async (streamId: string): Promise<number> =>
  (await stack.api('GET', `/live/streams/${streamId}/sessions`)).body.data[0]?.sourceSegments ?? 0;

describe('one bad event on a live origin', () => {
  it('is quarantined, and the stream behind it keeps its stats and stays STREAMING', async () => {
    const stream = await stack.createStream();
    const poison = {
      id: 'oev_poison_0000000000000001',
      streamId: stream.streamId,
      sessionId: 'ses_from_an_older_origin',
      type: 'stats',
      at: new Date().toISOString(),
      data: {
        sourceSegments: 1, transcodedSegments: 1, sourceSegmentsDuration: 2, transcodedSegmentsDuration: 2,
        sourceBytes: 1, transcodedBytes: 1, ingestRate: 1, outgoingRate: 1, isHealthy: false,
        issues: [`[h264 @ 0x55d0a1e0] ${'error while decoding MB 12 7, bytestream -5 '.repeat(60)}`],
      },
    };
    // Left in the outbox by an earlier run; the restarted origin resumes with it at the head of the queue.
    await stack.stopOrigin();
    const outbox = path.join(stack.dir, 'origin-state', 'outbox');
    await mkdir(outbox, { recursive: true });
    await writeFile(path.join(outbox, '000000000001.json'), JSON.stringify(poison));
    await stack.startOrigin();

    publishers.start(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`);
    await stack.waitForStatus(stream.streamId, 'STREAMING', 30_000);
    await waitFor('the poison quarantined', async () => (stack.originLogs.some((l) => l.includes('outbox_event_quarantined') && l.includes(poison.id)) ? true : undefined), 20_000);

    // (Generous deadlines: on a loaded 2-core machine the first segment can take a while; without the fix none comes.)
    const first = await waitFor('stats from the live session', async () => ((await sourceSegments(stream.streamId)) > 0 ? sourceSegments(stream.streamId) : undefined), 30_000);
    // Past the edge's 10 s stats deadline: still live, and the counters still move.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect((await stack.getStream(stream.streamId)).status).toBe('STREAMING');
    await waitFor('the counters to move on', async () => ((await sourceSegments(stream.streamId)) > first ? true : undefined), 20_000);

    const quarantine = (await readFile(path.join(outbox, 'quarantine.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(quarantine.map((q) => q.eventId)).toEqual([poison.id]);
    expect(quarantine[0].reason).toMatch(/data\.issues\.0/);
  });
});
