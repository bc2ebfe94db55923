// /internal/media: the origin stores recordings, clips and their thumbnails in R2 through the edge — one PUT for a
// small object, R2 multipart (create, parts, complete) for a large one. Signed like every /internal call.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../problem.ts';
import { isStorableKey } from '../media-storage.ts';

export const internalMediaRoutes = new Hono<AppEnv>();

/** R2 needs parts of at least 5 MiB (but the last); the origin sends 16 MiB, so 20 MiB bounds one request. */
export const MAX_MEDIA_REQUEST_BYTES = 20 * 1024 * 1024;

function keyOf(c: Context<AppEnv>): string {
  const key = decodeURIComponent(new URL(c.req.url).pathname.replace(/^\/internal\/media\//, ''));
  if (!isStorableKey(key)) {
    throw new ApiError(400, 'invalid-key', 'Invalid key', 'media keys live under recordings/ or clips/ with plain names');
  }
  return key;
}

const contentType = (c: Context<AppEnv>) => c.req.header('content-type') ?? 'application/octet-stream';

internalMediaRoutes.put('/*', async (c) => {
  const key = keyOf(c);
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
  const key = keyOf(c);
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
