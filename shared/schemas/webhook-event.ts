// The record each lifecycle transition puts on the webhook Queue; it is also the webhook body customers receive.
import { z } from '@hono/zod-openapi';
import { LIFECYCLE_EVENTS, WEBHOOK_EVENT_TYPES } from '../lifecycle-vocabulary.ts';
import { StreamStatusSchema, LiveStream } from './live-stream.ts';
import { Timestamp } from './common.ts';

export const WebhookEvent = z
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
      .object({ kind: z.enum(['recording', 'clip']), id: z.string() })
      .nullable()
      .openapi({ description: 'the recording or clip a *.ready event is about' }),
    data: LiveStream.omit({ activities: true, streamKey: true, srtSecret: true }),
  })
  .openapi('WebhookEvent');
export type WebhookEvent = z.infer<typeof WebhookEvent>;
