// The record each lifecycle transition puts on the webhook Queue; it is also the webhook body customers receive.
import { z } from '@hono/zod-openapi';
import { LIFECYCLE_EVENTS, WEBHOOK_EVENT_TYPES } from '../lifecycle-vocabulary.ts';
import { LIVE_EVENT_WEBHOOK_TYPES } from '../live-event-vocabulary.ts';
import { LiveEvent, LiveEventOperationSchema, LiveEventStatusSchema } from './live-event.ts';
import { StreamStatusSchema, LiveStream } from './live-stream.ts';
import { Timestamp } from './common.ts';
import { VIDEO_WEBHOOK_TYPES } from '../video-vocabulary.ts';
import { Video, VideoStatusSchema } from './video.ts';

/** A stream's lifecycle event (seed 000). */
export const LiveStreamWebhook = z
  .object({
    id: z.string().openapi({ description: 'unique per event; the webhook-id header' }),
    type: z.enum(WEBHOOK_EVENT_TYPES as [string, ...string[]]),
    event: z.enum(LIFECYCLE_EVENTS).openapi({ description: 'seed 000 event name' }),
    sequence: z.number().int().openapi({ description: 'per stream, starts at 1, no gaps' }),
    timestamp: Timestamp,
    workspaceId: z.string(),
    streamId: z.string(),
    status: StreamStatusSchema,
    sessionId: z.string().nullable(),
    reason: z.string().nullable(),
    subject: z
      .object({ kind: z.enum(['recording', 'clip', 'destination']), id: z.string() })
      .nullable()
      .openapi({ description: 'the recording or clip a *.ready event is about, or the destination a destination.* event is about' }),
    data: LiveStream.omit({ activities: true, streamKey: true, srtSecret: true }),
  })
  .openapi('LiveStreamWebhook');
export type LiveStreamWebhook = z.infer<typeof LiveStreamWebhook>;

/**
 * A live event's change (seed 003): each status change, and its creation, update and deletion. It travels through its
 * stream's outbox, numbered by the stream's one sequence, so a stream's and its event's webhooks share one order.
 */
export const LiveEventWebhook = z
  .object({
    id: z.string().openapi({ description: 'unique per event; the webhook-id header' }),
    type: z.enum(LIVE_EVENT_WEBHOOK_TYPES as [string, ...string[]]),
    event: z.literal('LIVE_EVENT').openapi({ description: 'tells these apart from the stream lifecycle events' }),
    sequence: z.number().int().openapi({ description: "per stream (shared with the stream's own webhooks), from 1, no gaps" }),
    timestamp: Timestamp,
    workspaceId: z.string(),
    streamId: z.string(),
    liveEventId: z.string(),
    status: LiveEventStatusSchema,
    previousStatus: LiveEventStatusSchema.nullable().openapi({ description: 'null when the status did not change' }),
    operation: LiveEventOperationSchema.nullable().openapi({ description: 'the control operation that caused it, if any' }),
    reason: z.string().nullable(),
    sessionId: z.null(),
    subject: z.null(),
    data: LiveEvent.omit({ activities: true }),
  })
  .openapi('LiveEventWebhook');
export type LiveEventWebhook = Omit<z.infer<typeof LiveEventWebhook>, 'type'> & {
  type: (typeof LIVE_EVENT_WEBHOOK_TYPES)[number];
};

/**
 * A library video's change (issue 13): created, ready, errored, deleted. Numbered per video from 1 by its VideoObject;
 * `streamId` holds the videoId, as D1's webhook_events keys the sequence by the resource it numbers.
 */
export const VideoAssetWebhook = z
  .object({
    id: z.string().openapi({ description: 'unique per event; the webhook-id header' }),
    type: z.enum(VIDEO_WEBHOOK_TYPES),
    event: z.literal('VIDEO_ASSET').openapi({ description: 'tells these apart from the stream and live event ones' }),
    sequence: z.number().int().openapi({ description: 'per video, from 1, no gaps' }),
    timestamp: Timestamp,
    workspaceId: z.string(),
    streamId: z.string().openapi({ description: 'the videoId (the resource the sequence numbers)' }),
    videoId: z.string(),
    status: VideoStatusSchema,
    reason: z.string().nullable().openapi({ description: 'why it errored' }),
    sessionId: z.null(),
    subject: z.null(),
    data: Video,
  })
  .openapi('VideoAssetWebhook');
export type VideoAssetWebhook = z.infer<typeof VideoAssetWebhook>;

/** What goes on the webhook Queue and reaches receivers: a stream's event, a live event's, or a video's. */
export const WebhookEvent = z.union([LiveStreamWebhook, LiveEventWebhook, VideoAssetWebhook]).openapi('WebhookEvent');
export type WebhookEvent = LiveStreamWebhook | LiveEventWebhook | VideoAssetWebhook;
