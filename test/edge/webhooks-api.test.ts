// /v1/webhooks: endpoint CRUD per workspace, validation, secrets shown once and rotatable, the delivery log.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { env, exports } from 'cloudflare:workers';
import { api, call, createWorkspace, json, type Workspace } from './helpers.ts';

let ws: Workspace;
let other: Workspace;
/** Receivers are stand-ins: the queued pings are answered here, nothing leaves the machine. */
const receiver = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => new Response('ok'));
beforeAll(async () => {
  vi.spyOn(globalThis, 'fetch').mockImplementation(receiver);
  ws = await createWorkspace('webhooks');
  other = await createWorkspace('someone else');
});
afterAll(() => {
  vi.restoreAllMocks();
});

const viaLoopback = (path: string, init: RequestInit) =>
  (exports as unknown as { default: Fetcher }).default.fetch(new Request(`http://127.0.0.1:8787${path}`, init));

async function createWebhook(workspace: Workspace, body: Record<string, unknown> = {}) {
  const response = await api(workspace, 'POST', '/webhooks', { url: 'https://example.com/hooks', ...body });
  expect(response.status).toBe(201);
  return (await json(response)).data;
}

describe('create', () => {
  it('returns the whsec_ secret once, with defaults: every type, enabled', async () => {
    const created = await createWebhook(ws, { description: 'prod receiver' });
    expect(created).toMatchObject({
      webhookId: expect.stringMatching(/^wh_/),
      url: 'https://example.com/hooks',
      description: 'prod receiver',
      eventTypes: [],
      enabled: true,
      failingSince: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]{44}$/),
    });
    const fetched = (await json(await api(ws, 'GET', `/webhooks/${created.webhookId}`))).data;
    expect(fetched.secret).toBeUndefined();
    expect(fetched.url).toBe(created.url);
  });

  it('keeps an event-type filter, without duplicates', async () => {
    const created = await createWebhook(ws, {
      eventTypes: ['video.live_stream.active', 'video.live_stream.stopped', 'video.live_stream.active'],
      enabled: false,
    });
    expect(created.eventTypes).toEqual(['video.live_stream.active', 'video.live_stream.stopped']);
    expect(created.enabled).toBe(false);
  });

  it.each([
    [{ url: 'http://example.com/hooks' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'https://10.0.0.8/hooks' }, 'url'],
    [{ url: 'https://example.com', eventTypes: ['video.live_stream.exploded'] }, 'eventTypes.0'],
    [{ url: 'https://example.com', enabled: 'yes' }, 'enabled'],
    [{ url: 'https://example.com', secret: 'whsec_mine' }, 'secret'],
    [{}, 'url'],
  ])('refuses %j naming %s', async (body, field) => {
    const response = await api(ws, 'POST', '/webhooks', body);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = await json(response);
    expect(problem.errors.map((e: any) => e.field)).toContain(field);
  });

  it('http:// to loopback only when the API is served on loopback (local development)', async () => {
    const remote = await api(ws, 'POST', '/webhooks', { url: 'http://127.0.0.1:9999/hook' });
    expect(remote.status).toBe(400);
    expect((await json(remote)).detail).toContain('only allowed in local development');
    const response = await viaLoopback('/v1/webhooks', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9999/hook' }),
    });
    expect(response.status).toBe(201);
  });

  it('needs credentials', async () => {
    expect((await call('/v1/webhooks')).status).toBe(401);
    expect((await call('/v1/webhooks/wh_x', { method: 'DELETE' })).status).toBe(401);
    expect((await call('/v1/signing-keys')).status).toBe(401);
  });
});

describe('list', () => {
  it('pages newest first, and never shows secrets or other workspaces', async () => {
    const workspace = await createWorkspace('paging');
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await createWebhook(workspace, { description: `n${i}` })).webhookId);
    await createWebhook(other);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await json(await api(workspace, 'GET', `/webhooks${query}`));
      expect(page.data.length).toBeLessThanOrEqual(2);
      for (const w of page.data) expect(w.secret).toBeUndefined();
      seen.push(...page.data.map((w: any) => w.webhookId));
      cursor = page.pagination.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...made].reverse());
  });

  it('refuses a bad cursor and a bad limit', async () => {
    expect((await api(ws, 'GET', '/webhooks?cursor=garbage')).status).toBe(400);
    expect((await api(ws, 'GET', '/webhooks?limit=1000')).status).toBe(400);
  });
});

describe('update and delete', () => {
  it('changes url, filter and enabled; validates like create', async () => {
    const created = await createWebhook(ws);
    const response = await api(ws, 'PATCH', `/webhooks/${created.webhookId}`, {
      url: 'https://example.org/new',
      eventTypes: ['video.live_stream.created'],
      enabled: false,
    });
    expect(response.status).toBe(200);
    const updated = (await json(response)).data;
    expect(updated).toMatchObject({ url: 'https://example.org/new', eventTypes: ['video.live_stream.created'], enabled: false });
    expect(updated.secret).toBeUndefined();
    expect((await api(ws, 'PATCH', `/webhooks/${created.webhookId}`, {})).status).toBe(400);
    expect((await api(ws, 'PATCH', `/webhooks/${created.webhookId}`, { url: 'http://example.org' })).status).toBe(400);
    expect((await api(ws, 'PATCH', `/webhooks/${created.webhookId}`, { colour: 'red' })).status).toBe(400);
  });

  it('deletes, after which it is gone', async () => {
    const created = await createWebhook(ws);
    expect((await api(ws, 'DELETE', `/webhooks/${created.webhookId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `/webhooks/${created.webhookId}`)).status).toBe(404);
    expect((await api(ws, 'DELETE', `/webhooks/${created.webhookId}`)).status).toBe(404);
  });

  it("another workspace's endpoint is 404 for every operation", async () => {
    const theirs = await createWebhook(other);
    const id = theirs.webhookId;
    const attempts = [
      api(ws, 'GET', `/webhooks/${id}`),
      api(ws, 'PATCH', `/webhooks/${id}`, { enabled: false }),
      api(ws, 'DELETE', `/webhooks/${id}`),
      api(ws, 'POST', `/webhooks/${id}/rotate-secret`),
      api(ws, 'POST', `/webhooks/${id}/test`),
      api(ws, 'GET', `/webhooks/${id}/deliveries`),
      api(ws, 'POST', `/webhooks/${id}/deliveries/whd_x/redeliver`),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    const still = (await json(await api(other, 'GET', `/webhooks/${id}`))).data;
    expect(still.enabled).toBe(true);
  });
});

describe('rotate-secret', () => {
  it('returns a new secret once; the old one keeps signing for 24 h', async () => {
    const created = await createWebhook(ws);
    const response = await api(ws, 'POST', `/webhooks/${created.webhookId}/rotate-secret`);
    expect(response.status).toBe(200);
    const rotated = (await json(response)).data;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    const row = await env.DB.prepare('SELECT secret, previous_secret, previous_secret_expires_at FROM webhook_endpoints WHERE id = ?')
      .bind(created.webhookId)
      .first<{ secret: string; previous_secret: string; previous_secret_expires_at: string }>();
    expect(row).toMatchObject({ secret: rotated.secret, previous_secret: created.secret });
    const graceHours = (Date.parse(row!.previous_secret_expires_at) - Date.now()) / 3_600_000;
    expect(graceHours).toBeGreaterThan(23.9);
    expect(graceHours).toBeLessThanOrEqual(24);
  });
});

describe('test ping and the delivery log', () => {
  it('queues a webhook.ping delivery that shows in the log; unknown deliveries are 404', async () => {
    const created = await createWebhook(ws, { enabled: false });
    const response = await api(ws, 'POST', `/webhooks/${created.webhookId}/test`);
    expect(response.status).toBe(202);
    const delivery = (await json(response)).data;
    expect(delivery).toMatchObject({ webhookId: created.webhookId, eventType: 'webhook.ping', status: 'pending', attempts: [] });
    const log = await json(await api(ws, 'GET', `/webhooks/${created.webhookId}/deliveries`));
    expect(log.data.map((d: any) => d.deliveryId)).toContain(delivery.deliveryId);
    expect((await api(ws, 'POST', `/webhooks/${created.webhookId}/deliveries/whd_missing/redeliver`)).status).toBe(404);
    expect((await api(ws, 'GET', `/webhooks/${created.webhookId}/deliveries?status=lost`)).status).toBe(400);

    // The queue consumer sends it (to the stand-in receiver) and logs the attempt.
    let settled: any;
    for (let i = 0; i < 50; i++) {
      settled = (await json(await api(ws, 'GET', `/webhooks/${created.webhookId}/deliveries`))).data[0];
      if (settled.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(settled).toMatchObject({ status: 'succeeded', attempts: [{ attempt: 1, statusCode: 200, error: null }] });
    const [url, init] = receiver.mock.calls.find(([u]) => String(u) === created.url)!;
    expect(String(url)).toBe('https://example.com/hooks');
    const sent = JSON.parse(String(init!.body));
    expect(sent).toMatchObject({ type: 'webhook.ping', data: { webhookId: created.webhookId } });
    expect(new Headers(init!.headers).get('webhook-id')).toBe(sent.id);
  });
});

describe('OpenAPI', () => {
  it('documents the webhook and signing-key routes', async () => {
    const doc = await json(await call('/v1/openapi.json'));
    for (const path of [
      '/v1/webhooks',
      '/v1/webhooks/{webhookId}',
      '/v1/webhooks/{webhookId}/rotate-secret',
      '/v1/webhooks/{webhookId}/test',
      '/v1/webhooks/{webhookId}/deliveries',
      '/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
      '/v1/signing-keys',
      '/v1/signing-keys/{signingKeyId}',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.components.schemas.WebhookEvent ?? doc.components.schemas.Webhook).toBeDefined();
  });
});
