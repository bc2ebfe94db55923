// The edge Worker: the Hono app for HTTP, and the StreamObject Durable Object class.
import { buildApp } from './app.ts';
import type { Env } from './env.ts';

export { StreamObject } from './stream-object.ts';

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
