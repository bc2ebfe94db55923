// Origin → edge liveness and self-description: every few seconds an origin says it is alive, which sessions it holds,
// and how to reach and load it (region, ingest host and ports, HLS URL, capacity, load, draining) — the announce is
// carried by every beat, so the edge's view never depends on one lost message. Apart from the per-stream stats in the
// event outbox (which a backlog or an outage can delay). Both runtimes share this schema.
import { z } from '@hono/zod-openapi';
import { OriginCapacity, OriginLoad, OriginPorts, Region } from './origin-registry.ts';

/** How often an origin heartbeats; well inside the edge's 10 s stats deadline so one lost beat changes nothing. */
export const ORIGIN_HEARTBEAT_INTERVAL_MS = 3_000;
/** Sessions one heartbeat may list; an origin holds far fewer (its transcode capacity). */
export const ORIGIN_HEARTBEAT_MAX_SESSIONS = 1000;
/** Grant renewals one heartbeat may ask for; more wait for the next beat. */
export const ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS = 8;
/** Job ids (recordings' and clips') one heartbeat may list; an origin runs a handful, queues a few more. */
export const ORIGIN_HEARTBEAT_MAX_JOBS = 256;
/** An origin not heard from for longer is silent: not picked for work, not counted healthy in its zone. */
export const ORIGIN_HEALTHY_WITHIN_MS = 10_000;

export const OriginHeartbeat = z
  .object({
    /** Must be the signer's id (x-riverhead-origin); the edge refuses a beat that names another origin. */
    originId: z.string().min(1).max(100),
    /** Base URL the edge sends commands to (and, unless hlsUrl says otherwise, fetches HLS from). */
    originUrl: z.string().url().max(300),
    region: Region,
    /** The host name encoders use to reach this origin (or its zone's load balancer). */
    ingestHost: z.string().min(1).max(253),
    ports: OriginPorts,
    hlsUrl: z.string().url().max(300),
    capacity: OriginCapacity,
    load: OriginLoad,
    draining: z.boolean(),
    /** Sessions with an encoder connected on this origin right now. */
    sessions: z
      .array(z.object({ streamId: z.string().min(1).max(64), sessionId: z.string().min(1).max(64) }).strict())
      .max(ORIGIN_HEARTBEAT_MAX_SESSIONS),
    /**
     * Sessions whose media grant runs out soon (a broadcast outlasting the grant authorize gave): the edge answers a
     * fresh grant for each one the signer still holds. Rare (once a day per long session), hence one object call each.
     */
    renewGrants: z
      .array(z.object({ streamId: z.string().min(1).max(64), sessionId: z.string().min(1).max(64) }).strict())
      .max(ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS)
      .optional(),
    /**
     * The ids of the export and clip jobs this origin is running or has queued (recording ids, clip ids). A job handed
     * to this origin that a later beat does not list is lost (the origin restarted, or dropped it): the edge hands it
     * out again. Absent from an origin that predates it: the edge then concludes nothing from the beat.
     */
    jobs: z.array(z.string().min(1).max(64)).max(ORIGIN_HEARTBEAT_MAX_JOBS).optional(),
    /** The origin's own clock, kept as data only: the edge stamps the heartbeat with its own. */
    at: z.string().datetime().optional(),
  })
  .strict()
  .openapi('OriginHeartbeat');
export type OriginHeartbeat = z.infer<typeof OriginHeartbeat>;

/**
 * What the edge announces back: its clock, the key SRT passphrases derive from (shared/srt-passphrase.ts), and a fresh
 * media grant for each renewal asked for that the signer holds (a session it no longer holds gets none).
 */
export const OriginHeartbeatResponse = z.object({
  heardAt: z.string().datetime(),
  srtPassphraseKey: z.string().regex(/^[0-9a-f]{64}$/),
  grants: z
    .array(z.object({ streamId: z.string().min(1).max(64), sessionId: z.string().min(1).max(64), mediaGrant: z.string().min(1).max(8192) }))
    .max(ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS)
    .optional(),
});
export type OriginHeartbeatResponse = z.infer<typeof OriginHeartbeatResponse>;
