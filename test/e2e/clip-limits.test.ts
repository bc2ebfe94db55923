// Noisy neighbour at the API: clips of one workspace beyond its limit on the origin are answered 429 problem+json
// with Retry-After (the origin's own estimate), nothing is stored for them, and a clip is accepted again once the
// workspace's earlier clips are cut.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { Publishers } from '../support/encoder.ts';

let stack: Stack;
// The stream only has to be live: an encoder turned away on a slow moment comes back, as OBS would.
const publishers = new Publishers({ size: '854x480', reconnect: true });
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await publishers.stopAll();
  await stack?.stop();
});

/** The clip POST with its headers (stack.api keeps only status and body). */
async function postClip(streamId: string, body: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${stack.edgeUrl}/v1/live/streams/${streamId}/clips`, {
    method: 'POST',
    headers: { authorization: stack.auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

describe('clip jobs per workspace', () => {
  it('answers 429 with Retry-After beyond the workspace limit, and accepts again once clips are done', async () => {
    const stream = await stack.createStream();
    publishers.start(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`);
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    await waitFor('8 s of media', async () => {
      const sessions = (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data;
      return (sessions[0]?.sourceSegmentsDuration ?? 0) >= 8 ? true : undefined;
    }, 40_000);

    // Four at once: the origin holds two clips per workspace (one cutting, one waiting), the rest are refused.
    const answers = await Promise.all([0, 1, 2, 3].map((i) => postClip(stream.streamId, { startTime: 1 + i * 0.5, endTime: 6, accurate: true })));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429]);
    for (const r of refused) {
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 429, type: expect.stringMatching(/too-many-clip-jobs$/), detail: expect.stringMatching(/try again/) });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    // Only the accepted clips exist.
    const listed = (await stack.api('GET', `/on-demand/${stream.streamId}/live-clips?limit=100`)).body.data;
    expect(listed.map((c: any) => c.id).sort()).toEqual(accepted.map((a) => a.body.data.id).sort());

    await waitFor('the accepted clips to be cut', async () => {
      const clips = (await stack.api('GET', `/on-demand/${stream.streamId}/live-clips?limit=100`)).body.data;
      return clips.length === 2 && clips.every((c: any) => c.status === 'ready') ? true : undefined;
    }, 60_000);
    const again = await postClip(stream.streamId, { startTime: 2, endTime: 5 });
    expect(again.status).toBe(202);
  });
});
