// /internal: the origin-facing API (ingest authorization and event batches), each call signed by one origin with its own
// secret; the signer (c.var.originId) is who the call speaks for, whatever its body says.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { fieldErrors, validationHook } from '../middleware/errors.ts';
import { streamObject } from '../streams.ts';
import { videoObject } from '../videos.ts';
import { ApiError } from '../problem.ts';
import { Problem } from '../../shared/schemas/common.ts';
import {
  AuthorizeIngestRequest,
  AuthorizeIngestResponse,
  ORIGIN_EVENT_LIMITS,
  OriginEvent,
  OriginEventBatch,
  OriginEventBatchResponse,
  isVideoEvent,
  type OriginEventOutcome,
} from '../../shared/schemas/internal.ts';
import { sha256Hex } from '../../shared/identifiers.ts';
import { log } from '../log.ts';

export const internalRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

internalRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/ingest/authorize',
    operationId: 'internal-authorize-ingest',
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
    if (request.originId !== c.var.originId) throw originMismatch(c.var.originId, request.originId);
    if (request.protocol === 'simulive') {
      // The origin's own simulive publisher: no key, the stream named and the one-time ticket its object issued.
      const simulive = await streamObject(c.env, request.streamId).authorize({
        simuliveTicket: request.simuliveTicket,
        protocol: 'simulive',
        originId: c.var.originId,
        originRegion: c.var.originRegion,
        originUrl: request.originUrl,
      });
      log('ingest_authorize', {
        streamId: request.streamId,
        protocol: 'simulive',
        originId: request.originId,
        check: false,
        outcome: simulive.ok ? (simulive.grant.resume ? 'resumed' : 'accepted') : simulive.refusal,
      });
      if (!simulive.ok) throw new ApiError(403, 'ingest-refused', 'Ingest refused', simulive.detail, { reason: simulive.refusal });
      return c.json(simulive.grant, 200);
    }
    const keyHash = await sha256Hex(request.streamKey);
    const row = await c.env.DB.prepare('SELECT stream_id FROM stream_keys WHERE key_hash = ?')
      .bind(keyHash)
      .first<{ stream_id: string }>();
    const result = row
      ? await streamObject(c.env, row.stream_id).authorize({
          keyHash,
          protocol: request.protocol,
          originId: c.var.originId,
          originRegion: c.var.originRegion,
          originUrl: request.originUrl,
          check: request.check ?? false,
          keyIdleHere: request.keyIdleHere,
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
    operationId: 'internal-post-events',
    summary: 'A batch of origin events, each validated on its own and applied in order per stream; ids already seen change nothing.',
    description:
      'The envelope (a list of 1–100 objects with an event id, signed) is all or nothing: 400 if malformed. Each event is then ' +
      'answered on its own, in the batch\'s order: applied, duplicate, refused (valid but the stream will not take it), ' +
      'rejected (invalid; the reason names the field) or retry (the stream could not be reached now).',
    tags: ['Internal'],
    request: { body: { content: { 'application/json': { schema: OriginEventBatch } }, required: true } },
    responses: {
      200: { description: 'One outcome per event, in order', content: { 'application/json': { schema: OriginEventBatchResponse } } },
      400: { description: 'The envelope is malformed', content: { 'application/problem+json': { schema: Problem } } },
    },
  }),
  async (c) => {
    const { events } = c.req.valid('json');
    const results: OriginEventOutcome[] = new Array(events.length);
    // Valid events grouped by stream, keeping the batch's order within each stream; an invalid one is answered now.
    const byStream = new Map<string, { index: number; event: OriginEvent }[]>();
    events.forEach((raw, index) => {
      const parsed = OriginEvent.safeParse(raw);
      if (!parsed.success) {
        const reason = clampReason(fieldErrors(parsed.error).map((e) => `${e.field}: ${e.message}`).join('; '));
        results[index] = { id: raw.id, outcome: 'rejected', reason };
        log('origin_event_rejected', { eventId: raw.id, streamId: shortField(raw.streamId), type: shortField(raw.type), reason });
        return;
      }
      const event = parsed.data;
      // A library video's job events go to its VideoObject (issue 13), grouped by videoId like a stream's by streamId.
      const key = isVideoEvent(event) ? `video:${event.data.videoId}` : event.streamId;
      byStream.set(key, [...(byStream.get(key) ?? []), { index, event }]);
    });
    await Promise.all(
      [...byStream].map(async ([key, entries]) => {
        const streamId = key.startsWith('video:') ? key.slice(6) : key;
        try {
          const outcomes: OriginEventOutcome[] = key.startsWith('video:')
            ? (await videoObject(c.env, streamId).applyVideoEvents(entries.map((e) => e.event).filter(isVideoEvent), c.get('originId'))).map((o) =>
                o.outcome === 'refused' ? { id: o.id, outcome: 'refused', reason: o.reason ?? 'refused' } : { id: o.id, outcome: o.outcome },
              )
            : await streamObject(c.env, streamId).applyOriginEvents(entries.map((e) => e.event), c.get('originId'));
          entries.forEach(({ index, event }, i) => {
            const outcome = outcomes[i];
            results[index] =
              outcome?.id === event.id
                ? 'reason' in outcome ? { ...outcome, reason: clampReason(outcome.reason) } : outcome
                : { id: event.id, outcome: 'retry', reason: 'the stream gave no answer for this event' };
          });
        } catch (error) {
          // The object failed or is unreachable: nothing says which of these it applied, and ids make a resend safe.
          log('origin_events_retry', { streamId, events: entries.length, error: clampReason(String(error)) });
          for (const { index, event } of entries) {
            results[index] = { id: event.id, outcome: 'retry', reason: 'the stream is unavailable; send again later' };
          }
        }
      }),
    );
    return c.json({ results }, 200);
  },
);

function originMismatch(signer: string, named: string): ApiError {
  return new ApiError(403, 'origin-mismatch', 'Forbidden', `signed by origin ${signer}, but the request names origin ${named}`);
}

function clampReason(reason: string): string {
  const max = ORIGIN_EVENT_LIMITS.outcomeReasonChars;
  return reason.length <= max ? reason : `${reason.slice(0, max - 1)}…`;
}

/** A field of an event that failed validation, fit for a log line: a short string, or nothing. */
function shortField(value: unknown): string | null {
  return typeof value === 'string' ? value.slice(0, ORIGIN_EVENT_LIMITS.eventIdChars) : null;
}
