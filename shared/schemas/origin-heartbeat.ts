// Origin → edge liveness: every few seconds an origin says it is alive and which sessions it holds, apart from the
// per-stream stats in its event outbox (which a backlog or an outage can delay). Both runtimes share this schema.
import { z } from '@hono/zod-openapi';

/** How often an origin heartbeats; well inside the edge's 10 s stats deadline so one lost beat changes nothing. */
export const ORIGIN_HEARTBEAT_INTERVAL_MS = 3_000;
/** Sessions one heartbeat may list; an origin holds far fewer (its transcode capacity). */
export const ORIGIN_HEARTBEAT_MAX_SESSIONS = 1000;

export const OriginHeartbeat = z
  .object({
    originId: z.string().min(1).max(100),
    originUrl: z.string().url().max(300),
    /** Sessions with an encoder connected on this origin right now. */
    sessions: z
      .array(z.object({ streamId: z.string().min(1).max(64), sessionId: z.string().min(1).max(64) }).strict())
      .max(ORIGIN_HEARTBEAT_MAX_SESSIONS),
    /** The origin's own clock, kept as data only: the edge stamps the heartbeat with its own. */
    at: z.string().datetime().optional(),
  })
  .strict()
  .openapi('OriginHeartbeat');
export type OriginHeartbeat = z.infer<typeof OriginHeartbeat>;

export const OriginHeartbeatResponse = z.object({ heardAt: z.string().datetime() });
