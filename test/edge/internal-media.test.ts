// Durable media through /internal/media: live/, recordings/ and clips/ keys need a media grant for the signing origin;
// the authorize answer hands one out (with the session's prefix and, on a resume elsewhere, the origin it came from), GET
// reads back, whole within the cap or in byte ranges.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import { call, createStream, createWorkspace, heartbeatBody, json, originEvent, type Workspace } from './helpers.ts';
import { ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS } from '../../shared/schemas/origin-heartbeat.ts';
import { signRequest } from '../../shared/request-signing.ts';
import { deriveOriginSecret } from '../../shared/origin-credentials.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../shared/media-grant.ts';
import { MAX_MEDIA_READ_BYTES } from '../../edge/routes/internal-media.ts';

const MASTER = 'test-origin-secret';
const ORIGIN_A = 'media-origin-a';
const ORIGIN_B = 'media-origin-b';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('internal-media');
  for (const id of [ORIGIN_A, ORIGIN_B]) {
    await env.DB.prepare('INSERT OR IGNORE INTO origins (id, region, generation, created_at) VALUES (?, ?, 1, ?)')
      .bind(id, 'local', new Date().toISOString())
      .run();
  }
});

/** A call signed as `originId` with its own secret, as an origin makes it. */
async function asOrigin(originId: string, method: string, path: string, body: string | Uint8Array = '', headers: Record<string, string> = {}) {
  const signed = await signRequest(await deriveOriginSecret(MASTER, originId, 1), method, path, body);
  return call(path, {
    method,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
    headers: { ...signed, 'x-riverhead-origin': originId, 'content-type': 'application/octet-stream', ...headers },
  });
}

const grantFor = (originId: string, prefix: string, ttlMs = 60_000) =>
  issueMediaGrant(MASTER, { originId, prefixes: [prefix], expiresAt: Date.now() + ttlMs });

const authorizeAs = (originId: string, streamKey: string) =>
  asOrigin(originId, 'POST', '/internal/ingest/authorize', JSON.stringify({ streamKey, protocol: 'rtmp', originId, originUrl: 'http://127.0.0.1:9' }), {
    'content-type': 'application/json',
  });

describe('/internal/media with media grants', () => {
  const prefix = 'live/str_media/ses_media/';

  it('stores a live/ object only with a grant covering it for the signer, and reads it back', async () => {
    const key = `${prefix}source/abc123-00000.ts`;
    const grant = await grantFor(ORIGIN_A, prefix);
    expect((await asOrigin(ORIGIN_A, 'PUT', `/internal/media/${key}`, 'segment bytes')).status).toBe(403);
    const put = await asOrigin(ORIGIN_A, 'PUT', `/internal/media/${key}`, 'segment bytes', { [MEDIA_GRANT_HEADER]: grant, 'content-type': 'video/mp2t' });
    expect(put.status).toBe(201);
    expect(await (await env.MEDIA.get(key))!.text()).toBe('segment bytes');

    const read = await asOrigin(ORIGIN_A, 'GET', `/internal/media/${key}`, '', { [MEDIA_GRANT_HEADER]: grant });
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('video/mp2t');
    expect(await read.text()).toBe('segment bytes');
    const missing = await asOrigin(ORIGIN_A, 'GET', `/internal/media/${prefix}source/abc123-00001.ts`, '', { [MEDIA_GRANT_HEADER]: grant });
    expect(missing.status).toBe(404);
    expect((await asOrigin(ORIGIN_A, 'GET', `/internal/media/${key}`)).status).toBe(403);
  });

  it.each([
    ['another origin presenting it', ORIGIN_B, `${prefix}source/x-1.ts`, 'wrong-origin'],
    ['a key of another session', ORIGIN_A, 'live/str_media/ses_other/source/x-1.ts', 'not-covered'],
  ])('refuses %s', async (_what, signer, key, reason) => {
    const grant = await grantFor(ORIGIN_A, prefix);
    const response = await asOrigin(signer, 'PUT', `/internal/media/${key}`, 'x', { [MEDIA_GRANT_HEADER]: grant });
    expect(response.status).toBe(403);
    expect((await json(response)).reason).toBe(reason);
    expect(await env.MEDIA.head(key)).toBeNull();
  });

  // Every key family an origin writes needs a grant naming the signer and covering the key: live/ session media,
  // recordings/ (export jobs), clips/ (clip jobs). Each refusal is a 403 media-grant-refused saying why; nothing is stored.
  describe.each([
    ['live/', 'live/str_fam/ses_fam', 'live/str_fam/ses_other'],
    ['recordings/', 'recordings/rec_fam', 'recordings/rec_other'],
    ['clips/', 'clips/clip_fam', 'clips/clip_other'],
  ])('under %s', (_family, granted, otherPrefix) => {
    const key = `${granted}/out/file.bin`;

    it.each([
      ['no grant', ORIGIN_A, async () => null, 'missing'],
      ['a grant for another origin', ORIGIN_A, () => grantFor(ORIGIN_B, granted), 'wrong-origin'],
      ['a grant for another prefix', ORIGIN_A, () => grantFor(ORIGIN_A, otherPrefix), 'not-covered'],
      ['an expired grant', ORIGIN_A, () => grantFor(ORIGIN_A, granted, -1), 'expired'],
      ['a grant minted with another key', ORIGIN_A, () => issueMediaGrant('not-the-master', { originId: ORIGIN_A, prefixes: [granted], expiresAt: Date.now() + 60_000 }), 'mismatch'],
    ])('refuses a write with %s (403, media-grant-refused)', async (_what, signer, mint, reason) => {
      const grant = await mint();
      const response = await asOrigin(signer, 'PUT', `/internal/media/${key}`, 'x', grant ? { [MEDIA_GRANT_HEADER]: grant } : {});
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const problem = await json(response);
      expect(problem.type).toMatch(/\/media-grant-refused$/);
      expect(problem.reason).toBe(reason);
      expect(await env.MEDIA.head(key)).toBeNull();
      // Reads and multipart starts are refused alike.
      const read = await asOrigin(signer, 'GET', `/internal/media/${key}`, '', grant ? { [MEDIA_GRANT_HEADER]: grant } : {});
      expect(read.status).toBe(403);
      const start = await asOrigin(signer, 'POST', `/internal/media/${key}?action=create-multipart`, '', grant ? { [MEDIA_GRANT_HEADER]: grant } : {});
      expect(start.status).toBe(403);
    });

    it('stores and reads back with a valid grant', async () => {
      const grant = await grantFor(ORIGIN_A, granted);
      const put = await asOrigin(ORIGIN_A, 'PUT', `/internal/media/${key}`, 'granted bytes', { [MEDIA_GRANT_HEADER]: grant });
      expect(put.status).toBe(201);
      const read = await asOrigin(ORIGIN_A, 'GET', `/internal/media/${key}`, '', { [MEDIA_GRANT_HEADER]: grant });
      expect(read.status).toBe(200);
      expect(new TextDecoder().decode(await read.arrayBuffer())).toBe('granted bytes');
      // The same grant presented by another origin is refused, even for the key just stored.
      expect((await asOrigin(ORIGIN_B, 'GET', `/internal/media/${key}`, '', { [MEDIA_GRANT_HEADER]: grant })).status).toBe(403);
    });
  });

  it('refuses an expired grant and a multipart start without one', async () => {
    const expired = await grantFor(ORIGIN_A, prefix, -1);
    expect((await asOrigin(ORIGIN_A, 'PUT', `/internal/media/${prefix}a.ts`, 'x', { [MEDIA_GRANT_HEADER]: expired })).status).toBe(403);
    expect((await asOrigin(ORIGIN_A, 'POST', `/internal/media/${prefix}big.ts?action=create-multipart`)).status).toBe(403);
  });
});

// Objects above what one response carries (a recording's MP4) are read in byte ranges (RFC 9110): 206 with Content-Range,
// 416 outside the object, the whole object only within the cap, and a refusal naming the size and the way to ask.
describe('/internal/media reads in byte ranges', () => {
  const granted = 'recordings/rec_ranges';
  const smallKey = `${granted}/small.bin`;
  const bigKey = `${granted}/recording.mp4`;
  const small = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  const bigSize = MAX_MEDIA_READ_BYTES + 1024;
  /** byte i of the big object */
  const bigByte = (i: number) => (i * 7) % 256;
  let grant: string;

  beforeAll(async () => {
    grant = await grantFor(ORIGIN_A, granted);
    await env.MEDIA.put(smallKey, small, { httpMetadata: { contentType: 'video/mp4' } });
    const big = new Uint8Array(bigSize);
    for (let i = 0; i < bigSize; i++) big[i] = bigByte(i);
    await env.MEDIA.put(bigKey, big, { httpMetadata: { contentType: 'video/mp4' } });
  });

  const read = (key: string, headers: Record<string, string> = {}, method = 'GET') => asOrigin(ORIGIN_A, method, `/internal/media/${key}`, '', { [MEDIA_GRANT_HEADER]: grant, ...headers });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=990-', 990, 999],
    ['bytes=500-5000', 500, 999],
    ['bytes=-10', 990, 999],
  ])('answers %s with 206 and its Content-Range', async (range, first, last) => {
    const response = await read(smallKey, { range });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes ${first}-${last}/1000`);
    expect(response.headers.get('content-length')).toBe(String(last - first + 1));
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(small.subarray(first, last + 1));
  });

  it.each(['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=20-10'])('answers %s with 416 and the size', async (range) => {
    const response = await read(smallKey, { range });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe('bytes */1000');
    const problem = await json(response);
    expect(problem.type).toMatch(/\/range-not-satisfiable$/);
    expect(problem.size).toBe(1000);
  });

  it('serves a small object whole, and a Range it does not take as the whole object', async () => {
    for (const headers of [{}, { range: 'bytes=0-1,5-6' }] as Record<string, string>[]) {
      const response = await read(smallKey, headers);
      expect(response.status).toBe(200);
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(small);
    }
  });

  it('keeps the grant rules for ranged reads', async () => {
    const other = await grantFor(ORIGIN_A, 'recordings/rec_elsewhere');
    const response = await asOrigin(ORIGIN_A, 'GET', `/internal/media/${bigKey}`, '', { [MEDIA_GRANT_HEADER]: other, range: 'bytes=0-9' });
    expect(response.status).toBe(403);
    expect((await asOrigin(ORIGIN_B, 'GET', `/internal/media/${bigKey}`, '', { [MEDIA_GRANT_HEADER]: grant, range: 'bytes=0-9' })).status).toBe(403);
    expect((await read(`${granted}/none.mp4`, { range: 'bytes=0-9' })).status).toBe(404);
  });

  it('refuses an object over the cap whole (413 naming its size and the way to ask), and serves it in ranges', async () => {
    const whole = await read(bigKey);
    expect(whole.status).toBe(413);
    expect(whole.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(whole);
    expect(problem.type).toMatch(/\/read-in-ranges$/);
    expect(problem.size).toBe(bigSize);
    expect(problem.maxRangeBytes).toBe(MAX_MEDIA_READ_BYTES);
    expect(problem.detail).toMatch(/Range: bytes=/);

    const head = await read(bigKey, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bigSize));
    expect(head.headers.get('accept-ranges')).toBe('bytes');

    const first = bigSize - 2048;
    const tail = await read(bigKey, { range: `bytes=${first}-` });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${first}-${bigSize - 1}/${bigSize}`);
    const bytes = new Uint8Array(await tail.arrayBuffer());
    expect(bytes.length).toBe(2048);
    expect(bytes.every((b, i) => b === bigByte(first + i))).toBe(true);

    // One range is held to the cap too: an open-ended range from 0 asks for all of it.
    const tooLong = await read(bigKey, { range: 'bytes=0-' });
    expect(tooLong.status).toBe(413);
    expect((await json(tooLong)).type).toMatch(/\/range-too-large$/);
    const atCap = await read(bigKey, { range: `bytes=0-${MAX_MEDIA_READ_BYTES - 1}` });
    expect(atCap.status).toBe(206);
    expect(atCap.headers.get('content-length')).toBe(String(MAX_MEDIA_READ_BYTES));
    await atCap.body!.cancel();
  });
});

describe('the authorize answer carries the durable media grant', () => {
  it('grants the session prefix, and names the previous holder on a resume through another origin only', async () => {
    const stream = await createStream(ws);
    const first = await json(await authorizeAs(ORIGIN_A, stream.streamKey));
    expect(first.durablePrefix).toBe(`live/${stream.streamId}/${first.sessionId}/`);
    expect(first.resumeFrom).toBeNull();
    const verdict = await verifyMediaGrant(MASTER, first.mediaGrant, ORIGIN_A, `${first.durablePrefix}source/index.m3u8`, Date.now());
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(verdict.claims.expiresAt - Date.now()).toBeGreaterThan(23 * 3600_000);

    const done = async () =>
      asOrigin(ORIGIN_A, 'POST', '/internal/events', JSON.stringify({ events: [originEvent(stream.streamId, first.sessionId, 'publish_done', { reason: 'eof' })] }), {
        'content-type': 'application/json',
      });
    expect((await done()).status).toBe(200);
    const elsewhere = await json(await authorizeAs(ORIGIN_B, stream.streamKey));
    expect(elsewhere.sessionId).toBe(first.sessionId);
    expect(elsewhere.resume).toBe(true);
    expect(elsewhere.resumeFrom).toEqual({ originId: ORIGIN_A });
    expect((await verifyMediaGrant(MASTER, elsewhere.mediaGrant, ORIGIN_B, `${first.durablePrefix}x.ts`, Date.now())).ok).toBe(true);
    expect((await verifyMediaGrant(MASTER, elsewhere.mediaGrant, ORIGIN_A, `${first.durablePrefix}x.ts`, Date.now())).ok).toBe(false);

    const doneB = originEvent(stream.streamId, first.sessionId, 'publish_done', { reason: 'eof' });
    await asOrigin(ORIGIN_B, 'POST', '/internal/events', JSON.stringify({ events: [doneB] }), { 'content-type': 'application/json' });
    const same = await json(await authorizeAs(ORIGIN_B, stream.streamKey));
    expect(same.resume).toBe(true);
    expect(same.resumeFrom).toBeNull();
  });

  it('accepts media_durable from the origin holding the session', async () => {
    const stream = await createStream(ws);
    const grant = await json(await authorizeAs(ORIGIN_A, stream.streamKey));
    const event = originEvent(stream.streamId, grant.sessionId, 'media_durable', { renditions: 3, segments: 12, duration: 24.1, final: false });
    const response = await asOrigin(ORIGIN_A, 'POST', '/internal/events', JSON.stringify({ events: [event] }), { 'content-type': 'application/json' });
    expect((await json(response)).results).toEqual([{ id: event.id, outcome: 'applied' }]);
  });
});

describe('media grant renewal through the heartbeat', () => {
  const beat = (originId: string, renewGrants: { streamId: string; sessionId: string }[]) =>
    asOrigin(originId, 'POST', '/internal/origins/heartbeat', JSON.stringify(heartbeatBody(originId, [], { renewGrants })), { 'content-type': 'application/json' });
  const event = (originId: string, streamId: string, sessionId: string, type: string, data: unknown) =>
    asOrigin(originId, 'POST', '/internal/events', JSON.stringify({ events: [originEvent(streamId, sessionId, type, data)] }), { 'content-type': 'application/json' });

  it('gives the holder of a session a fresh grant on its prefix, and a non-holder none', async () => {
    const stream = await createStream(ws);
    const first = await json(await authorizeAs(ORIGIN_A, stream.streamKey));
    const session = { streamId: stream.streamId, sessionId: first.sessionId };
    const key = `${first.durablePrefix}source/abc123-00042.ts`;

    const holder = await beat(ORIGIN_A, [session]);
    expect(holder.status).toBe(200);
    const grants = (await json(holder)).grants;
    expect(grants).toEqual([{ ...session, mediaGrant: expect.any(String) }]);
    const verdict = await verifyMediaGrant(MASTER, grants[0].mediaGrant, ORIGIN_A, key, Date.now());
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(verdict.claims.prefixes).toEqual([first.durablePrefix]);
    if (verdict.ok) expect(verdict.claims.expiresAt - Date.now()).toBeGreaterThan(23 * 3600_000);
    // Another session's media stays out of it.
    expect((await verifyMediaGrant(MASTER, grants[0].mediaGrant, ORIGIN_A, `live/${stream.streamId}/ses_other/x.ts`, Date.now())).ok).toBe(false);

    // B does not hold the session: no grant (and no refusal of the beat itself); nor for a stream that does not exist.
    expect((await json(await beat(ORIGIN_B, [session]))).grants).toEqual([]);
    expect((await json(await beat(ORIGIN_A, [{ streamId: 'ls_nosuchstream', sessionId: first.sessionId }]))).grants).toEqual([]);

    // The encoder comes back through B: B holds the session now, A no longer gets grants for it.
    expect((await event(ORIGIN_A, stream.streamId, first.sessionId, 'publish_done', { reason: 'eof' })).status).toBe(200);
    expect((await json(await authorizeAs(ORIGIN_B, stream.streamKey))).sessionId).toBe(first.sessionId);
    expect((await json(await beat(ORIGIN_A, [session]))).grants).toEqual([]);
    const forB = (await json(await beat(ORIGIN_B, [session]))).grants;
    expect(forB).toHaveLength(1);
    expect((await verifyMediaGrant(MASTER, forB[0].mediaGrant, ORIGIN_B, key, Date.now())).ok).toBe(true);

    // Once the session's media is final in R2 there is nothing left to write: no more grants.
    const final = await event(ORIGIN_B, stream.streamId, first.sessionId, 'media_durable', { renditions: 1, segments: 3, duration: 6, final: true });
    expect((await json(final)).results[0].outcome).toBe('applied');
    expect((await json(await beat(ORIGIN_B, [session]))).grants).toEqual([]);
  });

  it('refuses a beat asking for more renewals than one beat may carry', async () => {
    const many = Array.from({ length: ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS + 1 }, (_, i) => ({ streamId: 'ls_many', sessionId: `ses_${i}` }));
    expect((await beat(ORIGIN_A, many)).status).toBe(400);
  });
});
