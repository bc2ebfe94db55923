// /internal: the origin-facing API (ingest authorization and event batches), HMAC-signed with ORIGIN_SECRET.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { streamObject } from '../streams.ts';
import { ApiError } from '../problem.ts';
import { Problem } from '../../shared/schemas/common.ts';
import {
  AuthorizeIngestRequest,
  AuthorizeIngestResponse,
  OriginEventBatch,
  OriginEventBatchResponse,
  type OriginEvent,
  type OriginEventOutcome,
} from '../../shared/schemas/internal.ts';
import { sha256Hex } from '../../shared/identifiers.ts';
import { log } from '../log.ts';

export const internalRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

internalRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/ingest/authorize',
    summary: 'May this encoder publish? Accepting it opens or resumes the session.',
    tags: ['Internal'],
    request: { body: { content: { 'application/json': { schema: AuthorizeIngestRequest } }, required: true } },
    responses: {
      200: { description: 'Accepted', content: { 'application/json': { schema: AuthorizeIngestResponse } } },
      403: { description: 'Refused, with the reason', content: { 'application/problem+json': { schema: Problem } } },
    },
  }),
  async (c) => {
    const request = c.req.valid('json');
    const keyHash = await sha256Hex(request.streamKey);
    const row = await c.env.DB.prepare('SELECT stream_id FROM stream_keys WHERE key_hash = ?')
      .bind(keyHash)
      .first<{ stream_id: string }>();
    const result = row
      ? await streamObject(c.env, row.stream_id).authorize({
          keyHash,
          protocol: request.protocol,
          originId: request.originId,
          originUrl: request.originUrl,
          check: request.check ?? false,
        })
      : ({ ok: false, refusal: 'unknown_stream_key', detail: 'no stream has this key' } as const);
    log('ingest_authorize', {
      streamId: row?.stream_id ?? null,
      protocol: request.protocol,
      originId: request.originId,
      check: request.check ?? false,
      outcome: result.ok ? (result.grant.resume ? 'resumed' : 'accepted') : result.refusal,
    });
    if (!result.ok) {
      throw new ApiError(403, 'ingest-refused', 'Ingest refused', result.detail, { reason: result.refusal });
    }
    return c.json(result.grant, 200);
  },
);

internalRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/events',
    summary: 'A batch of origin events, applied in order per stream; ids already seen change nothing.',
    tags: ['Internal'],
    request: { body: { content: { 'application/json': { schema: OriginEventBatch } }, required: true } },
    responses: {
      200: { description: 'Per-event outcome', content: { 'application/json': { schema: OriginEventBatchResponse } } },
    },
  }),
  async (c) => {
    const { events } = c.req.valid('json');
    const byStream = new Map<string, OriginEvent[]>();
    for (const event of events) byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event]);
    const outcomes = new Map<string, OriginEventOutcome>();
    await Promise.all(
      [...byStream].map(async ([streamId, streamEvents]) => {
        for (const outcome of await streamObject(c.env, streamId).applyOriginEvents(streamEvents)) {
          outcomes.set(outcome.id, outcome);
        }
      }),
    );
    return c.json({ results: events.map((e) => outcomes.get(e.id)!) }, 200);
  },
);
