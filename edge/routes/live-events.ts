// /v1/live/events: scheduled live events (seed 003) — create, list, get, update, delete, and the control operations
// /preview, /start, /end, /cancel, /archive, /reopen. The event lives in its stream's StreamObject; D1 indexes it.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import type { EventCommandResult } from '../event/event-flow.ts';
import { initialEventState } from '../event/event-machine.ts';
import { validationHook } from '../middleware/errors.ts';
import { streamObject } from '../streams.ts';
import { ApiError, notFound } from '../problem.ts';
import { ingestFor } from '../live-stream-view.ts';
import { keysetPage, workspaceFilters } from '../pagination.ts';
import { playbackIdsOfStream, purgePlaybackCache } from '../playback-cache.ts';
import { resolveZone } from './zones.ts';
import { jsonBody, problem, security, singleResponse } from './openapi-parts.ts';
import { log } from '../log.ts';
import { simuliveSourceState } from '../event/simulive-dispatch.ts';
import { STREAM_LIVE_PROBLEM } from '../low-latency/latency-mode-lock.ts';
import { list } from '../../shared/schemas/common.ts';
import {
  CreateLiveEventRequest,
  UpdateLiveEventRequest,
  LiveEvent,
  ListLiveEventsQuery,
  LiveEventIdParam,
  LiveEventOperationRequest,
  type SimuliveSource,
} from '../../shared/schemas/live-event.ts';
import { LIVE_EVENT_OPERATIONS, type LiveEventOperation } from '../../shared/live-event-vocabulary.ts';
import { newId, newStreamKey, newPlaybackId, sha256Hex } from '../../shared/identifiers.ts';
import { srtPassphraseFor } from '../../shared/srt-passphrase.ts';
import { deriveSrtPassphraseKey } from '../../shared/origin-credentials.ts';

export const liveEventRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const problems = {
  400: problem('Invalid request (errors[] names each field)'),
  401: problem('Missing or invalid credentials'),
  404: problem('No such live event in this workspace'),
  409: problem('Not allowed in the current status (allowedOperations names what is), or customId taken'),
};
const eventResponse = singleResponse(LiveEvent);

/** Stream settings an event's stream starts with; the event's own fields set the rest (record on, its resolution). */
const DEFAULT_RECONNECT_WINDOW_SECONDS = 60;
const DEFAULT_SRT_LATENCY_MS = 120;

const TITLES: Record<string, string> = {
  'operation-not-allowed': 'Operation not allowed',
  'event-in-progress': 'Live event in progress',
  'invalid-request': 'Invalid request',
  'simulive-source-not-ready': 'Simulive source not ready',
  [STREAM_LIVE_PROBLEM]: 'Stream is live',
};

/** The event a command returned, or the problem the API answers with (a refusal names the allowed operations). */
function eventOutcome(result: EventCommandResult, eventId: string): LiveEvent {
  if (result.ok) return result.event;
  if (result.code === 'not_found') throw notFound(`live event ${eventId}`);
  // The machine's invalid refusals start with the field at fault ("scheduledEndAt: must be after …").
  const field = result.httpStatus === 400 || result.type === STREAM_LIVE_PROBLEM ? /^([A-Za-z.]+): (.*)$/.exec(result.detail) : null;
  throw new ApiError(result.httpStatus, result.type, TITLES[result.type] ?? 'Refused', result.detail, {
    allowedOperations: result.allowedOperations,
    ...(field ? { errors: [{ field: field[1]!, message: field[2]! }] } : {}),
  });
}

interface EventRow {
  stream_id: string;
  custom_id: string | null;
}

/** The event's stream, from the index; another workspace's event does not exist here. */
async function locate(db: D1Database, workspaceId: string, eventId: string): Promise<EventRow> {
  const row = await db
    .prepare('SELECT stream_id, custom_id FROM live_events WHERE id = ? AND workspace_id = ?')
    .bind(eventId, workspaceId)
    .first<EventRow>();
  if (!row) throw notFound(`live event ${eventId}`);
  return row;
}

const isUniqueViolation = (error: unknown): boolean => /UNIQUE constraint failed/i.test(String(error));

const customIdTaken = (customId: string) =>
  new ApiError(409, 'custom-id-taken', 'customId taken', `customId: another live event of this workspace is ${customId}`, {
    errors: [{ field: 'customId', message: 'already used by another live event of this workspace' }],
  });

/**
 * A SIMULIVE source must be a recording of this workspace whose MP4 is built, or a ready video of its library
 * (edge/event/simulive-dispatch.ts says which MP4). At create a missing one is bad input (400); at /start (deleted
 * since) and while it is not ready yet, the event cannot go on now (409).
 */
async function checkSimuliveSource(env: AppEnv['Bindings'], workspaceId: string, source: SimuliveSource, at: 'create' | 'start'): Promise<void> {
  const found = await simuliveSourceState(env, workspaceId, source);
  if (found.state === 'ready') return;
  const { field, detail } = found;
  if (found.state === 'missing' && at === 'create') {
    throw new ApiError(400, 'invalid-request', 'Invalid request', `${field}: ${detail}`, { errors: [{ field, message: detail }] });
  }
  if (found.state === 'missing') {
    throw new ApiError(
      409,
      'simulive-source-not-ready',
      TITLES['simulive-source-not-ready']!,
      `the simulive source no longer exists (${detail}); cancel the event or reopen it with another`,
      { errors: [{ field, message: detail }] },
    );
  }
  throw new ApiError(409, 'simulive-source-not-ready', TITLES['simulive-source-not-ready']!, `${field}: ${detail}; try again once it is ready`, {
    errors: [{ field, message: detail }],
  });
}

/** Playback URLs as absolute URLs on the host the API was called on (the edge serves /hls too). */
function absolute(c: Context<AppEnv>, event: LiveEvent): LiveEvent {
  return {
    ...event,
    playbackUrls: {
      public: new URL(event.playbackUrls.public, c.req.url).href,
      preview: new URL(event.playbackUrls.preview, c.req.url).href,
    },
  };
}

const playbackIdsOf = (event: LiveEvent) => [event.playbackIds.public.id, event.playbackIds.preview.id];

liveEventRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/live/events',
    operationId: 'create-live-event',
    summary: 'Schedule a live event',
    description:
      'Creates the event and the live stream it owns (recorded, at its resolution). LIVE type: the answer carries the ' +
      'stream key and SRT secret in its ingest URLs, once. A start less than 12 h away makes it PREPARING at once.',
    tags: ['Live events'],
    security,
    request: jsonBody(CreateLiveEventRequest, true),
    responses: { 201: eventResponse('Scheduled'), 400: problems[400], 401: problems[401], 409: problems[409] },
  }),
  async (c) => {
    const request = CreateLiveEventRequest.parse(c.req.valid('json'));
    const workspaceId = c.get('workspaceId');
    if (request.simulive) await checkSimuliveSource(c.env, workspaceId, request.simulive, 'create');

    const eventId = newId('le', 16);
    const streamId = newId('ls', 16);
    const streamKey = newStreamKey();
    const srtSecret = await srtPassphraseFor(await deriveSrtPassphraseKey(c.env.ORIGIN_SECRET), streamKey); // what origins' SRT hooks derive too
    const zone = (await resolveZone(c.env.DB, null))!;
    const now = Date.now();
    const { state } = initialEventState(
      {
        type: request.type,
        broadcastMode: request.broadcastMode,
        scheduledStartAt: Date.parse(request.scheduledStartAt),
        scheduledEndAt: request.scheduledEndAt ? Date.parse(request.scheduledEndAt) : null,
        vod: { enabled: request.vod.enabled, startAt: null, endAt: null },
      },
      now,
    );
    // The index row first: it claims the customId (UNIQUE per workspace) and makes the event findable at once; the
    // object keeps it in step from then on.
    const at = new Date(now).toISOString();
    try {
      await c.env.DB.prepare(
        'INSERT INTO live_events (id, workspace_id, stream_id, custom_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
        .bind(eventId, workspaceId, streamId, request.customId ?? null, state.status, at, at)
        .run();
    } catch (error) {
      if (request.customId && isUniqueViolation(error)) throw customIdTaken(request.customId);
      throw error;
    }
    let event: LiveEvent;
    try {
      event = await streamObject(c.env, streamId).createEvent({
        streamId,
        workspaceId,
        keyHash: await sha256Hex(streamKey),
        srtSecret,
        playbackId: newPlaybackId(), // the stream's own: the event's preview id
        accessPolicy: request.security.accessPolicy,
        settings: {
          metadata: {},
          reconnectWindow: request.reconnectWindow ?? DEFAULT_RECONNECT_WINDOW_SECONDS,
          record: true,
          maxResolution: request.resolution,
          profiles: null,
          srtLatency: DEFAULT_SRT_LATENCY_MS,
          latencyMode: request.ullEnabled ? 'low' : 'standard', // the event's ullEnabled is its stream's latency mode
          ...zone,
        },
        eventId,
        publicPlaybackId: newPlaybackId(),
        request,
      });
    } catch (error) {
      await c.env.DB.prepare('DELETE FROM live_events WHERE id = ?').bind(eventId).run();
      log('live_event_create_failed', { eventId, streamId, error: String(error) });
      throw error;
    }
    return c.json({ data: absolute(c, withSecrets(c.env, event, streamKey, srtSecret)) }, 201);
  },
);

liveEventRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/events',
    operationId: 'list-live-events',
    summary: 'List live events',
    description: 'Newest first; filter by status or customId; follow pagination.nextCursor for the next page.',
    tags: ['Live events'],
    security,
    request: { query: ListLiveEventsQuery },
    responses: {
      200: { description: 'A page of live events', content: { 'application/json': { schema: list(LiveEvent) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor, status, customId } = c.req.valid('query');
    const workspaceId = c.get('workspaceId');
    const { where, params } = workspaceFilters(workspaceId, { status, custom_id: customId });
    const page = await keysetPage<{ id: string; stream_id: string; created_at: string }>(
      c.env.DB,
      { select: 'id, stream_id, created_at', from: 'live_events', where, params },
      limit,
      cursor,
    );
    const events = await Promise.all(page.rows.map((row) => streamObject(c.env, row.stream_id).getEvent(workspaceId, row.id)));
    return c.json(
      {
        data: (events as (LiveEvent | null)[]).filter((e): e is LiveEvent => e !== null).map((e) => absolute(c, e)),
        pagination: { nextCursor: page.nextCursor },
      },
      200,
    );
  },
);

liveEventRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/live/events/{eventId}',
    operationId: 'get-live-event',
    summary: 'Get a live event',
    description: 'With its status, the operations it allows now and its activity timeline.',
    tags: ['Live events'],
    security,
    request: { params: LiveEventIdParam },
    responses: { 200: eventResponse('The live event'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const workspaceId = c.get('workspaceId');
    const { stream_id } = await locate(c.env.DB, workspaceId, eventId);
    const event = await streamObject(c.env, stream_id).getEvent(workspaceId, eventId);
    if (!event) throw notFound(`live event ${eventId}`);
    return c.json({ data: absolute(c, event) }, 200);
  },
);

liveEventRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/live/events/{eventId}',
    operationId: 'update-live-event',
    summary: 'Update a live event',
    description:
      'name, customId, metadata and security any time; scheduledStartAt and broadcastMode only before LIVE, ' +
      'scheduledEndAt until the live part is over, the vod window until it has played (409 otherwise); ullEnabled ' +
      "(the stream's latencyMode) only while its stream is not live (409 stream-live).",
    tags: ['Live events'],
    security,
    request: { params: LiveEventIdParam, ...jsonBody(UpdateLiveEventRequest, true) },
    responses: { 200: eventResponse('Updated'), 400: problems[400], 401: problems[401], 404: problems[404], 409: problems[409] },
  }),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const patch = UpdateLiveEventRequest.parse(c.req.valid('json'));
    const workspaceId = c.get('workspaceId');
    const row = await locate(c.env.DB, workspaceId, eventId);
    const claimsCustomId = patch.customId !== undefined && patch.customId !== row.custom_id;
    if (claimsCustomId) {
      // Claimed in the index before the object takes it, so two events can never end up with the same one.
      try {
        await c.env.DB.prepare('UPDATE live_events SET custom_id = ? WHERE id = ?').bind(patch.customId, eventId).run();
      } catch (error) {
        if (patch.customId && isUniqueViolation(error)) throw customIdTaken(patch.customId);
        throw error;
      }
    }
    const result = await streamObject(c.env, row.stream_id).updateEvent(workspaceId, eventId, patch);
    if (!result.ok && claimsCustomId) {
      await c.env.DB.prepare('UPDATE live_events SET custom_id = ? WHERE id = ?').bind(row.custom_id, eventId).run();
    }
    const event = eventOutcome(result, eventId);
    // Who may watch, and when, may have changed: no cached answer may serve the old rules.
    if (patch.security || patch.scheduledStartAt || patch.vod || patch.broadcastMode) await purgePlaybackCache(c.env, playbackIdsOf(event));
    return c.json({ data: absolute(c, event) }, 200);
  },
);

liveEventRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/live/events/{eventId}',
    operationId: 'delete-live-event',
    summary: 'Delete a live event',
    description: 'Deletes the event and its stream; refused (409) while PREVIEW or LIVE: end or cancel it first.',
    tags: ['Live events'],
    security,
    request: { params: LiveEventIdParam },
    responses: { 204: { description: 'Deleted' }, 401: problems[401], 404: problems[404], 409: problems[409] },
  }),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const workspaceId = c.get('workspaceId');
    const { stream_id } = await locate(c.env.DB, workspaceId, eventId);
    const playbackIds = await playbackIdsOfStream(c.env.DB, stream_id); // read first: the delete removes the rows
    eventOutcome(await streamObject(c.env, stream_id).deleteEvent(workspaceId, eventId), eventId);
    // The object removes the row too (owed effect); gone here at once so the customId is free again.
    await c.env.DB.prepare('DELETE FROM live_events WHERE id = ?').bind(eventId).run();
    await purgePlaybackCache(c.env, playbackIds);
    return c.body(null, 204);
  },
);

const OPERATION_SUMMARIES: Record<LiveEventOperation, string> = {
  preview: 'Open the event for rehearsal (WAIT_FOR_PREVIEW → PREVIEW): the encoder may publish, the preview id plays',
  start: 'Go live (PREVIEW → LIVE; SIMULIVE from WAIT_FOR_PREVIEW): public playback opens',
  end: 'End the live part (LIVE → ENCODING or LIVE_END), or the VOD (VOD_READY/VOD → LIVE_END)',
  cancel: 'Close the event (any status before CLOSED → CLOSED)',
  archive: 'Archive the event (LIVE_END or CLOSED → ARCHIVED)',
  reopen: 'Schedule a closed event again (CLOSED → SCHEDULED or PREPARING), at a new start if given',
};

/** Only /reopen takes a body field (its new start); the others take none. */
const operationBody = (op: LiveEventOperation) => (op === 'reopen' ? LiveEventOperationRequest : z.object({}).strict());

for (const op of LIVE_EVENT_OPERATIONS) {
  const body = operationBody(op);
  liveEventRoutes.openapi(
    createRoute({
      method: 'post',
      path: `/live/events/{eventId}/${op}`,
      operationId: `${op}-live-event`,
      summary: OPERATION_SUMMARIES[op],
      description: 'Refused with 409 operation-not-allowed when the status does not allow it; allowedOperations names what does.',
      tags: ['Live events'],
      security,
      request: { params: LiveEventIdParam, ...jsonBody(body, false) },
      responses: {
        200: eventResponse('The event after the operation'),
        400: problems[400],
        401: problems[401],
        404: problems[404],
        409: problems[409],
      },
    }),
    async (c) => {
      const { eventId } = c.req.valid('param');
      const input: { scheduledStartAt?: string } = LiveEventOperationRequest.parse(c.req.valid('json') ?? {});
      const workspaceId = c.get('workspaceId');
      const { stream_id } = await locate(c.env.DB, workspaceId, eventId);
      const stub = streamObject(c.env, stream_id);
      if (op === 'start') {
        // A simulive's source must still be playable when it goes live (it may have been deleted meanwhile).
        const current = await stub.getEvent(workspaceId, eventId);
        if (!current) throw notFound(`live event ${eventId}`);
        if (current.simulive && current.allowedOperations.includes('start')) {
          await checkSimuliveSource(c.env, workspaceId, current.simulive, 'start');
        }
      }
      const event = eventOutcome(await stub.eventOperation(workspaceId, eventId, op, input), eventId);
      // The status decides what each playback id serves: no cached answer may outlive the change.
      await purgePlaybackCache(c.env, playbackIdsOf(event));
      return c.json({ data: absolute(c, event) }, 200);
    },
  );
}

/** The create answer is the only place the key and SRT secret are shown (in the ingest URLs), like a stream's. */
function withSecrets(env: AppEnv['Bindings'], event: LiveEvent, streamKey: string, srtSecret: string): LiveEvent {
  if (!event.ingest) return event; // SIMULIVE: no encoder publishes
  const endpoints = { ...env, INGEST_HOST: event.ingest.srt.host };
  return { ...event, ingest: ingestFor(endpoints, event.ingest.srt.latency, { streamKey, srtSecret }) };
}
