// The edge Worker: the Hono app for HTTP, the webhook Queue consumer, the retention cron, and the StreamObject class.
import { buildApp } from './app.ts';
import { consumeWebhookEvents } from './webhook-consumer.ts';
import { sweepExpiredRecordings } from './retention.ts';
import type { Env } from './env.ts';
import type { WebhookEvent } from '../shared/schemas/webhook-event.ts';
import { publicBaseUrl } from './public-base-url.ts';

export { StreamObject } from './stream-object.ts';
export { VideoObject } from './video-object.ts';

const app = buildApp();

// PUBLIC_BASE_URL is checked on the isolate's first request, so a malformed value is in the log at once rather than
// at the first webhook (checked once per value; ignored, never failing the request).
export default {
  fetch: (request, env, ctx) => {
    publicBaseUrl(env);
    return app.fetch(request, env, ctx);
  },
  queue: (batch, env) => consumeWebhookEvents(batch, env),
  // The cron trigger of wrangler.toml: recordings past their workspace's retention are cleaned.
  scheduled: async (_controller, env, ctx) => {
    ctx.waitUntil(sweepExpiredRecordings(env).then(() => undefined));
  },
} satisfies ExportedHandler<Env, WebhookEvent>;
