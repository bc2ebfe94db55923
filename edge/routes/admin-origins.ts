// /admin/origins (ADMIN_TOKEN only): provision an origin (its id, region and its own secret, shown once), list the
// origins with what they announced and their health, rotate an origin's secret, disable one. An origin's secret is
// derived from the edge's master key and the origin's generation, so rotating is bumping the generation: the old
// secret verifies nothing from then on (within 30 s on other isolates, at once on this one).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { problem } from './openapi-parts.ts';
import { ApiError, notFound } from '../problem.ts';
import { single } from '../../shared/schemas/common.ts';
import { CreateOriginRequest, IssuedOrigin, OriginIdParam, OriginListing } from '../../shared/schemas/origin-registry.ts';
import { deriveOriginSecret } from '../../shared/origin-credentials.ts';
import { originSecretProblem } from '../../shared/origin-secret.ts';
import { randomBase62 } from '../../shared/identifiers.ts';
import { forgetOrigin, listOrigins } from '../origin-registry.ts';
import { log } from '../log.ts';

export const adminOriginRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });


/** Secrets are derived from the master key: without a usable one there is nothing safe to hand out. */
function masterKey(env: AppEnv['Bindings']): string {
  const trouble = originSecretProblem(env.ORIGIN_SECRET);
  if (trouble) throw new ApiError(503, 'origin-secret-unusable', 'Edge misconfigured', `${trouble}; set it with wrangler secret put ORIGIN_SECRET`);
  return env.ORIGIN_SECRET;
}

adminOriginRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/origins',
    operationId: 'admin-create-origin',
    summary: 'Provision an origin: its id, region and its own secret (shown once)',
    tags: ['Admin'],
    request: { body: { content: { 'application/json': { schema: CreateOriginRequest } }, required: true } },
    responses: {
      201: { description: 'Provisioned', content: { 'application/json': { schema: single(IssuedOrigin) } } },
      409: problem('An origin with this id exists (rotate its secret instead)'),
    },
  }),
  async (c) => {
    const master = masterKey(c.env);
    const request = c.req.valid('json');
    const id = request.id ?? `origin-${randomBase62(10).toLowerCase()}`;
    const createdAt = new Date().toISOString();
    const inserted = await c.env.DB.prepare(
      'INSERT INTO origins (id, region, generation, created_at) VALUES (?, ?, 1, ?) ON CONFLICT (id) DO NOTHING',
    )
      .bind(id, request.region, createdAt)
      .run();
    if (inserted.meta.changes === 0) {
      throw new ApiError(409, 'origin-exists', 'Origin exists', `origin ${id} exists; POST /admin/origins/${id}/rotate-secret issues it a new secret`);
    }
    forgetOrigin(id);
    log('origin_provisioned', { originId: id, region: request.region });
    return c.json({ data: { id, region: request.region, secret: await deriveOriginSecret(master, id, 1), createdAt } }, 201);
  },
);

adminOriginRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/origins',
    operationId: 'admin-list-origins',
    summary: 'The origins, with what each announced and its health',
    description: "healthy = heard within 10 s; silent = heard before; never-heard; disabled (its secret is refused).",
    tags: ['Admin'],
    responses: { 200: { description: 'Every origin', content: { 'application/json': { schema: z.object({ data: z.array(OriginListing) }) } } } },
  }),
  async (c) => {
    const origins = await listOrigins(c.env.DB, Date.now());
    return c.json({ data: origins.map(({ controlUrl: _control, ...listing }) => listing) }, 200);
  },
);

adminOriginRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/origins/{originId}/rotate-secret',
    operationId: 'admin-rotate-origin-secret',
    summary: "Issue an origin a new secret; the old one is refused from then on (a disabled origin is enabled again)",
    tags: ['Admin'],
    request: { params: OriginIdParam },
    responses: {
      200: { description: 'The new secret, shown once', content: { 'application/json': { schema: single(IssuedOrigin) } } },
      404: problem('No such origin'),
    },
  }),
  async (c) => {
    const master = masterKey(c.env);
    const { originId } = c.req.valid('param');
    const row = await c.env.DB.prepare(
      'UPDATE origins SET generation = generation + 1, disabled_at = NULL WHERE id = ? RETURNING region, generation, created_at',
    )
      .bind(originId)
      .first<{ region: string; generation: number; created_at: string }>();
    if (!row) throw notFound(`origin ${originId}`);
    forgetOrigin(originId);
    log('origin_secret_rotated', { originId, generation: row.generation });
    const secret = await deriveOriginSecret(master, originId, row.generation);
    return c.json({ data: { id: originId, region: row.region, secret, createdAt: row.created_at } }, 200);
  },
);

adminOriginRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/origins/{originId}',
    operationId: 'admin-delete-origin',
    summary: 'Disable an origin: its secret is refused from then on (rotate-secret enables it again)',
    tags: ['Admin'],
    request: { params: OriginIdParam },
    responses: { 204: { description: 'Disabled' }, 404: problem('No such origin') },
  }),
  async (c) => {
    const { originId } = c.req.valid('param');
    const row = await c.env.DB.prepare('UPDATE origins SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ? RETURNING id')
      .bind(new Date().toISOString(), originId)
      .first();
    if (!row) throw notFound(`origin ${originId}`);
    forgetOrigin(originId);
    log('origin_disabled', { originId });
    return c.body(null, 204);
  },
);
