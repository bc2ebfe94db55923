// /v1/live/streams: create, list, get, update, delete, enable, disable, complete, reset-stream-key.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { jsonBody, security, singleResponse } from './openapi-parts.ts';
import { seedCreateBody } from '../middleware/seed-create-body.ts';
import { streamObject, commandOutcome } from '../streams.ts';
import { notFound } from '../problem.ts';
import { ingestFor } from '../live-stream-view.ts';
import { Problem, list } from '../../shared/schemas/common.ts';
import {
  CreateLiveStreamRequest,
  UpdateLiveStreamRequest,
  LiveStream,
  ListLiveStreamsQuery,
  StreamIdParam,
} from '../../shared/schemas/live-stream.ts';
import { newId, newStreamKey, newPlaybackId, sha256Hex } from '../../shared/identifiers.ts';
import { srtPassphraseFor } from '../../shared/srt-passphrase.ts';
import { deriveSrtPassphraseKey } from '../../shared/origin-credentials.ts';
import { resolveZone } from './zones.ts';
import { keysetPage } from '../pagination.ts';
import { playbackIdsOfStream, purgePlaybackCache } from '../playback-cache.ts';

export const streamRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const problems = {
  400: { description: 'Invalid request', content: { 'application/problem+json': { schema: Problem } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'No such stream in this workspace', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'Not allowed in the current state', content: { 'application/problem+json': { schema: Problem } } },
};
/** DELETE's one option (issue 13): the stream's recordings and clips are kept unless this is 'true'. */
const DeleteStreamQuery = z
  .object({
    deleteMedia: z.enum(['true', 'false']).optional().openapi({ description: "'true' deletes the stream's recordings and clips and their media too" }),
  })
  .strict();
const streamResponse = singleResponse(LiveStream);

streamRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/live/streams',
    operationId: 'create-new-stream',
    summary: 'Create a live stream',
    description: 'Returns the stream key and SRT secret once, with ready-to-paste ingest URLs.',
    tags: ['Live streams'],
    security,
    middleware: [seedCreateBody] as const, // seed 001's nested body, folded into this flat one
    request: {
      body: {
        ...jsonBody(CreateLiveStreamRequest, false).body,
        description:
          "The flat body. Seed 001's nested body (SeedCreateLiveStreamRequest: playbackSettings, inputMediaSettings) is " +
          'accepted too, or both mixed when they agree; a field set both ways to different values is a 400 naming it.',
      },
    },
    responses: { 201: streamResponse('Created'), 400: problems[400], 401: problems[401] },
  }),
  async (c) => {
    const input = CreateLiveStreamRequest.parse(c.req.valid('json'));
    const zone = (await resolveZone(c.env.DB, input.zone))!;
    const streamId = newId('ls', 16);
    const streamKey = newStreamKey();
    const srtSecret = await srtPassphraseFor(await deriveSrtPassphraseKey(c.env.ORIGIN_SECRET), streamKey); // what origins' SRT hooks derive too
    const created = await streamObject(c.env, streamId).create({
      streamId,
      workspaceId: c.get('workspaceId'),
      keyHash: await sha256Hex(streamKey),
      srtSecret,
      playbackId: newPlaybackId(),
      accessPolicy: input.accessPolicy,
      settings: {
        metadata: input.metadata,
        reconnectWindow: input.reconnectWindow,
        record: input.record,
        maxResolution: input.maxResolution,
        profiles: input.profiles ?? null,
        srtLatency: input.srtLatency,
        playlistWindow: input.playlistWindow,
        latencyMode: input.latencyMode,
        ...zone,
      },
    });
    return c.json({ data: withSecrets(c.env, created, streamKey, srtSecret) }, 201);
  },
);

streamRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams',
    operationId: 'get-all-streams',
    summary: 'List live streams',
    description: 'Newest first; follow pagination.nextCursor for the next page.',
    tags: ['Live streams'],
    security,
    request: { query: ListLiveStreamsQuery },
    responses: {
      200: { description: 'A page of streams', content: { 'application/json': { schema: list(LiveStream) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor, status } = c.req.valid('query');
    const page = await keysetPage<{ id: string; created_at: string }>(
      c.env.DB,
      {
        select: 'id, created_at',
        from: 'streams',
        where: status ? ['workspace_id = ?', 'status = ?'] : ['workspace_id = ?'],
        params: status ? [c.get('workspaceId'), status] : [c.get('workspaceId')],
      },
      limit,
      cursor,
    );
    const streams = await Promise.all(page.rows.map((row) => streamObject(c.env, row.id).get(c.get('workspaceId'))));
    return c.json(
      {
        data: (streams as (LiveStream | null)[])
          .filter((s): s is LiveStream => s !== null)
          .map(({ activities: _a, ...s }) => s),
        pagination: { nextCursor: page.nextCursor },
      },
      200,
    );
  },
);

streamRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/streams/{streamId}',
    operationId: 'get-live-stream',
    summary: 'Get a live stream',
    description: 'With its status, activities (seed 000 timeline) and current session.',
    tags: ['Live streams'],
    security,
    request: { params: StreamIdParam },
    responses: { 200: streamResponse('The stream'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const stream = await streamObject(c.env, streamId).get(c.get('workspaceId'));
    if (!stream) throw notFound(`live stream ${streamId}`);
    return c.json({ data: stream }, 200);
  },
);

streamRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/live/streams/{streamId}',
    operationId: 'update-live-stream',
    summary: 'Update a live stream',
    description:
      'metadata, reconnectWindow, record, profiles, maxResolution, accessPolicy, srtLatency, playlistWindow, latencyMode ' +
      '(latencyMode only while the stream is not live: 409 stream-live naming the field otherwise).',
    tags: ['Live streams'],
    security,
    request: { params: StreamIdParam, ...jsonBody(UpdateLiveStreamRequest, true) },
    responses: { 200: streamResponse('Updated'), 400: problems[400], 401: problems[401], 404: problems[404], 409: problems[409] },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const zone = await resolveZone(c.env.DB, c.req.valid('json').zone);
    const result = await streamObject(c.env, streamId).update(c.get('workspaceId'), { ...c.req.valid('json'), ...zone });
    if (result.ok) {
      const accessPolicy = c.req.valid('json').accessPolicy;
      if (accessPolicy) {
        await c.env.DB.prepare('UPDATE playback_ids SET access_policy = ? WHERE stream_id = ?')
          .bind(accessPolicy, streamId)
          .run();
        // Every playback ID of the stream (recordings' and clips' too) follows the policy: none may serve the old one.
        await purgePlaybackCache(c.env, await playbackIdsOfStream(c.env.DB, streamId));
      } else if (c.req.valid('json').playlistWindow) {
        // Viewers' next playlist already follows the new window (the cached live answer carries it).
        await purgePlaybackCache(c.env, result.stream.playbackIds.map((p) => p.id));
      }
    }
    return c.json({ data: commandOutcome(result, streamId) }, 200);
  },
);

streamRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/live/streams/{streamId}',
    operationId: 'delete-live-stream',
    summary: 'Delete a live stream',
    description:
      'Disconnects a publishing encoder; the key stops working at once. Its recordings and clips stay (they play, and ' +
      'stay in the video library) unless `?deleteMedia=true`, which deletes them and their media too.',
    tags: ['Live streams'],
    security,
    request: { params: StreamIdParam, query: DeleteStreamQuery },
    responses: { 204: { description: 'Deleted' }, 400: problems[400], 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const deleteMedia = c.req.valid('query').deleteMedia === 'true';
    const playbackIds = await playbackIdsOfStream(c.env.DB, streamId); // read first: the delete removes the rows
    commandOutcome(await streamObject(c.env, streamId).remove(c.get('workspaceId'), { deleteMedia }), streamId);
    await purgePlaybackCache(c.env, playbackIds);
    return c.body(null, 204);
  },
);

const lifecycleCommands = [
  { method: 'put', suffix: 'live-enable', summary: 'Enable a live stream (back to NOT_STARTED)', run: 'enable', operationId: 'enable-live-stream' },
  { method: 'put', suffix: 'live-disable', summary: 'Disable a live stream (ingest refused)', run: 'disable', operationId: 'disable-live-stream' },
  { method: 'post', suffix: 'complete', summary: 'End the broadcast now (STOPPED)', run: 'complete', operationId: 'complete-live-stream' },
] as const;

for (const command of lifecycleCommands) {
  streamRoutes.openapi(
    createRoute({
      method: command.method,
      path: `/live/streams/{streamId}/${command.suffix}`,
      operationId: command.operationId,
      summary: command.summary,
      tags: ['Live streams'],
      security,
      request: { params: StreamIdParam },
      responses: { 200: streamResponse('The stream after the change'), 401: problems[401], 404: problems[404], 409: problems[409] },
    }),
    async (c) => {
      const { streamId } = c.req.valid('param');
      const result = await streamObject(c.env, streamId)[command.run](c.get('workspaceId'));
      // Disable and complete end the live session: its cached live pointer goes with it.
      if (result.ok && command.run !== 'enable') await purgePlaybackCache(c.env, result.stream.playbackIds.map((p) => p.id));
      return c.json({ data: commandOutcome(result, streamId) }, 200);
    },
  );
}

streamRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/live/streams/{streamId}/reset-stream-key',
    operationId: 'reset-stream-key',
    summary: 'Reset the stream key and SRT secret',
    description: 'Returns the new key once; the old key is refused at once and a publisher using it is disconnected.',
    tags: ['Live streams'],
    security,
    request: { params: StreamIdParam },
    responses: { 200: streamResponse('New key'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { streamId } = c.req.valid('param');
    const streamKey = newStreamKey();
    const srtSecret = await srtPassphraseFor(await deriveSrtPassphraseKey(c.env.ORIGIN_SECRET), streamKey); // what origins' SRT hooks derive too
    const result = await streamObject(c.env, streamId).resetStreamKey(c.get('workspaceId'), {
      keyHash: await sha256Hex(streamKey),
      srtSecret,
    });
    return c.json({ data: withSecrets(c.env, commandOutcome(result, streamId), streamKey, srtSecret) }, 200);
  },
);

/** The create and reset responses are the only place the key and SRT secret are ever shown. */
function withSecrets(env: AppEnv['Bindings'], stream: LiveStream, streamKey: string, srtSecret: string): LiveStream {
  // The view already chose the host (the stream's zone's, or the default): the secret URLs use the same one.
  const endpoints = { ...env, INGEST_HOST: stream.ingest.srt.host };
  return { ...stream, streamKey, srtSecret, ingest: ingestFor(endpoints, stream.srtLatency, { streamKey, srtSecret }) };
}
