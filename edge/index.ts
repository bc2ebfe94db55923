// The edge Worker: the Hono app for HTTP, the webhook Queue consumer, and the StreamObject Durable Object class.
import { buildApp } from './app.ts';
import { consumeWebhookEvents } from './webhook-consumer.ts';
import type { Env } from './env.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';

export { StreamObject } from './stream-object.ts';

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => consumeWebhookEvents(batch, env),
} satisfies ExportedHandler<Env, WebhookEvent>;
