// The scheduled live event resource (seed 003): what producers send (create, update, list) and what they get back.
// An event owns one live stream, created with it; the event adds the schedule, who may watch when, and what they get.
import { z } from '@hono/zod-openapi';
import {
  LIVE_EVENT_STATUSES,
  LIVE_EVENT_OPERATIONS,
  LIVE_TYPES,
  BROADCAST_MODES,
} from '../live-event-vocabulary.ts';
import { Timestamp, ListQuery } from './common.ts';
import { AccessPolicy, MaxResolution, Metadata, ReconnectWindow, Ingest } from './live-stream.ts';

export const LiveEventStatusSchema = z.enum(LIVE_EVENT_STATUSES).openapi('LiveEventStatus');
export const LiveEventOperationSchema = z.enum(LIVE_EVENT_OPERATIONS).openapi('LiveEventOperation');
export const LiveTypeSchema = z
  .enum(LIVE_TYPES)
  .openapi('LiveType', { description: 'LIVE_TYPE_LIVE: an encoder publishes; LIVE_TYPE_SIMULIVE: a recording is broadcast as live' });
export const BroadcastModeSchema = z.enum(BROADCAST_MODES).openapi('BroadcastMode', {
  description:
    'TRADITIONAL_LIVE: the live edge only (sliding window); DVR: start-over since the event went live; PLAYBACK: a VOD with full control (SIMULIVE only)',
});

/** An ISO 8601 instant as requests carry it; an offset is allowed, responses always answer in UTC. */
const Instant = z
  .string()
  .datetime({ offset: true, message: 'an ISO 8601 date-time, e.g. 2026-12-01T18:00:00Z' })
  .openapi({ format: 'date-time', example: '2026-12-01T18:00:00Z' });

export const CUSTOM_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
export const CustomId = z
  .string()
  .min(1, 'customId is 1 to 128 characters')
  .max(128, 'customId is 1 to 128 characters')
  .regex(CUSTOM_ID_PATTERN, 'customId may hold letters, digits, ".", "_", ":" and "-" only')
  .openapi({ description: 'your own id for the event, unique in the workspace', example: 'launch-2026' });

const EventName = z.string().min(1, 'name must not be empty').max(200, 'name is at most 200 characters');

/** A host name, or `*.` + a host name for any of its subdomains. */
const ALLOWED_DOMAIN_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const AllowedDomain = z
  .string()
  .max(253, 'a host name is at most 253 characters')
  .regex(ALLOWED_DOMAIN_PATTERN, 'a lower-case host name such as example.com, or *.example.com for its subdomains (no scheme, port or path)');

export const MAX_ALLOWED_DOMAINS = 50;
export const LiveEventSecurity = z
  .object({
    accessPolicy: AccessPolicy.openapi({ description: 'private: playback needs a signed token' }),
    allowedDomains: z
      .array(AllowedDomain)
      .max(MAX_ALLOWED_DOMAINS, `at most ${MAX_ALLOWED_DOMAINS} allowed domains`)
      .default([])
      .openapi({ description: "pages allowed to play the event (the Origin or Referer host); empty: any" }),
  })
  .strict()
  .openapi('LiveEventSecurity');
export type LiveEventSecurity = z.infer<typeof LiveEventSecurity>;

/** The Live-to-VOD window: when the VOD of the live part plays. */
export const VodWindowRequest = z
  .object({
    enabled: z.boolean(),
    startAt: Instant.nullable().default(null).openapi({ description: 'null: as soon as the VOD is ready' }),
    endAt: Instant.nullable().default(null).openapi({ description: 'null: open-ended' }),
  })
  .strict()
  .openapi('LiveEventVodWindowRequest');
export type VodWindowRequest = z.infer<typeof VodWindowRequest>;

/**
 * What a SIMULIVE event broadcasts: a recording of this workspace (`recordingId`) or a ready video of its library
 * (`videoId`: an upload, an import, a recording or a clip) — exactly one of the two.
 */
export const SimuliveSource = z
  .object({
    recordingId: z.string().min(1, 'recordingId is required').max(64).optional().openapi({ description: 'a recording of this workspace' }),
    videoId: z.string().min(1, 'videoId is required').max(64).optional().openapi({ description: 'a ready video of this workspace\'s library' }),
  })
  .strict()
  .superRefine((source, ctx) => {
    if (source.recordingId !== undefined && source.videoId !== undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give simulive.recordingId or simulive.videoId, not both' });
    }
  })
  .openapi('SimuliveSource');
export type SimuliveSource = z.infer<typeof SimuliveSource>;

const instantMs = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

type WindowFields = {
  scheduledStartAt?: string;
  scheduledEndAt?: string | null;
  vod?: { startAt: string | null; endAt: string | null };
};
/** The time checks both requests share, each naming its field. */
function checkWindows(body: WindowFields, ctx: z.RefinementCtx): void {
  const start = instantMs(body.scheduledStartAt);
  const end = instantMs(body.scheduledEndAt);
  if (start !== null && end !== null && end <= start) {
    ctx.addIssue({ code: 'custom', path: ['scheduledEndAt'], message: 'scheduledEndAt must be after scheduledStartAt' });
  }
  const vodStart = instantMs(body.vod?.startAt);
  const vodEnd = instantMs(body.vod?.endAt);
  if (vodStart !== null && vodEnd !== null && vodEnd <= vodStart) {
    ctx.addIssue({ code: 'custom', path: ['vod', 'endAt'], message: 'vod.endAt must be after vod.startAt' });
  }
}

export const CreateLiveEventRequest = z
  .object({
    name: EventName.optional(),
    customId: CustomId.optional(),
    type: LiveTypeSchema,
    broadcastMode: BroadcastModeSchema,
    resolution: MaxResolution.openapi({ description: "the highest rendition; the stream's maxResolution" }),
    security: LiveEventSecurity,
    ullEnabled: z.boolean().openapi({
      description:
        "ultra-low latency: true gives the event's stream latencyMode 'low' (Apple Low-Latency HLS: 0.2 s parts, blocking " +
        'playlist reload, about 1–2 s glass-to-glass with an LL-HLS player); false: standard HLS',
    }),
    scheduledStartAt: Instant.openapi({ description: 'may be in the past: the event is then PREPARING at once' }),
    scheduledEndAt: Instant.nullable().optional().openapi({ description: 'the live part ends by itself then; null: only on /end' }),
    vod: VodWindowRequest.default({ enabled: false, startAt: null, endAt: null }),
    simulive: SimuliveSource.optional().openapi({ description: 'required for, and only for, LIVE_TYPE_SIMULIVE' }),
    reconnectWindow: ReconnectWindow.optional(),
    metadata: Metadata.default({}),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.broadcastMode === 'BROADCAST_MODE_PLAYBACK' && body.type !== 'LIVE_TYPE_SIMULIVE') {
      ctx.addIssue({
        code: 'custom',
        path: ['broadcastMode'],
        message: 'BROADCAST_MODE_PLAYBACK plays a VOD: it needs type LIVE_TYPE_SIMULIVE',
      });
    }
    if (body.type === 'LIVE_TYPE_SIMULIVE' && !body.simulive?.recordingId && !body.simulive?.videoId) {
      ctx.addIssue({
        code: 'custom',
        path: ['simulive', 'recordingId'],
        message: 'a SIMULIVE event needs simulive.recordingId (a recording) or simulive.videoId (a library video) to broadcast',
      });
    }
    if (body.type === 'LIVE_TYPE_LIVE' && body.simulive) {
      ctx.addIssue({ code: 'custom', path: ['simulive'], message: 'simulive is only for type LIVE_TYPE_SIMULIVE' });
    }
    checkWindows(body, ctx);
  })
  .openapi('CreateLiveEventRequest');
export type CreateLiveEventRequest = z.infer<typeof CreateLiveEventRequest>;

export const UpdateLiveEventRequest = z
  .object({
    name: EventName.nullable().optional(),
    customId: CustomId.nullable().optional().openapi({ description: 'null removes it' }),
    scheduledStartAt: Instant.optional().openapi({ description: 'only before the event is LIVE' }),
    scheduledEndAt: Instant.nullable().optional().openapi({ description: 'only before the event is LIVE' }),
    vod: VodWindowRequest.optional().openapi({ description: 'replaces the whole window; only before the event is LIVE' }),
    security: LiveEventSecurity.optional().openapi({ description: 'replaces both settings; any time' }),
    broadcastMode: BroadcastModeSchema.optional().openapi({ description: 'only before the event is LIVE' }),
    ullEnabled: z
      .boolean()
      .optional()
      .openapi({ description: "sets the event's stream latencyMode (true: 'low'); only while the stream is not live (409 stream-live otherwise)" }),
    metadata: Metadata.optional(),
  })
  .strict()
  // Only said of a body that is otherwise valid: one holding just an unknown field is told about that field.
  .refine((body) => Object.keys(body).length > 0, {
    message: 'send at least one field to change',
    when: (payload) => payload.issues.length === 0,
  })
  .superRefine(checkWindows)
  .openapi('UpdateLiveEventRequest');
export type UpdateLiveEventRequest = z.infer<typeof UpdateLiveEventRequest>;

export const PlaybackRef = z.object({ id: z.string(), accessPolicy: AccessPolicy }).openapi('LiveEventPlaybackId');

export const LiveEventActivity = z
  .object({
    sequence: z.number().int().openapi({ description: 'per event, from 1' }),
    status: LiveEventStatusSchema,
    operation: LiveEventOperationSchema.nullable().openapi({ description: 'the control operation that caused it; null: the schedule or the stream' }),
    reason: z.string().nullable(),
    at: Timestamp,
  })
  .openapi('LiveEventActivity');
export type LiveEventActivity = z.infer<typeof LiveEventActivity>;

export const LiveEvent = z
  .object({
    eventId: z.string(),
    name: z.string().nullable(),
    customId: z.string().nullable(),
    type: LiveTypeSchema,
    broadcastMode: BroadcastModeSchema,
    resolution: MaxResolution,
    security: z.object({ accessPolicy: AccessPolicy, allowedDomains: z.array(z.string()) }),
    ullEnabled: z.boolean().openapi({ description: "true when the event's stream is in latencyMode 'low' (LL-HLS)" }),
    scheduledStartAt: Timestamp,
    scheduledEndAt: Timestamp.nullable(),
    vod: z.object({ enabled: z.boolean(), startAt: Timestamp.nullable(), endAt: Timestamp.nullable() }),
    simulive: z
      .object({ recordingId: z.string().optional(), videoId: z.string().optional() })
      .nullable()
      .openapi({ description: 'the source a SIMULIVE event broadcasts: a recording (recordingId) or a library video (videoId), exactly one' }),
    streamId: z.string().openapi({ description: 'the live stream the event owns' }),
    ingest: Ingest.nullable().openapi({ description: 'LIVE type only; the stream key and SRT secret only in the create answer' }),
    playbackIds: z.object({ public: PlaybackRef, preview: PlaybackRef }),
    playbackUrls: z.object({
      public: z.string().openapi({ description: 'viewers: opens at LIVE' }),
      preview: z.string().openapi({ description: 'the producer: rehearsal and live' }),
    }),
    status: LiveEventStatusSchema,
    allowedOperations: z.array(LiveEventOperationSchema).openapi({ description: 'the control operations the status allows now' }),
    liveStartedAt: Timestamp.nullable(),
    liveEndedAt: Timestamp.nullable(),
    activities: z.array(LiveEventActivity),
    metadata: z.record(z.string(), z.string()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('LiveEvent');
export type LiveEvent = z.infer<typeof LiveEvent>;

export const ListLiveEventsQuery = ListQuery.extend({
  status: LiveEventStatusSchema.optional(),
  customId: CustomId.optional(),
}).strict();

export const LiveEventIdParam = z.object({
  eventId: z.string().min(1).max(64).openapi({ param: { name: 'eventId', in: 'path' } }),
});

/** The optional body of a control operation: /reopen may move the start. */
export const LiveEventOperationRequest = z
  .object({
    scheduledStartAt: Instant.optional().openapi({ description: '/reopen only: the new start (default: the previous one)' }),
  })
  .strict()
  .openapi('LiveEventOperationRequest');
export type LiveEventOperationRequest = z.infer<typeof LiveEventOperationRequest>;
