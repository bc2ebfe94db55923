// /internal/origins: an origin's own heartbeat, which is also its announce (liveness, the sessions it holds, how to
// reach and load it), signed by that origin like all of /internal. The answer carries the key SRT passphrases are
// derived from, so an origin's SRT listener never needs the edge's master key, and a fresh media grant for each session
// whose grant the origin asks to renew, when that origin still holds the session (its StreamObject says so).
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { ApiError } from '../problem.ts';
import { Problem } from '../../shared/schemas/common.ts';
import { OriginHeartbeat, OriginHeartbeatResponse } from '../../shared/schemas/origin-heartbeat.ts';
import { deriveSrtPassphraseKey } from '../../shared/origin-credentials.ts';
import { recordOriginHeartbeat } from '../origin-liveness.ts';
import { streamObject } from '../streams.ts';
import { log } from '../log.ts';

export const internalOriginRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** Derived once per isolate and master: HMAC on every beat would be cheap, but there is no reason for it. */
let srtKeyMemo: { master: string; key: Promise<string> } | null = null;
function srtPassphraseKey(master: string): Promise<string> {
  if (srtKeyMemo?.master !== master) srtKeyMemo = { master, key: deriveSrtPassphraseKey(master) };
  return srtKeyMemo.key;
}

internalOriginRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/heartbeat',
    operationId: 'internal-origin-heartbeat',
    summary: "An origin is alive, holds these sessions and announces itself; stamped with the edge clock, never the origin's.",
    tags: ['Internal'],
    request: { body: { content: { 'application/json': { schema: OriginHeartbeat } }, required: true } },
    responses: {
      200: { description: 'Recorded', content: { 'application/json': { schema: OriginHeartbeatResponse } } },
      403: { description: 'The beat names another origin than its signer', content: { 'application/problem+json': { schema: Problem } } },
    },
  }),
  async (c) => {
    const heartbeat = c.req.valid('json');
    if (heartbeat.originId !== c.var.originId) {
      throw new ApiError(403, 'origin-mismatch', 'Forbidden', `signed by origin ${c.var.originId}, but the heartbeat names ${heartbeat.originId}`);
    }
    if (heartbeat.region !== c.var.originRegion) {
      throw new ApiError(403, 'origin-region-mismatch', 'Forbidden', `origin ${c.var.originId} is provisioned in region ${c.var.originRegion}, not ${heartbeat.region} (set ORIGIN_REGION)`);
    }
    const heardAt = Date.now();
    await recordOriginHeartbeat(c.env.DB, heartbeat, heardAt);
    const grants = await renewedGrants(c.env, c.var.originId, heartbeat.renewGrants ?? []);
    return c.json({ heardAt: new Date(heardAt).toISOString(), srtPassphraseKey: await srtPassphraseKey(c.env.ORIGIN_SECRET), grants }, 200);
  },
);

/**
 * A fresh grant for each session the origin asks about and still holds; the session's object decides (one call per
 * renewal, which an origin asks about once a day per long broadcast). A failed call only means no grant this beat.
 */
async function renewedGrants(env: AppEnv['Bindings'], originId: string, asked: { streamId: string; sessionId: string }[]) {
  const answers = await Promise.all(
    asked.map(async ({ streamId, sessionId }) => {
      const mediaGrant = await streamObject(env, streamId)
        .renewMediaGrant(sessionId, originId)
        .catch((error: unknown) => {
          log('media_grant_renewal_failed', { originId, streamId, sessionId, error: String(error).slice(0, 200) });
          return null;
        });
      log('media_grant_renewal', { originId, streamId, sessionId, granted: mediaGrant !== null });
      return mediaGrant ? { streamId, sessionId, mediaGrant } : null;
    }),
  );
  return answers.filter((grant) => grant !== null);
}
