// The webhook Queue consumer: fan-out of each event to the matching endpoints, signed attempts, retry decisions on
// the two lanes, the dead-letter queue after 24 h, acknowledgements. Queues other than D1 are stand-ins here, so
// every message the consumer sends is seen; receivers are a stubbed fetch.
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import type { Env } from '../../edge/env.ts';
import type { WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import type { DeliveryMessage } from '../../edge/webhooks/delivery.ts';
import { consumeWebhookEvents, fanOutEvent, WEBHOOK_QUEUES } from '../../edge/webhook-consumer.ts';
import { api, createWorkspace, json, type Workspace } from './helpers.ts';

interface Sent {
  body: DeliveryMessage;
  delaySeconds?: number;
}
function standInQueue() {
  const sent: Sent[] = [];
  return {
    sent,
    async send(body: DeliveryMessage, options?: { delaySeconds?: number }) {
      sent.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: { body: DeliveryMessage; delaySeconds?: number }[]) {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
    },
  };
}

let lanes: { deliveries: ReturnType<typeof standInQueue>; retries: ReturnType<typeof standInQueue>; dead: ReturnType<typeof standInQueue> };
let testEnv: Env;
beforeEach(() => {
  lanes = { deliveries: standInQueue(), retries: standInQueue(), dead: standInQueue() };
  testEnv = {
    DB: env.DB,
    WEBHOOK_DELIVERIES: lanes.deliveries,
    WEBHOOK_RETRIES: lanes.retries,
    WEBHOOK_DEAD_LETTERS: lanes.dead,
    WEBHOOK_TIMEOUT_SECONDS: '1',
    WEBHOOK_RETRY_BASE_SECONDS: '10',
  } as unknown as Env;
});

interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}
let received: Received[] = [];
let fetchStub: MockInstance<typeof fetch>;
/**
 * Answers each receiver URL with what `behaviour` says (a status, or 'hang' until the attempt times out). The stub
 * stays for the whole file: the real queues of the test Worker may still be delivering a redelivery after a test.
 */
function receivers(behaviour: (url: string, body: any) => number | 'hang' | Promise<number>) {
  received = [];
  fetchStub.mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    const body = String(init?.body);
    received.push({ url, headers: Object.fromEntries(new Headers(init?.headers).entries()), body, at: Date.now() });
    const outcome = await behaviour(url, JSON.parse(body));
    if (outcome === 'hang') {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }
    return new Response(null, { status: outcome });
  });
}
afterEach(() => {
  receivers(() => 200);
});

let other: Workspace;
beforeAll(async () => {
  fetchStub = vi.spyOn(globalThis, 'fetch');
  receivers(() => 200);
  other = await createWorkspace('consumer-other');
});
afterAll(() => {
  vi.restoreAllMocks();
});

async function endpoint(workspace: Workspace, body: Record<string, unknown> = {}) {
  const response = await api(workspace, 'POST', '/webhooks', { url: `https://receiver.test/${crypto.randomUUID()}`, ...body });
  expect(response.status).toBe(201);
  return (await json(response)).data as { webhookId: string; url: string; secret: string };
}

let sequence = 0;
function lifecycleEvent(workspace: Workspace, type = 'video.live_stream.active', streamId = 'ls_consumer'): WebhookEvent {
  sequence += 1;
  return {
    id: `evt_${crypto.randomUUID()}`,
    type,
    event: 'ON_PUBLISH',
    sequence,
    timestamp: new Date().toISOString(),
    workspaceId: workspace.id,
    streamId,
    status: 'STREAMING',
    sessionId: 'ses_1',
    reason: null,
    data: { streamId } as WebhookEvent['data'],
  } as WebhookEvent;
}

async function run(queue: string, bodies: unknown[], attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await consumeWebhookEvents(batch as MessageBatch<unknown>, testEnv);
  return { batch, result: await getQueueResult(batch, ctx) };
}

const deliveryRow = (id: string) =>
  env.DB.prepare('SELECT * FROM webhook_deliveries WHERE id = ?').bind(id).first<Record<string, any>>();
const attemptRows = (id: string) =>
  env.DB.prepare('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt').bind(id).all<Record<string, any>>().then((r) => r.results);

/** Fans one event out for `workspace` and returns the first-attempt messages it produced. */
async function fanOut(workspace: Workspace, type?: string) {
  const event = lifecycleEvent(workspace, type);
  await fanOutEvent(testEnv, event);
  return { event, messages: lanes.deliveries.sent.map((s) => s.body) };
}

describe('fan-out', () => {
  it('one delivery per matching enabled endpoint of the workspace, recorded once, each its own message', async () => {
    const workspace = await createWorkspace('fan-out');
    const all = await endpoint(workspace);
    const activeOnly = await endpoint(workspace, { eventTypes: ['video.live_stream.active'] });
    const stoppedOnly = await endpoint(workspace, { eventTypes: ['video.live_stream.stopped'] });
    const disabled = await endpoint(workspace, { enabled: false });
    await endpoint(other);

    const { event, messages } = await fanOut(workspace);
    expect(messages.map((m) => m.endpointId).sort()).toEqual([all.webhookId, activeOnly.webhookId].sort());
    const { results } = await env.DB.prepare('SELECT endpoint_id, status, body, attempts FROM webhook_deliveries WHERE event_id = ?')
      .bind(event.id)
      .all<Record<string, any>>();
    expect(results).toHaveLength(2);
    for (const row of results) {
      expect(row).toMatchObject({ status: 'pending', attempts: 0 });
      expect(JSON.parse(row.body)).toEqual(event);
    }
    expect(results.map((r) => r.endpoint_id)).not.toContain(stoppedOnly.webhookId);
    expect(results.map((r) => r.endpoint_id)).not.toContain(disabled.webhookId);
    const recorded = await env.DB.prepare('SELECT type FROM webhook_events WHERE id = ?').bind(event.id).first();
    expect(recorded).toEqual({ type: 'video.live_stream.active' });

    // Queues deliver at least once: the same event again adds no delivery and sends nothing more.
    await fanOutEvent(testEnv, event);
    expect(lanes.deliveries.sent).toHaveLength(2);
    const count = await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id = ?').bind(event.id).first();
    expect(count).toEqual({ n: 2 });

    // A crash after the rows were written but before a message went out: the next copy of the event sends it.
    const lost = messages[0]!;
    await env.DB.prepare('UPDATE webhook_deliveries SET enqueued_run = 0 WHERE id = ?').bind(lost.deliveryId).run();
    await fanOutEvent(testEnv, event);
    expect(lanes.deliveries.sent.map((s) => s.body)).toEqual([...messages, lost]);
  });

  it('acks each event it fanned out, through the queue handler', async () => {
    const workspace = await createWorkspace('fan-out-ack');
    await endpoint(workspace);
    const events = [lifecycleEvent(workspace), lifecycleEvent(workspace, 'video.live_stream.stopped')];
    const { result } = await run(WEBHOOK_QUEUES.events, events);
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toEqual([]);
    expect(lanes.deliveries.sent).toHaveLength(2);
  });

  it("sends a failing endpoint's new deliveries straight to the retry lane", async () => {
    const workspace = await createWorkspace('quarantine');
    const healthy = await endpoint(workspace);
    const failing = await endpoint(workspace);
    await env.DB.prepare('UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?').bind(new Date().toISOString(), failing.webhookId).run();
    await fanOut(workspace);
    expect(lanes.deliveries.sent.map((s) => s.body.endpointId)).toEqual([healthy.webhookId]);
    expect(lanes.retries.sent.map((s) => s.body.endpointId)).toEqual([failing.webhookId]);
    expect(lanes.retries.sent[0]!.delaySeconds).toBeUndefined();
  });
});

describe('first attempts', () => {
  it('POSTs the event body, signed so standardwebhooks verifies it, and acks', async () => {
    const workspace = await createWorkspace('deliver');
    const hook = await endpoint(workspace);
    receivers(() => 204);
    const { event, messages } = await fanOut(workspace);
    const { result } = await run(WEBHOOK_QUEUES.deliveries, messages);

    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.url).toBe(hook.url);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['webhook-id']).toBe(event.id);
    expect(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    const verified = new Webhook(hook.secret).verify(request!.body, request!.headers);
    expect(verified).toEqual(event);
    expect(verified).toMatchObject({ type: 'video.live_stream.active', event: 'ON_PUBLISH', status: 'STREAMING', sequence: event.sequence });

    const row = await deliveryRow(messages[0]!.deliveryId);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 1, next_attempt_at: null });
    const [attempt] = await attemptRows(messages[0]!.deliveryId);
    expect(attempt).toMatchObject({ attempt: 1, status_code: 204, error: null });
    expect(attempt!.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('a non-2xx answer moves the delivery to the retry lane after the first backoff, logged', async () => {
    const workspace = await createWorkspace('first-fail');
    const hook = await endpoint(workspace);
    receivers(() => 500);
    const { messages } = await fanOut(workspace);
    const { result } = await run(WEBHOOK_QUEUES.deliveries, messages);

    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(lanes.retries.sent).toHaveLength(1);
    expect(lanes.retries.sent[0]!.body).toEqual(messages[0]);
    const delay = lanes.retries.sent[0]!.delaySeconds!;
    expect(delay).toBeGreaterThanOrEqual(8);
    expect(delay).toBeLessThanOrEqual(12);
    const row = await deliveryRow(messages[0]!.deliveryId);
    expect(row).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(Math.abs(Date.parse(row!.next_attempt_at) - Date.now() - delay * 1000)).toBeLessThan(1500);
    expect(await attemptRows(messages[0]!.deliveryId)).toMatchObject([{ attempt: 1, status_code: 500, error: 'HTTP 500' }]);
    const endpointNow = (await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}`))).data;
    expect(endpointNow.failingSince).not.toBeNull();
  });

  it('a receiver that does not answer within the timeout counts as failed, with no status code', async () => {
    const workspace = await createWorkspace('timeout');
    await endpoint(workspace);
    receivers(() => 'hang');
    const { messages } = await fanOut(workspace);
    const started = Date.now();
    await run(WEBHOOK_QUEUES.deliveries, messages);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(3000);
    const [attempt] = await attemptRows(messages[0]!.deliveryId);
    expect(attempt).toMatchObject({ status_code: null, error: 'no response within 1 s' });
    expect(lanes.retries.sent).toHaveLength(1);
  });

  it('a redirect is not followed and counts as a failure', async () => {
    const workspace = await createWorkspace('redirect');
    await endpoint(workspace);
    receivers(() => 302);
    const { messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);
    expect(await attemptRows(messages[0]!.deliveryId)).toMatchObject([{ status_code: 302 }]);
    expect(lanes.retries.sent).toHaveLength(1);
  });

  it('endpoints go out concurrently: a hanging one does not hold another; each endpoint in order', async () => {
    const workspace = await createWorkspace('isolation');
    const slow = await endpoint(workspace, { eventTypes: ['video.live_stream.active', 'video.live_stream.stopped'] });
    const fast = await endpoint(workspace);
    receivers((url) => (url === slow.url ? 'hang' : 200));
    await fanOut(workspace, 'video.live_stream.active');
    await fanOut(workspace, 'video.live_stream.stopped');
    const messages = lanes.deliveries.sent.map((s) => s.body);
    expect(messages).toHaveLength(4);
    const started = Date.now();
    await run(WEBHOOK_QUEUES.deliveries, messages);

    const toFast = received.filter((r) => r.url === fast.url);
    expect(toFast.map((r) => JSON.parse(r.body).type)).toEqual(['video.live_stream.active', 'video.live_stream.stopped']);
    for (const r of toFast) expect(r.at - started).toBeLessThan(500);
    // The slow endpoint got one attempt; its second delivery waits with the first instead of hanging again.
    expect(received.filter((r) => r.url === slow.url)).toHaveLength(1);
    expect(lanes.retries.sent.map((s) => s.body.endpointId)).toEqual([slow.webhookId, slow.webhookId]);
    const [firstDelay, secondDelay] = lanes.retries.sent.map((s) => s.delaySeconds);
    expect(secondDelay).toBe(firstDelay);
  });
});

describe('retry lane', () => {
  async function retrying(workspace: Workspace) {
    receivers(() => 500);
    const { messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);
    return messages[0]!;
  }

  it('retries in place with a doubling delay while the receiver fails, then succeeds and clears the endpoint', async () => {
    const workspace = await createWorkspace('retry-lane');
    const hook = await endpoint(workspace);
    const message = await retrying(workspace);

    const second = await run(WEBHOOK_QUEUES.retries, [message], 2);
    expect(second.result.retryMessages).toHaveLength(1);
    expect(second.result.explicitAcks).toEqual([]);
    // The pool does not report the delay of message.retry(); the delivery records when the retry is due.
    const due = (Date.parse((await deliveryRow(message.deliveryId))!.next_attempt_at) - Date.now()) / 1000;
    expect(due).toBeGreaterThan(15);
    expect(due).toBeLessThanOrEqual(24.5);

    receivers(() => 200);
    const third = await run(WEBHOOK_QUEUES.retries, [message], 3);
    expect(third.result.explicitAcks).toHaveLength(1);
    expect(third.result.retryMessages).toEqual([]);
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect((await attemptRows(message.deliveryId)).map((a) => a.status_code)).toEqual([500, 500, 200]);
    expect((await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}`))).data.failingSince).toBeNull();
  });

  it('after 24 h of retrying, the next failure goes to the dead-letter queue and the delivery is failed', async () => {
    const workspace = await createWorkspace('dead-letter');
    await endpoint(workspace);
    const message = await retrying(workspace);
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000 - 1000).toISOString();
    await env.DB.prepare('UPDATE webhook_deliveries SET run_started_at = ? WHERE id = ?').bind(dayAgo, message.deliveryId).run();

    const { result } = await run(WEBHOOK_QUEUES.retries, [message], 14);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(lanes.dead.sent.map((s) => s.body)).toEqual([message]);
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'failed', next_attempt_at: null });

    // A stray copy of the message does nothing more.
    const before = received.length;
    const again = await run(WEBHOOK_QUEUES.retries, [message], 15);
    expect(again.result.explicitAcks).toHaveLength(1);
    expect(received.length).toBe(before);
  });

  it('a settled delivery or an earlier run is acked without sending', async () => {
    const workspace = await createWorkspace('stale');
    const hook = await endpoint(workspace);
    const message = await retrying(workspace);

    receivers(() => 200);
    const redeliver = await api(workspace, 'POST', `/webhooks/${hook.webhookId}/deliveries/${message.deliveryId}/redeliver`);
    expect(redeliver.status).toBe(202);
    const redelivered = (await json(redeliver)).data;
    expect(redelivered).toMatchObject({ status: 'pending', attempts: [{ attempt: 1, statusCode: 500 }] });
    // The real first-attempt lane delivers the new run.
    for (let i = 0; i < 50 && (await deliveryRow(message.deliveryId))!.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'succeeded', run: 2, attempts: 2 });
    const sent = received.length;

    // The retry still queued from run 1 finds itself outdated.
    const stale = await run(WEBHOOK_QUEUES.retries, [message], 2);
    expect(stale.result.explicitAcks).toHaveLength(1);
    expect(stale.result.retryMessages).toEqual([]);
    expect(received.length).toBe(sent);
    expect(await attemptRows(message.deliveryId)).toHaveLength(2);
  });
});

describe('redeliver and rotation', () => {
  it('redelivers the same webhook-id with a fresh signature, as attempt n+1, and signs with both secrets after a rotation', async () => {
    const workspace = await createWorkspace('redeliver');
    const hook = await endpoint(workspace);
    receivers(() => 200);
    const { event, messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);

    const rotated = (await json(await api(workspace, 'POST', `/webhooks/${hook.webhookId}/rotate-secret`))).data;
    // Redelivery goes through the real first-attempt lane; answer here and wait for it to land.
    const response = await api(workspace, 'POST', `/webhooks/${hook.webhookId}/deliveries/${messages[0]!.deliveryId}/redeliver`);
    expect(response.status).toBe(202);
    let log: any;
    for (let i = 0; i < 50; i++) {
      log = (await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}/deliveries`))).data[0];
      if (log.status === 'succeeded' && log.attempts.length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(log.attempts.map((a: any) => [a.attempt, a.statusCode])).toEqual([[2, 200], [1, 200]]);
    const again = received.filter((r) => r.headers['webhook-id'] === event.id);
    expect(again).toHaveLength(2);
    const last = again[1]!;
    expect(last.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(rotated.secret).verify(last.body, last.headers)).toEqual(event);
    expect(new Webhook(hook.secret).verify(last.body, last.headers)).toEqual(event);
    expect(() => new Webhook(rotated.secret).verify(again[0]!.body, again[0]!.headers)).toThrow();
  });

  it('the deliveries log pages newest first', async () => {
    const workspace = await createWorkspace('log-pages');
    const hook = await endpoint(workspace);
    receivers(() => 200);
    for (let i = 0; i < 3; i++) await fanOut(workspace);
    const ids = lanes.deliveries.sent.map((s) => s.body.deliveryId);
    const first = await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}/deliveries?limit=2`));
    const second = await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}/deliveries?limit=2&cursor=${first.pagination.nextCursor}`));
    expect([...first.data, ...second.data].map((d: any) => d.deliveryId)).toEqual([...ids].reverse());
    expect(second.pagination.nextCursor).toBeNull();
    const pending = await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}/deliveries?status=succeeded`));
    expect(pending.data).toEqual([]);
  });
});
