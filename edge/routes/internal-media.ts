// /internal/media: an origin reads and writes R2 through the edge — session media (live/), recordings and clips. One PUT
// for a small object, R2 multipart (create, parts, complete) for a large one, GET to read one back. Signed like every
// /internal call, and each key must be covered by a media grant (shared/media-grant.ts) issued to the signing origin.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../problem.ts';
import { isStorableKey } from '../media-storage.ts';
import { MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../shared/media-grant.ts';
import { log } from '../log.ts';

export const internalMediaRoutes = new Hono<AppEnv>();

/** R2 needs parts of at least 5 MiB (but the last); the origin sends 16 MiB, so 20 MiB bounds one request. */
export const MAX_MEDIA_REQUEST_BYTES = 20 * 1024 * 1024;
/** The largest object one GET hands back (segments and playlists are far smaller; it is streamed, not buffered). */
export const MAX_MEDIA_READ_BYTES = 64 * 1024 * 1024;

/** Every key family an origin may touch needs a grant for the signer: a session's durable media, recordings, clips. */
const GRANT_REQUIRED = /^(live|recordings|clips)\//;

function keyOf(c: Context<AppEnv>): string {
  const key = decodeURIComponent(new URL(c.req.url).pathname.replace(/^\/internal\/media\//, ''));
  if (!isStorableKey(key)) {
    throw new ApiError(400, 'invalid-key', 'Invalid key', 'media keys live under live/, recordings/ or clips/ with plain names');
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
  if (!GRANT_REQUIRED.test(key)) throw new ApiError(400, 'invalid-key', 'Invalid key', 'media keys live under live/, recordings/ or clips/');
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

internalMediaRoutes.get('/*', async (c) => {
  const key = await grantedKey(c);
  const object = await c.env.MEDIA.get(key);
  if (!object) throw new ApiError(404, 'not-found', 'Not found', 'no object has this key');
  if (object.size > MAX_MEDIA_READ_BYTES) {
    await object.body.cancel();
    throw new ApiError(413, 'too-large', 'Object too large', `objects above ${MAX_MEDIA_READ_BYTES} bytes are not read through this route`);
  }
  return new Response(object.body, {
    headers: {
      'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'content-length': String(object.size),
      etag: object.httpEtag,
    },
  });
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
