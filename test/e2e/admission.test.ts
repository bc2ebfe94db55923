// Cost-based admission on one origin with 1 capacity unit (one 1280x720 30 fps encode): a first 720p30 publisher
// gets its ladder (~0.74 units), a second is accepted source-only (its master lists one variant, its session's issues
// say why); with OVER_CAPACITY=refuse the second is refused at its publish, so a load balancer could try another origin.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, waitFor, type Stack, type StackOptions } from '../support/stack.ts';
import { Publishers } from '../support/encoder.ts';
import { loadSrtBinding } from '../../origin/srt/native.ts';

const options: StackOptions & { originEnv: Record<string, string> } = { capacity: 4, capacityUnits: 1, originEnv: {} };
let stack: Stack;
const publishers = new Publishers({ size: '1280x720', rate: 30 });
beforeAll(async () => {
  stack = await startStack(options);
});
afterEach(() => publishers.stopAll());
afterAll(async () => {
  await stack?.stop();
});

const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${stack.ports.rtmp}/live/${key}`;

/** The session's master playlist on the origin's disk, once it lists every rendition of its ladder. */
async function masterOf(streamId: string, sessionId: string): Promise<string> {
  const dir = path.join(stack.mediaDir, streamId, sessionId);
  return waitFor(`the master playlist of ${streamId}`, async () => {
    const ladder = JSON.parse(await readFile(path.join(dir, 'ladder.json'), 'utf8').catch(() => 'null')) as { renditions: unknown[] } | null;
    const master = await readFile(path.join(dir, 'master.m3u8'), 'utf8').catch(() => '');
    return ladder && variants(master) === ladder.renditions.length ? master : undefined;
  }, 30_000);
}
const variants = (master: string) => master.match(/#EXT-X-STREAM-INF/g)?.length ?? 0;

async function sessionOf(streamId: string): Promise<any> {
  return ((await stack.api('GET', `/live/streams/${streamId}/sessions`)).body.data as any[])[0];
}

describe('admission by cost', () => {
  it('accepts a second 720p publisher beyond capacity source-only, with the issue in its session', async () => {
    const first = await stack.createStream();
    publishers.start(rtmpUrl(first.streamKey));
    const firstLive = await stack.waitForStatus(first.streamId, 'STREAMING', 30_000);
    expect(variants(await masterOf(first.streamId, firstLive.currentSession.id))).toBe(3); // source + 480p + 360p
    expect(await stack.originMetric('riverhead_load_units')).toBeGreaterThan(0.7);

    const second = await stack.createStream();
    publishers.start(rtmpUrl(second.streamKey));
    const secondLive = await stack.waitForStatus(second.streamId, 'STREAMING', 30_000);
    const master = await masterOf(second.streamId, secondLive.currentSession.id);
    expect(variants(master)).toBe(1);
    expect(master).toContain('source/index.m3u8');
    const session = await waitFor('the source-only issue in the session', async () => {
      const s = await sessionOf(second.streamId);
      return s?.issues?.some((i: string) => i.startsWith('over-capacity-source-only:')) ? s : undefined;
    }, 20_000);
    expect(session.id).toBe(secondLive.currentSession.id);
    expect(await stack.originMetric('riverhead_source_only_publishes_total')).toBe(1);
    expect(await stack.originMetric('riverhead_capacity_units')).toBe(1);
    expect(await stack.originMetric('riverhead_load_sessions')).toBe(2);
    // The first stream's issues say nothing of capacity.
    expect(((await sessionOf(first.streamId))?.issues ?? []).some((i: string) => i.startsWith('over-capacity'))).toBe(false);
  });

  it('with OVER_CAPACITY=refuse, refuses the second publisher at its publish', async () => {
    await stack.stopOrigin();
    options.originEnv.OVER_CAPACITY = 'refuse';
    await stack.startOrigin();
    const first = await stack.createStream();
    publishers.start(rtmpUrl(first.streamKey));
    await stack.waitForStatus(first.streamId, 'STREAMING', 30_000);
    await waitFor('the first ladder counted', async () => ((await stack.originMetric('riverhead_load_units')) > 0.7 ? true : undefined), 20_000);

    const second = await stack.createStream();
    const refused = publishers.start(rtmpUrl(second.streamKey));
    const code = await Promise.race([refused.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 15_000))]);
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(await stack.originMetric('riverhead_publish_refusals_total', { reason: 'origin_at_capacity' })).toBe(1);
    expect((await stack.getStream(second.streamId)).status).toBe('NOT_STARTED');
    expect(stack.originLogs.some((line) => line.includes('"publish_refused"') && line.includes('origin_at_capacity'))).toBe(true);

    // Over SRT, the listener's hook rejects the caller before its handshake: SRT_REJX 1402 (overload).
    const binding = loadSrtBinding();
    const socket = binding.callerConnect('127.0.0.1', stack.ports.srt, { streamId: second.streamKey, passphrase: second.srtSecret });
    try {
      const state = await waitFor('the SRT caller to settle', async () => {
        const s = binding.callerState(socket);
        return ['connecting', 'opened', 'init'].includes(s.state) ? undefined : s;
      }, 8000);
      expect(state).toMatchObject({ state: 'broken', rejectReason: 1402 });
    } finally {
      binding.callerClose(socket);
    }
  });
});
