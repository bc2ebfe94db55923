// The edge's OpenAPI document, built one way for both readers: the Worker serves it at /v1/openapi.json, and
// `npm run openapi` (scripts/print-openapi.ts, in Node) writes it to shared/client/openapi.json for the typed client.
// The routes describe themselves (createRoute); this file adds what no route owns: the document's header, the
// webhook payloads receivers get (OpenAPI 3.1 `webhooks`, so the client exports their types too) and seed 001's
// nested create body, which the create route accepts beside its canonical flat one.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { SeedCreateLiveStreamRequest } from '../shared/schemas/live-stream-seed-body.ts';
import { LiveEventWebhook, LiveStreamWebhook, VideoAssetWebhook, WebhookEvent } from '../shared/schemas/webhook-event.ts';

type OpenApiApp = Pick<OpenAPIHono, 'openAPIRegistry' | 'getOpenAPI31Document'>;

/** The document's header: what /v1/openapi.json and shared/client/openapi.json both carry. */
export const OPENAPI_CONFIG: Parameters<OpenAPIHono['getOpenAPI31Document']>[0] = {
  openapi: '3.1.0',
  info: {
    title: 'Riverhead API',
    version: '1.0.0',
    description: 'Live streams: RTMP/RTMPS/SRT ingest, HLS playback, lifecycle webhooks, recordings and clips.',
  },
  servers: [{ url: '/' }],
};

const webhookHeaders = {
  description:
    'Signed per Standard Webhooks: webhook-id (the event id), webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256>) headers.',
};

/** The three payload kinds a webhook endpoint receives, each a `webhooks` entry with a stable operationId. */
const WEBHOOK_PAYLOADS = [
  { name: 'liveStreamEvent', operationId: 'live-stream-webhook', schema: LiveStreamWebhook, summary: "A live stream's lifecycle event (seed 000)" },
  { name: 'liveEventEvent', operationId: 'live-event-webhook', schema: LiveEventWebhook, summary: "A live event's change (seed 003)" },
  { name: 'videoAssetEvent', operationId: 'video-asset-webhook', schema: VideoAssetWebhook, summary: "A library video's change" },
] as const;

/** Registers the webhook payloads (and the WebhookEvent union) and the seed's create body; call once per app. */
export function registerDocumentExtras(app: OpenApiApp): void {
  app.openAPIRegistry.register('SeedCreateLiveStreamRequest', SeedCreateLiveStreamRequest);
  app.openAPIRegistry.register('WebhookEvent', WebhookEvent);
  for (const payload of WEBHOOK_PAYLOADS) {
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: payload.name,
      operationId: payload.operationId,
      summary: payload.summary,
      description: webhookHeaders.description,
      tags: ['Webhooks'],
      request: { body: { content: { 'application/json': { schema: payload.schema } }, required: true } },
      responses: { 200: { description: 'Any 2xx acknowledges the delivery; anything else is retried on the backoff schedule' } },
    });
  }
}

/** The document as the Worker serves it (same registry, same header). */
export const openApiDocument = (app: OpenApiApp) => app.getOpenAPI31Document(OPENAPI_CONFIG);
