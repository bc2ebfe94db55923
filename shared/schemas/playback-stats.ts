// GET /admin/playback-stats: what live and stored playback cost this edge isolate in D1 queries and Durable Object
// calls, against the viewer requests it answered (the playback hot path's figure, issue 11).
import { z } from '@hono/zod-openapi';
import { Timestamp } from './common.ts';

export const PlaybackStats = z
  .object({
    since: Timestamp.openapi({ description: 'when this isolate started counting' }),
    viewerRequests: z.number().int().nonnegative(),
    d1Calls: z.number().int().nonnegative(),
    objectCalls: z.number().int().nonnegative().openapi({ description: 'Durable Object (StreamObject) calls' }),
  })
  .openapi('PlaybackStats');
export type PlaybackStats = z.infer<typeof PlaybackStats>;
