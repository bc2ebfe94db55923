// GET /admin/playback-stats (ADMIN_TOKEN): the playback hot path's D1 and Durable Object calls against the viewer
// requests this isolate answered, for the playback load test's figure and for operators checking the edge cache.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { single } from '../../shared/schemas/common.ts';
import { PlaybackStats } from '../../shared/schemas/playback-stats.ts';
import { playbackStats } from '../playback-stats.ts';

export const playbackStatsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

playbackStatsRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/playback-stats',
    operationId: 'admin-get-playback-stats',
    summary: 'Playback calls to D1 and Durable Objects in this isolate',
    description: 'Counted since the isolate started; compare two readings to measure a period.',
    tags: ['Admin'],
    responses: { 200: { description: 'The tally', content: { 'application/json': { schema: single(PlaybackStats) } } } },
  }),
  (c) => {
    const tally = playbackStats();
    return c.json({ data: { ...tally, since: new Date(tally.since).toISOString() } }, 200);
  },
);
