// POST /v1/videos/imports (issue 13): a video fetched from a URL by an origin in the background. The URL follows the
// rules webhooks follow (origin/vod/import-url.ts: https to a public host, no credentials in it, no private, link-local,
// metadata or loopback literal host; plain http only to loopback under the local-development switch), judged here and
// again by the origin at every redirect and on every address the host resolves to. The video is created (waiting) and
// its import started (importing, a job of kind 'import' owed by its VideoObject). The URL is kept for the job, never
// shown nor logged (a presigned URL's query is a credential).
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { jsonBody, problem, security } from './openapi-parts.ts';
import { ApiError } from '../problem.ts';
import { log } from '../log.ts';
import { loopbackAllowed } from '../public-host.ts';
import { videoObject, videoOutcome } from '../videos.ts';
import type { VideoResult } from '../video-object.ts';
import { importUrlProblem } from '../../origin/vod/import-url.ts';
import { newId, newPlaybackId } from '../../shared/identifiers.ts';
import { single } from '../../shared/schemas/common.ts';
import { CreateImportRequest, Video } from '../../shared/schemas/video.ts';

export const videoImportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

videoImportRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/videos/imports',
    operationId: 'create-video-import',
    summary: 'Import a video from a URL',
    description: [
      'Creates a video (status importing) fetched by an origin in the background from `url`: https:// to a public host (a presigned',
      'S3 URL works; no user:password@), never a private, link-local, loopback or cloud metadata address, also after redirects and',
      'whatever the name resolves to; plain http:// only to loopback in local development. The fetch resumes after a dropped',
      'connection, retries 5xx and 429 with backoff, and fails the video with a reason on a 4xx, an answer that is not a video file,',
      'a file over the size limit (20 GiB by default) or the deadline. Progress rises while importing, then while processing.',
    ].join(' '),
    tags: ['Videos'],
    security,
    request: jsonBody(CreateImportRequest),
    responses: {
      201: { description: 'The video, importing', content: { 'application/json': { schema: single(Video) } } },
      400: problem('Invalid request (a URL that may not be imported from names the field url)'),
      401: problem('Missing or invalid credentials'),
    },
  }),
  async (c) => {
    const request = CreateImportRequest.parse(c.req.valid('json'));
    const refusal = importUrlProblem(request.url, loopbackAllowed(c.env.WEBHOOK_ALLOW_HTTP_LOOPBACK, c.req.url));
    if (refusal) throw new ApiError(400, 'invalid-request', 'Invalid request', `url: ${refusal}`, { errors: [{ field: 'url', message: refusal }] });
    const workspaceId = c.get('workspaceId');
    const videoId = newId('vid', 16);
    const video = videoObject(c.env, videoId);
    const created = (await video.create({
      videoId,
      workspaceId,
      source: 'import',
      title: request.title ?? null,
      metadata: request.metadata ?? {},
      playbackId: newPlaybackId(),
      accessPolicy: request.accessPolicy,
      sourceUrl: request.url,
    })) as VideoResult;
    if (!created.ok) throw new ApiError(500, 'internal-error', 'Internal error', 'the video could not be created');
    const started = (await video.importStarted()) as VideoResult;
    const { host } = new URL(request.url);
    log('video_import_created', { videoId, workspaceId, host });
    return c.json({ data: videoOutcome(started, videoId, c.req.url) }, 201);
  },
);
