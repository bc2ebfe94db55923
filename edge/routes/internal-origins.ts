// /internal/origins: an origin's own heartbeat (liveness and the sessions it holds), HMAC-signed like all of /internal.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { OriginHeartbeat, OriginHeartbeatResponse } from '../../shared/schemas/origin-heartbeat.ts';
import { recordOriginHeartbeat } from '../origin-liveness.ts';

export const internalOriginRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

internalOriginRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/heartbeat',
    summary: 'An origin is alive and holds these sessions; stamped with the edge clock, never the origin\'s.',
    tags: ['Internal'],
    request: { body: { content: { 'application/json': { schema: OriginHeartbeat } }, required: true } },
    responses: {
      200: { description: 'Recorded', content: { 'application/json': { schema: OriginHeartbeatResponse } } },
    },
  }),
  async (c) => {
    const heartbeat = c.req.valid('json');
    const heardAt = Date.now();
    await recordOriginHeartbeat(c.env.DB, heartbeat, heardAt);
    return c.json({ heardAt: new Date(heardAt).toISOString() }, 200);
  },
);
