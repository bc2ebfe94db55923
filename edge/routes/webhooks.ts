// /v1/webhooks: a workspace's endpoints (create, list, get, update, delete, rotate-secret, test ping) and the log of
// their deliveries (list, redeliver). Another workspace's endpoint is 404.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../middleware/errors.ts';
import { jsonBody, security, singleResponse } from './openapi-parts.ts';
import { ApiError, notFound } from '../problem.ts';
import { Problem, single, list } from '../../shared/schemas/common.ts';
import {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  Webhook,
  WebhookDelivery,
  ListWebhooksQuery,
  ListDeliveriesQuery,
  WebhookIdParam,
  DeliveryParams,
  PING_TYPE,
  type WebhookPing,
} from '../../shared/schemas/webhooks.ts';
import { newId } from '../../shared/identifiers.ts';
import { decodeCursor, encodeCursor, keysetPage } from '../pagination.ts';
import { checkEndpointUrl, loopbackHttpAllowed } from '../webhooks/endpoint-rules.ts';
import { newWebhookSecret } from '../webhooks/signing.ts';
import { attemptsOf, deliveryView, findEndpoint, webhookView, type DeliveryRow, type EndpointRow } from '../webhooks/store.ts';
import { enqueueDeliveries } from '../webhook-consumer.ts';

export const webhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** After a rotation the old secret keeps signing alongside the new one for this long. */
const ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

const problems = {
  400: { description: 'Invalid request', content: { 'application/problem+json': { schema: Problem } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'No such webhook (or delivery) in this workspace', content: { 'application/problem+json': { schema: Problem } } },
};
const tags = ['Webhooks'];
const webhookResponse = singleResponse(Webhook);
const deliveryResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: single(WebhookDelivery) } },
});

function requireAllowedUrl(c: Context<AppEnv>, url: string): void {
  const problem = checkEndpointUrl(url, { allowLoopbackHttp: loopbackHttpAllowed(c.env.WEBHOOK_ALLOW_HTTP_LOOPBACK, c.req.url) });
  if (problem) {
    throw new ApiError(400, 'invalid-request', 'Invalid request', `url: ${problem}`, { errors: [{ field: 'url', message: problem }] });
  }
}

async function endpointOr404(c: Context<AppEnv>, webhookId: string): Promise<EndpointRow> {
  const row = await findEndpoint(c.env.DB, c.get('workspaceId'), webhookId);
  if (!row) throw notFound(`webhook ${webhookId}`);
  return row;
}

const distinct = (types: string[]) => [...new Set(types)];

webhookRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks',
    operationId: 'create-webhook',
    summary: 'Create a webhook endpoint',
    description: 'Returns the signing secret (whsec_…) once. Deliveries follow the Standard Webhooks specification.',
    tags,
    security,
    request: jsonBody(CreateWebhookRequest),
    responses: { 201: webhookResponse('Created'), 400: problems[400], 401: problems[401] },
  }),
  async (c) => {
    const input = c.req.valid('json');
    requireAllowedUrl(c, input.url);
    const now = new Date().toISOString();
    const row: EndpointRow = {
      id: newId('wh', 16),
      workspace_id: c.get('workspaceId'),
      url: input.url,
      description: input.description,
      event_types: JSON.stringify(distinct(input.eventTypes)),
      enabled: input.enabled ? 1 : 0,
      secret: newWebhookSecret(),
      previous_secret: null,
      previous_secret_expires_at: null,
      failing_since: null,
      disabled_reason: null,
      disabled_at: null,
      created_at: now,
      updated_at: now,
    };
    await c.env.DB.prepare(
      `INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, enabled, secret, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
      .bind(row.id, row.workspace_id, row.url, row.description, row.event_types, row.enabled, row.secret, now, now)
      .run();
    return c.json({ data: { ...webhookView(row), secret: row.secret } }, 201);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks',
    operationId: 'list-webhooks',
    summary: 'List webhook endpoints',
    description: 'Newest first; follow pagination.nextCursor for the next page. Secrets are never listed.',
    tags,
    security,
    request: { query: ListWebhooksQuery },
    responses: {
      200: { description: 'A page of endpoints', content: { 'application/json': { schema: list(Webhook) } } },
      400: problems[400],
      401: problems[401],
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await keysetPage<EndpointRow>(
      c.env.DB,
      { select: '*', from: 'webhook_endpoints', where: ['workspace_id = ?'], params: [c.get('workspaceId')] },
      limit,
      cursor,
    );
    return c.json({ data: page.rows.map(webhookView), pagination: { nextCursor: page.nextCursor } }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks/{webhookId}',
    operationId: 'get-webhook',
    summary: 'Get a webhook endpoint',
    tags,
    security,
    request: { params: WebhookIdParam },
    responses: { 200: webhookResponse('The endpoint'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    return c.json({ data: webhookView(row) }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'patch',
    path: '/webhooks/{webhookId}',
    operationId: 'update-webhook',
    summary: 'Update a webhook endpoint',
    description: 'url, description, eventTypes (empty = every type), enabled. Disabling stops new deliveries.',
    tags,
    security,
    request: { params: WebhookIdParam, ...jsonBody(UpdateWebhookRequest) },
    responses: { 200: webhookResponse('Updated'), 400: problems[400], 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    const patch = c.req.valid('json');
    if (patch.url !== undefined) requireAllowedUrl(c, patch.url);
    const enabled = patch.enabled === undefined ? row.enabled : patch.enabled ? 1 : 0;
    // Enabling (again) is the customer's word that the receiver is back: why we disabled it no longer applies.
    const keepsDisabledReason = enabled === 0;
    const updated: EndpointRow = {
      ...row,
      url: patch.url ?? row.url,
      description: patch.description ?? row.description,
      event_types: patch.eventTypes ? JSON.stringify(distinct(patch.eventTypes)) : row.event_types,
      enabled,
      disabled_reason: keepsDisabledReason ? row.disabled_reason : null,
      disabled_at: keepsDisabledReason ? row.disabled_at : null,
      updated_at: new Date().toISOString(),
    };
    await c.env.DB.prepare(
      `UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, enabled = ?, disabled_reason = ?, disabled_at = ?,
       updated_at = ? WHERE id = ? AND workspace_id = ?`,
    )
      .bind(
        updated.url,
        updated.description,
        updated.event_types,
        updated.enabled,
        updated.disabled_reason,
        updated.disabled_at,
        updated.updated_at,
        row.id,
        row.workspace_id,
      )
      .run();
    return c.json({ data: webhookView(updated) }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/webhooks/{webhookId}',
    operationId: 'delete-webhook',
    summary: 'Delete a webhook endpoint',
    description: 'Its delivery log goes with it, and deliveries still queued for it are dropped.',
    tags,
    security,
    request: { params: WebhookIdParam },
    responses: { 204: { description: 'Deleted' }, 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    await c.env.DB.prepare('DELETE FROM webhook_endpoints WHERE id = ? AND workspace_id = ?').bind(row.id, row.workspace_id).run();
    return c.body(null, 204);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/{webhookId}/rotate-secret',
    operationId: 'rotate-webhook-secret',
    summary: 'Rotate the signing secret',
    description:
      'Returns the new secret once. For 24 hours deliveries carry a signature with the old secret too, so receivers can switch without dropping any.',
    tags,
    security,
    request: { params: WebhookIdParam },
    responses: { 200: webhookResponse('The endpoint with its new secret'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    const now = new Date();
    const secret = newWebhookSecret();
    const updated: EndpointRow = {
      ...row,
      secret,
      previous_secret: row.secret,
      previous_secret_expires_at: new Date(now.getTime() + ROTATION_GRACE_MS).toISOString(),
      updated_at: now.toISOString(),
    };
    await c.env.DB.prepare(
      'UPDATE webhook_endpoints SET secret = ?, previous_secret = ?, previous_secret_expires_at = ?, updated_at = ? WHERE id = ?',
    )
      .bind(updated.secret, updated.previous_secret, updated.previous_secret_expires_at, updated.updated_at, row.id)
      .run();
    return c.json({ data: { ...webhookView(updated), secret } }, 200);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/{webhookId}/test',
    operationId: 'test-webhook',
    summary: 'Send a signed test ping',
    description: `Queues a \`${PING_TYPE}\` delivery (also to a disabled endpoint, whatever its filter); follow it in the deliveries log.`,
    tags,
    security,
    request: { params: WebhookIdParam },
    responses: { 202: deliveryResponse('Queued'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    const now = new Date().toISOString();
    const ping: WebhookPing = {
      id: newId('evt'),
      type: PING_TYPE,
      timestamp: now,
      workspaceId: row.workspace_id,
      data: { webhookId: row.id, message: 'Test ping from Riverhead: this endpoint receives signed webhooks.' },
    };
    const delivery: DeliveryRow = {
      id: newId('whd'),
      endpoint_id: row.id,
      event_id: ping.id,
      event_type: PING_TYPE,
      body: JSON.stringify(ping),
      status: 'pending',
      attempts: 0,
      run: 1,
      enqueued_run: 0,
      run_attempts: 0,
      run_started_at: null,
      next_attempt_at: null,
      failure_reason: null,
      created_at: now,
      updated_at: now,
    };
    await c.env.DB.prepare(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    )
      .bind(delivery.id, row.id, delivery.event_id, PING_TYPE, delivery.body, now, now)
      .run();
    await enqueueDeliveries(c.env, [{ id: delivery.id, endpoint_id: row.id, run: 1, failing_since: row.failing_since }]);
    return c.json({ data: deliveryView(delivery, []) }, 202);
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks/{webhookId}/deliveries',
    operationId: 'list-webhook-deliveries',
    summary: "List an endpoint's deliveries",
    description: 'Newest first, each with all its attempts (status code, latency, error). Filter by status.',
    tags,
    security,
    request: { params: WebhookIdParam, query: ListDeliveriesQuery },
    responses: {
      200: { description: 'A page of deliveries', content: { 'application/json': { schema: list(WebhookDelivery) } } },
      400: problems[400],
      401: problems[401],
      404: problems[404],
    },
  }),
  async (c) => {
    const row = await endpointOr404(c, c.req.valid('param').webhookId);
    const { limit, cursor, status } = c.req.valid('query');
    const after = cursor ? decodeCursor(cursor) : null;
    const { results } = await c.env.DB.prepare(
      `SELECT * FROM webhook_deliveries WHERE endpoint_id = ?1 AND (?2 IS NULL OR status = ?2)
       AND (?3 IS NULL OR created_at < ?3 OR (created_at = ?3 AND id < ?4))
       ORDER BY created_at DESC, id DESC LIMIT ?5`,
    )
      .bind(row.id, status ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1)
      .all<DeliveryRow>();
    const page = results.slice(0, limit);
    const attempts = await attemptsOf(c.env.DB, page.map((d) => d.id));
    const last = page[page.length - 1];
    return c.json(
      {
        data: page.map((d) => deliveryView(d, attempts)),
        pagination: { nextCursor: results.length > limit && last ? encodeCursor(last.created_at, last.id) : null },
      },
      200,
    );
  },
);

webhookRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
    operationId: 'redeliver-webhook-delivery',
    summary: 'Redeliver',
    description:
      'Sends the same event again (same webhook-id, a fresh signature) with a fresh retry schedule; any retries still pending for it are dropped.',
    tags,
    security,
    request: { params: DeliveryParams },
    responses: { 202: deliveryResponse('Queued'), 401: problems[401], 404: problems[404] },
  }),
  async (c) => {
    const { webhookId, deliveryId } = c.req.valid('param');
    const endpoint = await endpointOr404(c, webhookId);
    const now = new Date().toISOString();
    const delivery = await c.env.DB.prepare(
      `UPDATE webhook_deliveries
       SET run = run + 1, run_attempts = 0, run_started_at = NULL, status = 'pending', next_attempt_at = NULL, failure_reason = NULL,
           updated_at = ?
       WHERE id = ? AND endpoint_id = ? RETURNING *`,
    )
      .bind(now, deliveryId, endpoint.id)
      .first<DeliveryRow>();
    if (!delivery) throw notFound(`delivery ${deliveryId}`);
    await enqueueDeliveries(c.env, [{ id: delivery.id, endpoint_id: endpoint.id, run: delivery.run, failing_since: endpoint.failing_since }]);
    return c.json({ data: deliveryView(delivery, await attemptsOf(c.env.DB, [delivery.id])) }, 202);
  },
);
