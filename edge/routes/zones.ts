// GET /v1/zones: the regions that have origins (seed 004's Stream Zones), whether they can take a publish now, and the
// host their encoders publish to. A stream naming a zone gets that zone's ingest host in its ingest URLs.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { ApiError } from '../problem.ts';
import { Problem } from '../../shared/schemas/common.ts';
import { Zone } from '../../shared/schemas/origin-registry.ts';
import { listZones } from '../origin-registry.ts';

export const zoneRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

zoneRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/zones',
    operationId: 'list-zones',
    summary: 'List the zones: regions with origins, their capacity and ingest host',
    tags: ['Zones'],
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    responses: {
      200: { description: 'Every zone', content: { 'application/json': { schema: z.object({ data: z.array(Zone) }) } } },
      401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: Problem } } },
    },
  }),
  async (c) => c.json({ data: await listZones(c.env.DB, Date.now()) }, 200),
);

/**
 * What a stream's `zone` field becomes in its settings: the zone and its ingest host now (null: the default host,
 * until its origins announce one). Unknown zone → 400 naming the field. `undefined` = the field was not sent.
 */
export async function resolveZone(
  db: D1Database,
  zone: string | null | undefined,
): Promise<{ zone: string | null; zoneIngestHost: string | null } | undefined> {
  if (zone === undefined) return undefined;
  if (zone === null) return { zone: null, zoneIngestHost: null };
  const known = (await listZones(db, Date.now())).find((z) => z.id === zone);
  if (!known) {
    const message = `no origin serves zone ${zone}; GET /v1/zones lists the zones`;
    throw new ApiError(400, 'invalid-request', 'Invalid request', `zone: ${message}`, { errors: [{ field: 'zone', message }] });
  }
  return { zone, zoneIngestHost: known.ingestHost };
}
