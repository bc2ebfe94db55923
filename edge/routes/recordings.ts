// Sessions, recordings and clips of live streams: /v1/live/streams/{id}/sessions|recordings|clips, /v1/recordings,
// /v1/on-demand/{livestreamId}/live-clips.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import type { StreamObject } from '../stream-object.ts';
import { validationHook } from '../middleware/errors.ts';
import { problem, security } from './openapi-parts.ts';
import { streamObject } from '../streams.ts';
import { ApiError, notFound, problemResponse } from '../problem.ts';
import { decodeCursor, encodeCursor, keysetPage } from '../pagination.ts';
import { absoluteClip, absoluteRecording, absoluteSession } from '../media-urls.ts';
import { single, list, ListQuery } from '../../shared/schemas/common.ts';
import { StreamIdParam } from '../../shared/schemas/live-stream.ts';
import {
  Session,
  Recording,
  Clip,
  CreateClipRequest,
  RecordingIdParam,
  LivestreamIdParam,
  SessionsQuery,
} from '../../shared/schemas/recording.ts';

type RetryResult = Awaited<ReturnType<StreamObject['retryRecording']>>;

export const recordingRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });


recordingRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams/{streamId}/sessions',
    operationId: 'list-live-stream-sessions',
    summary: "A stream's sessions (one per broadcast; reconnects within the window stay in one)",
    description: 'Seed 002 fields, kept current from the origin\'s stats. `?record=1` lists recorded sessions only.',
    tags: ['Sessions'],
    security,
    request: { params: StreamIdParam, query: SessionsQuery },
    responses: { 200: { description: 'Newest first', content: { 'application/json': { schema: z.object({ data: z.array(Session) }) } } }, 404: problem('No such stream') },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const sessions = await streamObject(c.env, streamId).sessions(c.get('workspaceId'), c.req.valid('query').record === '1');
    if (!sessions) throw notFound(`live stream ${streamId}`);
    return c.json({ data: (sessions as Session[]).map((s) => absoluteSession(s, c.req.url)) }, 200);
  },
);

/** A page of recordings from the D1 index (newest first), each read from its stream's object. */
async function recordingPage(c: Context<AppEnv>, filter: { streamId?: string }, limit: number, cursor?: string) {
  const { rows: page, nextCursor } = await keysetPage<{ id: string; stream_id: string; created_at: string; expires_at: number | null }>(
    c.env.DB,
    {
      select: 'id, stream_id, created_at, expires_at',
      from: 'recordings',
      where: filter.streamId ? ['workspace_id = ?', 'stream_id = ?'] : ['workspace_id = ?'],
      params: filter.streamId ? [c.get('workspaceId'), filter.streamId] : [c.get('workspaceId')],
    },
    limit,
    cursor,
  );
  const byStream = new Map<string, string[]>();
  for (const row of page) byStream.set(row.stream_id, [...(byStream.get(row.stream_id) ?? []), row.id]);
  const found = new Map<string, Recording>();
  await Promise.all(
    [...byStream].map(async ([streamId, ids]) => {
      for (const recording of (await streamObject(c.env, streamId).recordings(c.get('workspaceId'), ids)) as Recording[]) {
        found.set(recording.id, recording);
      }
    }),
  );
  return {
    data: page
      .map((row) => {
        const recording = found.get(row.id);
        return recording && absoluteRecording(withExpiry(recording, row.expires_at), c.req.url);
      })
      .filter((r): r is Recording => r !== undefined),
    pagination: { nextCursor },
  };
}

recordingRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/recordings',
    operationId: 'list-recordings',
    summary: "The workspace's recordings, newest first",
    tags: ['Recordings'],
    security,
    request: { query: ListQuery },
    responses: { 200: { description: 'A page', content: { 'application/json': { schema: list(Recording) } } } },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid('query');
    return c.json(await recordingPage(c, {}, limit, cursor), 200);
  },
);

recordingRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams/{streamId}/recordings',
    operationId: 'list-live-stream-recordings',
    summary: "A stream's recordings, newest first",
    tags: ['Recordings'],
    security,
    request: { params: StreamIdParam, query: ListQuery },
    responses: { 200: { description: 'A page', content: { 'application/json': { schema: list(Recording) } } }, 404: problem('No such stream') },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    if (!(await streamObject(c.env, streamId).get(c.get('workspaceId')))) throw notFound(`live stream ${streamId}`);
    const { limit, cursor } = c.req.valid('query');
    return c.json(await recordingPage(c, { streamId }, limit, cursor), 200);
  },
);

/**
 * The recording's retention as the D1 index has it: a workspace's policy change lands there at once, its stream's
 * object learns of it when it next indexes the recording.
 */
function withExpiry(recording: Recording, expiresAt: number | null): Recording {
  if (recording.cleaned) return recording;
  return { ...recording, cleanable: expiresAt !== null, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
}

async function recordingIndexRow(c: Context<AppEnv>, recordingId: string): Promise<{ stream_id: string; expires_at: number | null }> {
  const row = await c.env.DB.prepare('SELECT stream_id, expires_at FROM recordings WHERE id = ? AND workspace_id = ?')
    .bind(recordingId, c.get('workspaceId'))
    .first<{ stream_id: string; expires_at: number | null }>();
  if (!row) throw notFound(`recording ${recordingId}`);
  return row;
}

async function recordingOwner(c: Context<AppEnv>, recordingId: string): Promise<string> {
  return (await recordingIndexRow(c, recordingId)).stream_id;
}

recordingRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/recordings/{recordingId}',
    operationId: 'get-recording',
    summary: 'Get a recording',
    tags: ['Recordings'],
    security,
    request: { params: RecordingIdParam },
    responses: { 200: { description: 'The recording', content: { 'application/json': { schema: single(Recording) } } }, 404: problem('No such recording') },
  }),
  async (c) => {
    const { recordingId } = c.req.valid('param');
    const indexed = await recordingIndexRow(c, recordingId);
    const recording = (await streamObject(c.env, indexed.stream_id).recording(c.get('workspaceId'), recordingId)) as Recording | null;
    if (!recording) throw notFound(`recording ${recordingId}`);
    return c.json({ data: absoluteRecording(withExpiry(recording, indexed.expires_at), c.req.url) }, 200);
  },
);

recordingRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/recordings/{recordingId}',
    operationId: 'delete-recording',
    summary: 'Delete a recording and its media',
    tags: ['Recordings'],
    security,
    request: { params: RecordingIdParam },
    responses: { 204: { description: 'Deleted' }, 404: problem('No such recording') },
  }),
  async (c) => {
    const { recordingId } = c.req.valid('param');
    const deleted = await streamObject(c.env, await recordingOwner(c, recordingId)).deleteRecording(c.get('workspaceId'), recordingId);
    if (!deleted) throw notFound(`recording ${recordingId}`);
    return c.body(null, 204);
  },
);

recordingRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/recordings/{recordingId}/retry',
    operationId: 'retry-recording',
    summary: 'Run a failed recording (or its failed MP4 export) again',
    description: 'A failed recording is looked for again in storage; a failed export is handed to an origin with capacity again.',
    tags: ['Recordings'],
    security,
    request: { params: RecordingIdParam },
    responses: {
      200: { description: 'Processing again', content: { 'application/json': { schema: single(Recording) } } },
      404: problem('No such recording'),
      409: problem('Neither the recording nor its export has failed'),
    },
  }),
  async (c) => {
    const { recordingId } = c.req.valid('param');
    const result = (await streamObject(c.env, await recordingOwner(c, recordingId)).retryRecording(c.get('workspaceId'), recordingId)) as RetryResult;
    if (result.ok) return c.json({ data: absoluteRecording(result.recording as Recording, c.req.url) }, 200);
    if (result.code === 'not_found') throw notFound(`recording ${recordingId}`);
    throw new ApiError(409, 'recording-not-failed', 'Recording has not failed', result.detail);
  },
);

recordingRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/live/streams/{streamId}/clips',
    operationId: 'create-live-clip',
    summary: 'Cut a clip from the live DVR window or the recording',
    description: 'startTime/endTime in seconds on the session timeline; `accurate` re-encodes only the partial GOPs at the edges.',
    tags: ['Clips'],
    security,
    request: { params: StreamIdParam, body: { content: { 'application/json': { schema: CreateClipRequest } }, required: true } },
    responses: {
      202: { description: 'Accepted; `video.live_stream.clip.ready` follows', content: { 'application/json': { schema: single(Clip) } } },
      400: problem('Bad range'),
      404: problem('No such stream'),
      429: {
        ...problem('Too many clips of this workspace are being cut; try again after Retry-After seconds'),
        headers: { 'Retry-After': { description: 'seconds to wait before asking again', schema: { type: 'integer' as const } } },
      },
      503: problem('The origin holding the session is unavailable'),
    },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const result = await streamObject(c.env, streamId).createClip(c.get('workspaceId'), c.req.valid('json'));
    if (result.ok) return c.json({ data: absoluteClip(result.clip as Clip, c.req.url) }, 202);
    if (result.code === 'not_found') throw notFound(`live stream ${streamId}`);
    if (result.code === 'busy') {
      const response = problemResponse(c, new ApiError(429, 'too-many-clip-jobs', 'Too many clip jobs', result.detail));
      response.headers.set('retry-after', String(result.retryAfterSeconds));
      return response as never;
    }
    if (result.code === 'invalid') {
      throw new ApiError(400, 'invalid-clip-range', 'Invalid clip range', result.detail, {
        errors: [{ field: result.field, message: result.detail }],
      });
    }
    throw new ApiError(503, 'origin-unavailable', 'Origin unavailable', result.detail);
  },
);

recordingRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/on-demand/{livestreamId}/live-clips',
    operationId: 'list-live-clips',
    summary: 'Clips cut from a live stream, newest first (seed 001)',
    tags: ['Clips'],
    security,
    request: { params: LivestreamIdParam, query: ListQuery },
    responses: { 200: { description: 'A page', content: { 'application/json': { schema: list(Clip) } } }, 404: problem('No such stream') },
  }),
  async (c) => {
    const { livestreamId } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const after = cursor ? decodeCursor(cursor).id : null;
    const page = await streamObject(c.env, livestreamId).clips(c.get('workspaceId'), limit, after);
    if (!page) throw notFound(`live stream ${livestreamId}`);
    const clips = page.clips as Clip[];
    const last = clips[clips.length - 1];
    return c.json({ data: clips.map((clip) => absoluteClip(clip, c.req.url)), pagination: { nextCursor: page.more && last ? encodeCursor(last.createdAt, last.id) : null } }, 200);
  },
);
