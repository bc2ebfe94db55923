// /v1/videos: the video library (issue 13) — list, get, update, delete. Uploaded and imported videos live in their
// VideoObject; recording and clip videos are views of their stream's object (edge/video/library-rows.ts). D1's `videos`
// rows index both: lists, filters, and which of the two a videoId is. URLs are absolute on the host called.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { notFound } from '../problem.ts';
import { keysetPage, workspaceFilters } from '../pagination.ts';
import { purgePlaybackCache } from '../playback-cache.ts';
import { videoObject, videoOutcome } from '../videos.ts';
import { absoluteVideo } from '../video/video-document.ts';
import { problem, security, singleResponse } from './openapi-parts.ts';
import { deleteLibraryVideo, isLibraryRow, libraryVideo, libraryVideos, updateLibraryVideo, type VideoIndexRow } from '../video/library-rows.ts';
import { list } from '../../shared/schemas/common.ts';
import { ListVideosQuery, UpdateVideoRequest, Video, VideoIdParam } from '../../shared/schemas/video.ts';

export const videoRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const problems = {
  400: problem('Invalid request (errors[] names each field)'),
  401: problem('Missing or invalid credentials'),
  404: problem('No such video in this workspace'),
};
const videoResponse = singleResponse(Video);

/** The video's index row; another workspace's video does not exist here. */
async function locate(db: D1Database, workspaceId: string, videoId: string): Promise<VideoIndexRow> {
  const row = await db.prepare('SELECT * FROM videos WHERE id = ? AND workspace_id = ?').bind(videoId, workspaceId).first<VideoIndexRow>();
  if (!row) throw notFound(`video ${videoId}`);
  return row;
}

videoRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/videos',
    operationId: 'list-videos',
    summary: 'List videos',
    description: 'Newest first, uploads, imports, recordings and clips alike; filter by status and source; follow pagination.nextCursor.',
    tags: ['Videos'],
    security,
    request: { query: ListVideosQuery },
    responses: {
      200: { description: 'A page of videos', content: { 'application/json': { schema: list(Video) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor, status, source } = c.req.valid('query');
    const workspaceId = c.get('workspaceId');
    const { where, params } = workspaceFilters(workspaceId, { status, source });
    const page = await keysetPage<VideoIndexRow>(c.env.DB, { select: '*', from: 'videos', where, params }, limit, cursor);
    const [library, own] = await Promise.all([
      libraryVideos(c.env, page.rows),
      Promise.all(page.rows.filter((row) => !isLibraryRow(row)).map((row) => videoObject(c.env, row.id).get(workspaceId))),
    ]);
    const owned = new Map(own.flatMap((result) => (result.ok ? [[result.video.videoId, result.video] as const] : [])));
    // A video deleted between the index read and its object's answer is left out, not shown half.
    const videos = page.rows.flatMap((row) => {
      const video = isLibraryRow(row) ? library.get(row.id) : owned.get(row.id);
      return video ? [absoluteVideo(video, c.req.url)] : [];
    });
    return c.json({ data: videos, pagination: { nextCursor: page.nextCursor } }, 200);
  },
);

videoRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/videos/{videoId}',
    operationId: 'get-video',
    summary: 'Get a video',
    description: 'Its status (with progress while importing and processing, error once failed), media info and playback URLs once ready.',
    tags: ['Videos'],
    security,
    request: { params: VideoIdParam },
    responses: { 200: videoResponse('The video'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { videoId } = c.req.valid('param');
    const row = await locate(c.env.DB, c.get('workspaceId'), videoId);
    if (isLibraryRow(row)) {
      const video = await libraryVideo(c.env, row);
      if (!video) throw notFound(`video ${videoId}`);
      return c.json({ data: absoluteVideo(video, c.req.url) }, 200);
    }
    return c.json({ data: videoOutcome(await videoObject(c.env, videoId).get(c.get('workspaceId')), videoId, c.req.url) }, 200);
  },
);

videoRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/videos/{videoId}',
    operationId: 'update-video',
    summary: 'Update a video',
    description: 'title (null clears it) and metadata (replaced whole), in any status.',
    tags: ['Videos'],
    security,
    request: { params: VideoIdParam, body: { content: { 'application/json': { schema: UpdateVideoRequest } }, required: true } },
    responses: { 200: videoResponse('Updated'), 400: problems[400], 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { videoId } = c.req.valid('param');
    const patch = c.req.valid('json');
    const row = await locate(c.env.DB, c.get('workspaceId'), videoId);
    if (isLibraryRow(row)) {
      const video = await updateLibraryVideo(c.env, row, patch);
      if (!video) throw notFound(`video ${videoId}`);
      return c.json({ data: absoluteVideo(video, c.req.url) }, 200);
    }
    return c.json({ data: videoOutcome(await videoObject(c.env, videoId).update(c.get('workspaceId'), patch), videoId, c.req.url) }, 200);
  },
);

videoRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/videos/{videoId}',
    operationId: 'delete-video',
    summary: 'Delete a video',
    description:
      'Its media too: it stops being listed and playing at once, its files are deleted in the background. A recording or clip video deletes that recording or clip.',
    tags: ['Videos'],
    security,
    request: { params: VideoIdParam },
    responses: { 204: { description: 'Deleted' }, 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { videoId } = c.req.valid('param');
    const workspaceId = c.get('workspaceId');
    const row = await locate(c.env.DB, workspaceId, videoId);
    let playbackIds: string[];
    if (isLibraryRow(row)) {
      const video = await libraryVideo(c.env, row);
      if (!(await deleteLibraryVideo(c.env, row))) throw notFound(`video ${videoId}`);
      playbackIds = video ? video.playbackIds.map((p) => p.id) : [];
    } else {
      playbackIds = videoOutcome(await videoObject(c.env, videoId).delete(workspaceId), videoId, c.req.url).playbackIds.map((p) => p.id);
    }
    // A playback answer cached before the delete must not outlive it.
    await purgePlaybackCache(c.env, playbackIds);
    return c.body(null, 204);
  },
);
