// Byte ranges on stored playback (a recording's MP4 in R2), per RFC 9110 §14: satisfiable ranges → 206, unsatisfiable
// or reversed ones → 416 with `Content-Range: bytes */size`, anything not understood → the whole object.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import { authorize, call, createStream, createWorkspace, json } from './helpers.ts';
import { resolveByteRange } from '../../edge/byte-range.ts';

const BODY = Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
let mp4Url: string;

/**
 * A recording of the older self-contained layout (recordings/{streamId}/{sessionId}/hls, MP4 next to it), indexed as
 * the StreamObject indexed such recordings once ready; recordings over durable media are in playback-durable.test.ts.
 */
beforeAll(async () => {
  const ws = await createWorkspace('playback-range');
  const stream = await createStream(ws, { record: true });
  const grant = await json(await authorize(stream.streamKey));
  const root = `recordings/${stream.streamId}/${grant.sessionId}`;
  const playbackId = `pbrange${grant.sessionId.slice(4)}`;
  await env.DB.prepare(
    `INSERT INTO playback_ids (id, stream_id, workspace_id, access_policy, kind, target_id, media_prefix)
     VALUES (?, ?, ?, 'public', 'recording', ?, ?)`,
  )
    .bind(playbackId, stream.streamId, ws.id, `rec_${grant.sessionId.slice(4)}`, `${root}/hls`)
    .run();
  await env.MEDIA.put(`${root}/recording.mp4`, BODY, { httpMetadata: { contentType: 'video/mp4' } });
  mp4Url = `/hls/${playbackId}/recording.mp4`;
});

const get = (range?: string) => call(mp4Url, range === undefined ? {} : { headers: { range } });

describe('Range on stored playback', () => {
  it('serves satisfiable ranges as 206 with their Content-Range', async () => {
    for (const [range, from, to] of [
      ['bytes=0-9', 0, 9],
      ['bytes=990-', 990, 999],
      ['bytes=-10', 990, 999],
      ['bytes=995-5000', 995, 999], // last-pos past the end is clamped
      ['bytes=-5000', 0, 999], // a suffix longer than the object is the whole object
      ['bytes=0-99999999999999999999999', 0, 999],
    ] as const) {
      const response = await get(range);
      expect(response.status, range).toBe(206);
      expect(response.headers.get('content-range'), range).toBe(`bytes ${from}-${to}/1000`);
      expect(await response.text(), range).toBe(BODY.slice(from, to + 1));
    }
  });

  it('answers reversed and unsatisfiable ranges with 416 and bytes */size, never a 5xx', async () => {
    for (const range of ['bytes=500-100', 'bytes=1000-', 'bytes=1000-1001', 'bytes=-0', 'bytes=99999999999999999999-']) {
      const response = await get(range);
      expect(response.status, range).toBe(416);
      expect(response.headers.get('content-range'), range).toBe('bytes */1000');
      expect(response.headers.get('content-type'), range).toBe('application/problem+json');
      expect((await json(response)).type, range).toBe('https://riverhead.dev/problems/range-not-satisfiable');
    }
  });

  it('serves the whole object for a Range it does not understand (RFC 9110: a server may ignore it)', async () => {
    for (const range of ['bytes=', 'bytes=-', 'items=0-9', 'bytes=a-b', 'bytes=0-1,5-6', 'bytes 0-9', '=0-9', 'bytes=--1', 'bytes=1-2-3']) {
      const response = await get(range);
      expect(response.status, range).toBe(200);
      expect(await response.text(), range).toBe(BODY);
    }
  });
});

describe('resolveByteRange', () => {
  it('decides from the header and the size alone', () => {
    expect(resolveByteRange(undefined, 10)).toEqual({ kind: 'whole' });
    expect(resolveByteRange('bytes=2-4', 10)).toEqual({ kind: 'partial', offset: 2, length: 3 });
    expect(resolveByteRange('bytes=4-2', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(resolveByteRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(resolveByteRange('bytes=-3', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(resolveByteRange(' BYTES=1-1 ', 10)).toEqual({ kind: 'partial', offset: 1, length: 1 });
  });
});
