// Live playback when the origin holding the session cannot answer: a 502 problem (or the origin's 404 as a problem),
// never an unhandled 500 and never an empty body without a type.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { authorize, call, createStream, createWorkspace, json } from './helpers.ts';

let originFetch: MockInstance<typeof fetch>;
let mode: 'down' | 'missing' = 'down';
beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => {
    if (mode === 'down') throw new Error('Network connection lost.');
    return new Response('no such file', { status: 404 });
  });
});
afterAll(() => originFetch.mockRestore());

describe('live playback with the origin unreachable', () => {
  it('answers 502 origin-unavailable for playlists and segments, 404 problem for what the origin lacks', async () => {
    const ws = await createWorkspace('origin-down');
    const stream = await createStream(ws);
    const grant = await json(await authorize(stream.streamKey));
    const playbackId = stream.playbackIds[0].id;
    for (const path of ['master.m3u8', `${grant.sessionId}/source/index.m3u8`, `${grant.sessionId}/source/seg_00001.ts`, 'thumbnail.jpg']) {
      mode = 'down';
      const down = await call(`/hls/${playbackId}/${path}`);
      expect(down.status, path).toBe(502);
      expect(down.headers.get('content-type'), path).toBe('application/problem+json');
      expect((await json(down)).type, path).toBe('https://riverhead.dev/problems/origin-unavailable');
      mode = 'missing';
      const missing = await call(`/hls/${playbackId}/${path.replace('1', '2')}`);
      expect(missing.status, path).toBe(404);
      expect(missing.headers.get('content-type'), path).toBe('application/problem+json');
    }
  });
});
