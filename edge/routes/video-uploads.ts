// Uploads of video files (issue 13): POST /v1/videos/uploads (access token) gives a one-time upload URL, and the URL's
// own routes under /uploads/{token} (the token is the credential) take the bytes — in parts for large files, resumable,
// or as one body — and complete the upload. The token never reaches a log line, nor a problem's `instance`.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { jsonBody, problem, security } from './openapi-parts.ts';
import { ApiError } from '../problem.ts';
import { log } from '../log.ts';
import { single } from '../../shared/schemas/common.ts';
import { CreateUploadRequest, VideoUpload } from '../../shared/schemas/video.ts';
import { MAX_ONE_SHOT_BYTES, MAX_PART_SIZE } from '../video/upload-plan.ts';
import { completeUpload, createUpload, partNumberOf, putPart, putWhole, uploadStatus } from '../video/uploads.ts';

export const videoUploadRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

videoUploadRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/videos/uploads',
    operationId: 'create-video-upload',
    summary: 'Create a video upload URL',
    description: [
      'Creates a video (status waiting) and a one-time upload URL for its file, valid for 24 hours. The URL takes no access token:',
      '`PUT {uploadUrl}/parts/{n}` (n = 1…maxParts; every part but the last exactly partSize bytes; a part sent again replaces it),',
      '`GET {uploadUrl}` lists the parts received (to resume), `POST {uploadUrl}/complete` puts them together and starts processing.',
      'A file of at most 100 MiB may instead be sent as one `PUT {uploadUrl}` body, completed at once. Every request with a body',
      'needs a Content-Length. `size` (optional, bytes) picks a larger partSize when 1000 parts of 16 MiB would not hold the file.',
    ].join(' '),
    tags: ['Videos'],
    security,
    request: jsonBody(CreateUploadRequest, false),
    responses: {
      201: { description: 'The upload URL', content: { 'application/json': { schema: single(VideoUpload) } } },
      400: problem('Invalid request (a size no upload can hold names the field)'),
      401: problem('Missing or invalid credentials'),
    },
  }),
  async (c) => {
    const input = CreateUploadRequest.parse(c.req.valid('json') ?? {});
    return c.json({ data: await createUpload(c.env, c.get('workspaceId'), input, c.req.url) }, 201);
  },
);

/** /uploads/{token}…'s body limit (its refusals masked like the routes'), instead of /v1's 64 KiB: a Content-Length is required up front (no buffering of a chunked body), a part or one file at most. */
export const MAX_UPLOAD_REQUEST_BYTES = Math.max(MAX_ONE_SHOT_BYTES, MAX_PART_SIZE);

export const uploadBodyLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== 'PUT' && c.req.method !== 'POST') return next();
  const length = c.req.header('content-length');
  if (c.req.raw.body && (length === undefined || c.req.header('transfer-encoding'))) {
    await c.req.raw.body.cancel().catch(() => undefined); // never read: the sender is told at once
    throw new ApiError(411, 'length-required', 'Length required', 'send the bytes with a Content-Length header (no chunked bodies)');
  }
  if (length !== undefined && Number(length) > MAX_UPLOAD_REQUEST_BYTES) {
    throw new ApiError(413, 'body-too-large', 'Request body too large', `one request carries at most ${MAX_UPLOAD_REQUEST_BYTES} bytes`);
  }
  return next();
};

/** The protocol's problems, with the token masked in `instance` (the edge's own mapping would echo the path). */
function uploadProblem(c: Context, error: ApiError): Response {
  const instance = new URL(c.req.url).pathname.replace(/^\/uploads\/[^/]*/, '/uploads/{token}');
  const body = { type: `https://riverhead.dev/problems/${error.type}`, title: error.title, status: error.status, ...(error.detail ? { detail: error.detail } : {}), instance, ...error.extras };
  return c.body(JSON.stringify(body), error.status, { 'content-type': 'application/problem+json' });
}

export const uploadProtocolRoutes = new Hono<AppEnv>();

uploadProtocolRoutes.onError((error, c) => {
  if (error instanceof ApiError) return uploadProblem(c, error);
  log('unhandled_error', { path: '/uploads/{token}', method: c.req.method, error: String(error) });
  return uploadProblem(c, new ApiError(500, 'internal-error', 'Internal error', 'something went wrong on our side'));
});

uploadProtocolRoutes.use('*', uploadBodyLimit);
// Answers about a one-time URL are for its holder, now: no cache keeps them (the URL is the credential).
uploadProtocolRoutes.use('*', async (c, next) => {
  await next();
  c.header('cache-control', 'no-store');
});

uploadProtocolRoutes.get('/:token', async (c) => c.json({ data: await uploadStatus(c.env, c.req.param('token')) }, 200));

uploadProtocolRoutes.put('/:token', async (c) =>
  c.json({ data: await putWhole(c.env, c.req.param('token'), c.req.header('content-length'), c.req.raw.body) }, 200),
);

uploadProtocolRoutes.put('/:token/parts/:n', async (c) => {
  const n = partNumberOf(c.req.param('n'));
  return c.json({ data: await putPart(c.env, c.req.param('token'), n, c.req.header('content-length'), c.req.raw.body) }, 200);
});

uploadProtocolRoutes.post('/:token/complete', async (c) => c.json({ data: await completeUpload(c.env, c.req.param('token')) }, 200));
