// /internal/media: an origin reads and writes R2 through the edge — session media (live/), recordings and clips. One PUT
// for a small object, R2 multipart (create, parts, complete) for a large one, GET to read one back (whole when it is
// within MAX_MEDIA_READ_BYTES, else in `Range: bytes=a-b` pieces of at most that; HEAD gives the size). Signed like
// every /internal call, and each key must be covered by a media grant (shared/media-grant.ts) issued to the signing origin.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../problem.ts';
import { isStorableKey } from '../media-storage.ts';
import { contentRange, resolveByteRange } from '../byte-range.ts';
import { MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../shared/media-grant.ts';
import { log } from '../log.ts';

export const internalMediaRoutes = new Hono<AppEnv>();

/** R2 needs parts of at least 5 MiB (but the last); the origin sends 16 MiB, so 20 MiB bounds one request. */
export const MAX_MEDIA_REQUEST_BYTES = 20 * 1024 * 1024;
/**
 * The most one GET response hands back, a whole object or one byte range (segments and playlists are far smaller; it is
 * streamed, not buffered). Larger objects (a recording's MP4) are read in ranges.
 */
export const MAX_MEDIA_READ_BYTES = 64 * 1024 * 1024;

/** Every key family an origin may touch needs a grant for the signer: a session's durable media, recordings, clips. */
const GRANT_REQUIRED = /^(live|recordings|clips|videos)\//;

function keyOf(c: Context<AppEnv>): string {
  const key = decodeURIComponent(new URL(c.req.url).pathname.replace(/^\/internal\/media\//, ''));
  if (!isStorableKey(key)) {
    throw new ApiError(400, 'invalid-key', 'Invalid key', 'media keys live under live/, recordings/, clips/ or videos/ with plain names');
  }
  return key;
}

/** The signer of this request, as the origin-signature middleware verified it (never a header taken on trust). */
function signerOf(c: Context<AppEnv>): string | null {
  return c.get('originId') || null;
}

/** The key, once a grant covering it for the signer is shown (403 otherwise). */
async function grantedKey(c: Context<AppEnv>): Promise<string> {
  const key = keyOf(c);
  const grant = c.req.header(MEDIA_GRANT_HEADER);
  // keyOf admits only these families today; the test keeps a family added there from going ungranted by default.
  if (!GRANT_REQUIRED.test(key)) throw new ApiError(400, 'invalid-key', 'Invalid key', 'media keys live under live/, recordings/, clips/ or videos/');
  const originId = signerOf(c);
  const verdict = originId
    ? await verifyMediaGrant(c.env.ORIGIN_SECRET, grant, originId, key, Date.now())
    : ({ ok: false, reason: 'wrong-origin' } as const);
  if (!verdict.ok) {
    log('media_grant_refused', { key: key.slice(0, 120), method: c.req.method, originId, reason: verdict.reason });
    throw new ApiError(403, 'media-grant-refused', 'Forbidden', `no media grant covers this key for this origin (${verdict.reason})`, {
      reason: verdict.reason,
    });
  }
  return key;
}

const contentType = (c: Context<AppEnv>) => c.req.header('content-type') ?? 'application/octet-stream';

/**
 * A refusal of a read that tells the reader how to ask instead: the object's size and the largest response, in the
 * problem body (ApiError's extras carry neither) and headers (Content-Range on a 416, as RFC 9110 §15.5.17 wants).
 */
function readProblem(c: Context<AppEnv>, status: 413 | 416, type: string, title: string, detail: string, size: number): Response {
  const body = { type: `https://riverhead.dev/problems/${type}`, title, status, detail, instance: new URL(c.req.url).pathname, size, maxRangeBytes: MAX_MEDIA_READ_BYTES };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'accept-ranges': 'bytes' };
  if (status === 416) headers['content-range'] = `bytes */${size}`;
  return new Response(JSON.stringify(body), { status, headers });
}

const tooLargeForOneRead = (c: Context<AppEnv>, size: number) =>
  readProblem(c, 413, 'read-in-ranges', 'Object too large for one response',
    `the object is ${size} bytes; one response carries at most ${MAX_MEDIA_READ_BYTES}: ask with Range: bytes=first-last pieces of at most that`, size);

function objectHeaders(object: R2Object): Record<string, string> {
  return { 'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream', etag: object.httpEtag, 'accept-ranges': 'bytes' };
}

// Hono answers HEAD with this handler (c.req.method stays HEAD): the size and type only, so a reader can plan its ranges.
internalMediaRoutes.get('/*', async (c) => {
  const key = await grantedKey(c);
  const rangeHeader = c.req.header('range');
  if (c.req.method === 'HEAD' || rangeHeader !== undefined) {
    const head = await c.env.MEDIA.head(key);
    if (!head) throw new ApiError(404, 'not-found', 'Not found', 'no object has this key');
    if (c.req.method === 'HEAD') return new Response(null, { headers: { ...objectHeaders(head), 'content-length': String(head.size) } });
    const decision = resolveByteRange(rangeHeader, head.size);
    if (decision.kind === 'unsatisfiable') {
      return readProblem(c, 416, 'range-not-satisfiable', 'Range not satisfiable', `the object is ${head.size} bytes; the range asked for lies outside it`, head.size);
    }
    if (decision.kind === 'partial') {
      if (decision.length > MAX_MEDIA_READ_BYTES) {
        return readProblem(c, 413, 'range-too-large', 'Range too large',
          `one range carries at most ${MAX_MEDIA_READ_BYTES} bytes (this one asked for ${decision.length} of ${head.size})`, head.size);
      }
      // Only the version just measured: an object replaced in between answers without a body, and the reader asks again.
      const part = await c.env.MEDIA.get(key, { range: { offset: decision.offset, length: decision.length }, onlyIf: { etagMatches: head.etag } });
      if (!part || !('body' in part)) throw new ApiError(503, 'object-changed', 'Object changed', 'the object changed while it was read; ask again');
      return new Response(part.body, {
        status: 206,
        headers: { ...objectHeaders(part), 'content-length': String(decision.length), 'content-range': contentRange(decision, head.size)! },
      });
    }
    // A Range header this route does not take (several ranges, another unit) is ignored (RFC 9110 §14.2): the whole object.
  }
  const object = await c.env.MEDIA.get(key);
  if (!object) throw new ApiError(404, 'not-found', 'Not found', 'no object has this key');
  if (object.size > MAX_MEDIA_READ_BYTES) {
    await object.body.cancel();
    return tooLargeForOneRead(c, object.size);
  }
  return new Response(object.body, { headers: { ...objectHeaders(object), 'content-length': String(object.size) } });
});

internalMediaRoutes.put('/*', async (c) => {
  const key = await grantedKey(c);
  const uploadId = c.req.query('uploadId');
  const body = await c.req.arrayBuffer();
  if (uploadId) {
    const partNumber = Number(c.req.query('partNumber'));
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      throw new ApiError(400, 'invalid-part', 'Invalid part number', 'partNumber must be 1–10000');
    }
    const part = await c.env.MEDIA.resumeMultipartUpload(key, uploadId).uploadPart(partNumber, body);
    return c.json({ partNumber: part.partNumber, etag: part.etag });
  }
  const object = await c.env.MEDIA.put(key, body, { httpMetadata: { contentType: contentType(c) } });
  return c.json({ key, size: object.size, etag: object.etag }, 201);
});

internalMediaRoutes.post('/*', async (c) => {
  const key = await grantedKey(c);
  const action = c.req.query('action');
  if (action === 'create-multipart') {
    const upload = await c.env.MEDIA.createMultipartUpload(key, { httpMetadata: { contentType: contentType(c) } });
    return c.json({ key, uploadId: upload.uploadId }, 201);
  }
  if (action === 'complete-multipart') {
    const parsed = z
      .object({ uploadId: z.string().min(1), parts: z.array(z.object({ partNumber: z.number().int().min(1), etag: z.string() })).min(1) })
      .safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) throw new ApiError(400, 'invalid-request', 'Invalid request', 'send {uploadId, parts: [{partNumber, etag}]}');
    const object = await c.env.MEDIA.resumeMultipartUpload(key, parsed.data.uploadId).complete(parsed.data.parts);
    return c.json({ key, size: object.size, etag: object.etag }, 201);
  }
  throw new ApiError(400, 'invalid-action', 'Invalid action', 'action is create-multipart or complete-multipart');
});
