// Webhook endpoints (where a workspace's lifecycle events go), their deliveries and attempts, and the test ping.
import { z } from '@hono/zod-openapi';
import { WEBHOOK_EVENT_TYPES } from '../lifecycle-vocabulary.ts';
import { LIVE_EVENT_WEBHOOK_TYPES } from '../live-event-vocabulary.ts';
import { VIDEO_WEBHOOK_TYPES } from '../video-vocabulary.ts';
import { ListQuery, Timestamp } from './common.ts';

/** Every type an endpoint may ask for: the streams' lifecycle events, the live events' (video.live_event.*) and the videos' (video.asset.*). */
const ALL_EVENT_TYPES: string[] = [...WEBHOOK_EVENT_TYPES, ...LIVE_EVENT_WEBHOOK_TYPES, ...VIDEO_WEBHOOK_TYPES];
export const WebhookEventType = z.enum(ALL_EVENT_TYPES as [string, ...string[]]).openapi('WebhookEventType');
export const PING_TYPE = 'webhook.ping';
/** Sent to the workspace's every-type endpoints when the platform disables one of its endpoints (it answered 410 Gone). */
export const ENDPOINT_DISABLED_TYPE = 'webhook.endpoint.disabled';

const url = z.string().min(1).max(2048).openapi({
  description: 'https:// receiver. Plain http:// only to localhost / 127.0.0.1 in local development.',
  example: 'https://example.com/hooks/riverhead',
});
const description = z.string().max(500).openapi({ description: 'your note on what this endpoint is for' });
const eventTypes = z
  .array(WebhookEventType)
  .max(ALL_EVENT_TYPES.length)
  .openapi({ description: 'the types this endpoint receives; empty (the default) means every type' });

export const CreateWebhookRequest = z
  .object({
    url,
    description: description.default(''),
    eventTypes: eventTypes.default([]),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('CreateWebhookRequest');
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;

export const UpdateWebhookRequest = z
  .object({
    url: url.optional(),
    description: description.optional(),
    eventTypes: eventTypes.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one field to change' })
  .openapi('UpdateWebhookRequest');
export type UpdateWebhookRequest = z.infer<typeof UpdateWebhookRequest>;

export const Webhook = z
  .object({
    webhookId: z.string(),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(WebhookEventType),
    enabled: z.boolean(),
    secret: z
      .string()
      .optional()
      .openapi({ description: 'whsec_…; only on create and rotate-secret. Verify deliveries with it (Standard Webhooks).' }),
    failingSince: Timestamp.nullable().openapi({ description: 'set while the latest attempt to this endpoint failed' }),
    disabledReason: z.string().nullable().openapi({
      description: 'why Riverhead disabled this endpoint (the receiver answered 410 Gone); cleared when you enable it again',
    }),
    disabledAt: Timestamp.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Webhook');
export type Webhook = z.infer<typeof Webhook>;

export const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const WebhookAttempt = z
  .object({
    attempt: z.number().int().openapi({ description: 'numbered from 1 across the delivery and its redeliveries' }),
    startedAt: Timestamp,
    statusCode: z.number().int().nullable().openapi({ description: 'null when no response came (timeout, refused)' }),
    latencyMs: z.number().int(),
    error: z.string().nullable(),
    response: z
      .object({
        body: z.string().openapi({ description: "the first 4 KiB of the receiver's body, as text" }),
        truncated: z.boolean().openapi({ description: 'the body went on past what is kept' }),
        contentType: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "the receiver's answer; null when no response came (timeout, refused)" }),
  })
  .openapi('WebhookAttempt');
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const WebhookDelivery = z
  .object({
    deliveryId: z.string(),
    webhookId: z.string(),
    eventId: z.string().openapi({ description: 'the webhook-id header: the same on every attempt and redelivery' }),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES).openapi({
      description: 'pending (queued), retrying, succeeded, or failed (see failureReason)',
    }),
    nextAttemptAt: Timestamp.nullable(),
    failureReason: z.string().nullable().openapi({
      description:
        "why a failed delivery ended: 'retries exhausted', 'endpoint gone (HTTP 410)', 'endpoint disabled: …', 'fan-out failed: retries exhausted'",
    }),
    attempts: z.array(WebhookAttempt).openapi({ description: 'newest first' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('WebhookDelivery');
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** The body of POST /v1/webhooks/{id}/test. */
export const WebhookPing = z
  .object({
    id: z.string(),
    type: z.literal(PING_TYPE),
    timestamp: Timestamp,
    workspaceId: z.string(),
    data: z.object({ webhookId: z.string(), message: z.string() }),
  })
  .openapi('WebhookPing');
export type WebhookPing = z.infer<typeof WebhookPing>;

/** The body of a webhook.endpoint.disabled notice. */
export const WebhookEndpointDisabled = z
  .object({
    id: z.string(),
    type: z.literal(ENDPOINT_DISABLED_TYPE),
    timestamp: Timestamp,
    workspaceId: z.string(),
    data: z.object({
      webhookId: z.string(),
      url: z.string(),
      reason: z.string(),
      statusCode: z.number().int().nullable(),
    }),
  })
  .openapi('WebhookEndpointDisabled');
export type WebhookEndpointDisabled = z.infer<typeof WebhookEndpointDisabled>;

export const ListWebhooksQuery = ListQuery;
export const ListDeliveriesQuery = ListQuery.extend({ status: z.enum(DELIVERY_STATUSES).optional() }).strict();

export const WebhookIdParam = z.object({
  webhookId: z.string().min(1).max(64).openapi({ param: { name: 'webhookId', in: 'path' } }),
});
export const DeliveryParams = WebhookIdParam.extend({
  deliveryId: z.string().min(1).max(64).openapi({ param: { name: 'deliveryId', in: 'path' } }),
});
