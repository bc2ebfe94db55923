// Live playback shares one origin fetch between viewers asking for the same file at once (per isolate). A viewer
// must never depend on another one: when the request that started the fetch is cancelled (its viewer hung up, as
// every waiting viewer does when the edge was frozen), the others still get an answer — not a hang that workerd
// ends with a bare 500.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { authorize, call, createStream, createWorkspace, json } from './helpers.ts';

const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nsource/index.m3u8\n';

let originFetch: MockInstance<typeof fetch>;
/** The origin's answer to each request: the first one for a URL can be made to hang until its caller gives up. */
let hangFirst = true;
const asked: string[] = [];
beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    asked.push(url);
    if (hangFirst && asked.filter((u) => u === url).length === 1) {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }
    return new Response(MASTER, { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
  });
});
afterAll(() => originFetch.mockRestore());

async function liveStream(name: string) {
  const ws = await createWorkspace(name);
  const stream = await createStream(ws);
  const grant = await json(await authorize(stream.streamKey));
  return { playbackId: stream.playbackIds[0].id as string, sessionId: grant.sessionId as string };
}

describe('a shared origin fetch never holds another viewer', () => {
  it('a viewer arriving while the first viewer’s fetch hangs, then is cancelled, is answered on its own', async () => {
    const { playbackId, sessionId } = await liveStream('shared-fetch-cancelled');
    const first = new AbortController();
    const firstAnswer = call(`/hls/${playbackId}/master.m3u8`, { signal: first.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(asked.some((u) => u.endsWith(`/${sessionId}/master.m3u8`))).toBe(true));
    const started = Date.now();
    const second = call(`/hls/${playbackId}/master.m3u8`);
    setTimeout(() => first.abort(new Error('viewer gone')), 100);
    await firstAnswer;
    const answer = await second;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain(`${sessionId}/source/index.m3u8`);
    // Well before the origin timeout (10 s) the first fetch would have needed to give up.
    expect(Date.now() - started).toBeLessThan(5000);
    // And the file is not wedged for the viewers after.
    const third = await call(`/hls/${playbackId}/master.m3u8`);
    expect(third.status).toBe(200);
    await third.arrayBuffer();
  }, 20_000);

  it('viewers waiting on a fetch that hangs follow one replacement fetch, not one each', async () => {
    const { playbackId, sessionId } = await liveStream('shared-fetch-stampede');
    const url = `/${sessionId}/master.m3u8`;
    const hung = call(`/hls/${playbackId}/master.m3u8`).catch((e: unknown) => e);
    await vi.waitFor(() => expect(asked.some((u) => u.endsWith(url))).toBe(true));
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(`/hls/${playbackId}/master.m3u8`)));
    for (const a of answers) {
      expect(a.status).toBe(200);
      await a.arrayBuffer();
    }
    // The hung fetch and the one that replaced it when the first waiter gave up on it.
    expect(asked.filter((u) => u.endsWith(url))).toHaveLength(2);
    await hung;
  }, 30_000);

  it('viewers at the same moment still share one fetch while it answers promptly', async () => {
    hangFirst = false;
    const { playbackId, sessionId } = await liveStream('shared-fetch-prompt');
    const before = asked.length;
    const answers = await Promise.all([1, 2, 3].map(() => call(`/hls/${playbackId}/${sessionId}/source/index.m3u8`)));
    for (const a of answers) {
      expect(a.status).toBe(200);
      await a.arrayBuffer();
    }
    expect(asked.slice(before).filter((u) => u.endsWith('/source/index.m3u8'))).toHaveLength(1);
  });
});
