// The webhook Queue consumer: fan-out of each event to the matching endpoints, signed attempts, retry decisions on
// the two lanes, the dead-letter queue after 24 h, acknowledgements. Queues other than D1 are stand-ins here, so
// every message the consumer sends is seen; receivers are a stubbed fetch.
/// <reference types="vite/client" />
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach, vi, type MockInstance } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import type { Env } from '../../edge/env.ts';
import type { WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import type { DeliveryMessage } from '../../edge/webhooks/delivery.ts';
import { consumeWebhookEvents, fanOutEvent, ENDPOINT_BATCH_BUDGET_MS, WEBHOOK_QUEUES } from '../../edge/webhook-consumer.ts';
import { ENDPOINT_CONCURRENCY } from '../../edge/webhooks/endpoint-slots.ts';
import wranglerToml from '../../wrangler.toml?raw';
import { api, createWorkspace, json, type Workspace } from './helpers.ts';
import { standInWebhookLanes, type WebhookLanes } from './webhook-lanes.ts';

let lanes: WebhookLanes;
let testEnv: Env;
beforeEach(() => {
  ({ lanes, env: testEnv } = standInWebhookLanes());
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
function receivers(behaviour: (url: string, body: any) => number | 'hang' | Response | Promise<number | Response>) {
  received = [];
  fetchStub.mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    const body = String(init?.body);
    received.push({ url, headers: Object.fromEntries(new Headers(init?.headers).entries()), body, at: Date.now() });
    const outcome = await behaviour(url, JSON.parse(body));
    if (outcome === 'hang') {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }
    return outcome instanceof Response ? outcome : new Response(null, { status: outcome });
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
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'failed', next_attempt_at: null, failure_reason: 'retries exhausted' });

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

/** The structured log lines (edge/log.ts) printed while `body` runs. */
async function logsDuring(body: () => Promise<unknown>): Promise<Record<string, any>[]> {
  const lines: Record<string, any>[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    try {
      lines.push(JSON.parse(String(line)));
    } catch {
      // not one of ours
    }
  });
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('every queue that dead-letters has its dead letters consumed (wrangler.toml)', () => {
  it('each dead_letter_queue is itself consumed, by a queue the consumer knows', () => {
    const consumers = [...wranglerToml.split('[[queues.consumers]]').slice(1)].map((block) => ({
      queue: /^queue\s*=\s*"([^"]+)"/m.exec(block)?.[1],
      deadLetters: /^dead_letter_queue\s*=\s*"([^"]+)"/m.exec(block)?.[1],
    }));
    const consumed = new Set(consumers.map((c) => c.queue));
    const deadLetterQueues = consumers.flatMap((c) => (c.deadLetters ? [c.deadLetters] : []));
    expect(deadLetterQueues.length).toBeGreaterThanOrEqual(2);
    for (const dlq of deadLetterQueues) expect(consumed, dlq).toContain(dlq);
    expect(new Set(Object.values(WEBHOOK_QUEUES))).toEqual(consumed);
  });
});

describe('final outcomes: every delivery ends delivered or failed with a reason', () => {
  it('a delivery the queue gave up on (its dead-letter queue) is failed: retries exhausted, logged and listed', async () => {
    const workspace = await createWorkspace('dlq-delivery');
    const hook = await endpoint(workspace);
    receivers(() => 500);
    const { messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);
    const message = messages[0]!;
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'retrying' });
    const before = received.length;

    let outcome!: Awaited<ReturnType<typeof run>>;
    const lines = await logsDuring(async () => {
      outcome = await run(WEBHOOK_QUEUES.deadLetters, [message], 101);
    });
    expect(outcome.result.explicitAcks).toHaveLength(1);
    expect(outcome.result.retryMessages).toEqual([]);
    expect(received.length).toBe(before);
    expect(await deliveryRow(message.deliveryId)).toMatchObject({ status: 'failed', failure_reason: 'retries exhausted', next_attempt_at: null });
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'webhook_delivery_failed', deliveryId: message.deliveryId, reason: 'retries exhausted' }),
    );
    const listed = (await json(await api(workspace, 'GET', `/webhooks/${hook.webhookId}/deliveries?status=failed`))).data;
    expect(listed).toMatchObject([{ deliveryId: message.deliveryId, status: 'failed', failureReason: 'retries exhausted' }]);

    // A dead letter of an earlier run, or of a settled delivery, changes nothing.
    receivers(() => 200);
    const settled = await createWorkspace('dlq-delivery-settled');
    await endpoint(settled);
    lanes.deliveries.sent.length = 0;
    const { messages: delivered } = await fanOut(settled);
    await run(WEBHOOK_QUEUES.deliveries, delivered);
    await run(WEBHOOK_QUEUES.deadLetters, [delivered[0]!, { ...message, run: 0 }]);
    expect(await deliveryRow(delivered[0]!.deliveryId)).toMatchObject({ status: 'succeeded', failure_reason: null });
  });

  it('an event the events queue gave up on is recorded as failed to fan out, with a failed, redeliverable delivery per endpoint', async () => {
    const workspace = await createWorkspace('dlq-event');
    const wants = await endpoint(workspace);
    const filtered = await endpoint(workspace, { eventTypes: ['video.live_stream.stopped'] });
    const event = lifecycleEvent(workspace);

    let outcome!: Awaited<ReturnType<typeof run>>;
    const lines = await logsDuring(async () => {
      outcome = await run(WEBHOOK_QUEUES.eventDeadLetters, [event], 101);
    });
    expect(outcome.result.explicitAcks).toHaveLength(1);
    expect(lanes.deliveries.sent).toEqual([]);
    expect(await env.DB.prepare('SELECT fan_out_status, fan_out_error FROM webhook_events WHERE id = ?').bind(event.id).first()).toEqual({
      fan_out_status: 'failed',
      fan_out_error: 'retries exhausted',
    });
    expect(lines).toContainEqual(expect.objectContaining({ event: 'webhook_event_failed', eventId: event.id, endpoints: 1 }));
    const log = (await json(await api(workspace, 'GET', `/webhooks/${wants.webhookId}/deliveries`))).data;
    expect(log).toMatchObject([{ eventId: event.id, status: 'failed', failureReason: 'fan-out failed: retries exhausted', attempts: [] }]);
    expect((await json(await api(workspace, 'GET', `/webhooks/${filtered.webhookId}/deliveries`))).data).toEqual([]);

    // The customer can still have it: redeliver starts a run like any other.
    const again = await api(workspace, 'POST', `/webhooks/${wants.webhookId}/deliveries/${log[0].deliveryId}/redeliver`);
    expect(again.status).toBe(202);
    expect((await json(again)).data).toMatchObject({ status: 'pending', failureReason: null });
  });

  it('an event recorded before the queue gave up: the deliveries still owed a message fail, the sent ones carry on', async () => {
    const workspace = await createWorkspace('dlq-event-owed');
    await endpoint(workspace);
    const event = lifecycleEvent(workspace);
    const broken = { ...testEnv, WEBHOOK_DELIVERIES: { sendBatch: async () => Promise.reject(new Error('queue unavailable')) } } as unknown as Env;
    await expect(fanOutEvent(broken, event)).rejects.toThrow('queue unavailable');
    const { results } = await env.DB.prepare('SELECT id, status FROM webhook_deliveries WHERE event_id = ?').bind(event.id).all<Record<string, any>>();
    expect(results).toMatchObject([{ status: 'pending' }]);

    await run(WEBHOOK_QUEUES.eventDeadLetters, [event], 101);
    expect(await deliveryRow(results[0]!.id)).toMatchObject({ status: 'failed', failure_reason: 'fan-out failed: retries exhausted' });
  });

  it('a dead-lettered message that is not an event is logged and dropped', async () => {
    const lines = await logsDuring(async () => {
      const { result } = await run(WEBHOOK_QUEUES.eventDeadLetters, [{ nonsense: true }], 101);
      expect(result.explicitAcks).toHaveLength(1);
    });
    expect(lines).toContainEqual(expect.objectContaining({ event: 'webhook_event_unrecordable' }));
    const deliveryLines = await logsDuring(async () => {
      const { result } = await run(WEBHOOK_QUEUES.deadLetters, [{ deliveryId: 42 }, null], 101);
      expect(result.explicitAcks).toHaveLength(2);
    });
    expect(deliveryLines.filter((l) => l.event === 'webhook_dead_letter_unrecordable')).toHaveLength(2);
  });
});

describe('410 Gone disables the endpoint', () => {
  it('fails its deliveries, stops retrying, records why, and tells the workspace with webhook.endpoint.disabled', async () => {
    const workspace = await createWorkspace('gone');
    const gone = await endpoint(workspace);
    const watcher = await endpoint(workspace);
    const filtered = await endpoint(workspace, { eventTypes: ['video.live_stream.active'] });
    receivers((url) => (url === gone.url ? 410 : 200));
    await fanOut(workspace);
    await fanOut(workspace, 'video.live_stream.stopped');
    const [first, second] = lanes.deliveries.sent.map((s) => s.body).filter((m) => m.endpointId === gone.webhookId);
    lanes.deliveries.sent.length = 0;

    let outcome!: Awaited<ReturnType<typeof run>>;
    const lines = await logsDuring(async () => {
      outcome = await run(WEBHOOK_QUEUES.deliveries, [first!]);
    });
    expect(outcome.result.explicitAcks).toHaveLength(1);
    expect(lanes.retries.sent).toEqual([]);
    expect(await deliveryRow(first!.deliveryId)).toMatchObject({ status: 'failed', failure_reason: 'endpoint gone (HTTP 410)' });
    expect(await deliveryRow(second!.deliveryId)).toMatchObject({
      status: 'failed',
      failure_reason: 'endpoint disabled: the receiver answered 410 Gone',
    });
    const disabled = (await json(await api(workspace, 'GET', `/webhooks/${gone.webhookId}`))).data;
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'the receiver answered 410 Gone' });
    expect(Date.parse(disabled.disabledAt)).toBeGreaterThan(Date.now() - 10_000);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'webhook_endpoint_disabled', webhookId: gone.webhookId, statusCode: 410 }));

    // The workspace's every-type endpoints hear about it; filtered ones (their filter names only lifecycle types) do not.
    const notices = lanes.deliveries.sent.map((s) => s.body);
    expect(notices.map((m) => m.endpointId)).toEqual([watcher.webhookId]);
    await run(WEBHOOK_QUEUES.deliveries, notices);
    const notice = received.filter((r) => r.url === watcher.url).at(-1)!;
    const body = new Webhook(watcher.secret).verify(notice.body, notice.headers) as any;
    expect(body).toMatchObject({
      type: 'webhook.endpoint.disabled',
      workspaceId: workspace.id,
      data: { webhookId: gone.webhookId, url: gone.url, reason: 'the receiver answered 410 Gone', statusCode: 410 },
    });
    expect(received.some((r) => r.url === filtered.url && JSON.parse(r.body).type === 'webhook.endpoint.disabled')).toBe(false);

    // Nothing more goes to it: the other queued delivery is dropped unsent, new events skip it.
    const sentToGone = received.filter((r) => r.url === gone.url).length;
    const stale = await run(WEBHOOK_QUEUES.deliveries, [second!]);
    expect(stale.result.explicitAcks).toHaveLength(1);
    lanes.deliveries.sent.length = 0;
    await fanOut(workspace);
    expect(lanes.deliveries.sent.map((s) => s.body.endpointId)).not.toContain(gone.webhookId);
    expect(received.filter((r) => r.url === gone.url)).toHaveLength(sentToGone);

    // Enabling it again is the customer's call, and clears the reason.
    const enabled = (await json(await api(workspace, 'PATCH', `/webhooks/${gone.webhookId}`, { enabled: true }))).data;
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
  });
});

describe('429 honours Retry-After', () => {
  const tooMany = (retryAfter?: string) => () =>
    new Response(null, { status: 429, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } });

  it.each([
    ['120', 120, 120],
    ['in 300 s, as an HTTP-date', 298, 301],
    ['999999', 3600, 3600],
    ['1', 8, 12],
    [undefined, 8, 12],
    ['later', 8, 12],
  ])('Retry-After %s → next attempt in [%i, %i] s (at least the backoff, at most 1 h)', async (retryAfter, low, high) => {
    const workspace = await createWorkspace('too-many');
    await endpoint(workspace);
    const header = retryAfter?.startsWith('in 300 s') ? new Date(Date.now() + 300_000).toUTCString() : retryAfter;
    receivers(tooMany(header));
    const { messages } = await fanOut(workspace);
    await fanOut(workspace, 'video.live_stream.stopped');
    await run(WEBHOOK_QUEUES.deliveries, lanes.deliveries.sent.map((s) => s.body));
    expect(received).toHaveLength(1);
    const [delay = NaN, deferred] = lanes.retries.sent.map((s) => s.delaySeconds!);
    expect(delay).toBeGreaterThanOrEqual(low);
    expect(delay).toBeLessThanOrEqual(high);
    // The endpoint's next message waits just as long.
    expect(deferred).toBe(delay);
    const row = await deliveryRow(messages[0]!.deliveryId);
    expect(row).toMatchObject({ status: 'retrying' });
    expect(Math.abs(Date.parse(row!.next_attempt_at) - Date.now() - delay * 1000)).toBeLessThan(2000);
    expect(await attemptRows(messages[0]!.deliveryId)).toMatchObject([{ status_code: 429, error: 'HTTP 429' }]);
  });

  it('on the retry lane too', async () => {
    const workspace = await createWorkspace('too-many-retry');
    await endpoint(workspace);
    receivers(() => 500);
    const { messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);
    receivers(tooMany('900'));
    const { result } = await run(WEBHOOK_QUEUES.retries, messages, 2);
    expect(result.retryMessages).toHaveLength(1);
    const due = (Date.parse((await deliveryRow(messages[0]!.deliveryId))!.next_attempt_at) - Date.now()) / 1000;
    expect(due).toBeGreaterThan(895);
    expect(due).toBeLessThanOrEqual(901);
  });
});

describe('a slow receiver never holds a batch for long', () => {
  it('an endpoint gets a bounded share of a batch; the rest of its messages go back on the queue, not counted as failures', async () => {
    const workspace = await createWorkspace('slow');
    const slow = await endpoint(workspace);
    const fast = await endpoint(workspace);
    receivers(async (url) => {
      if (url === slow.url) await new Promise((r) => setTimeout(r, 400));
      return 200;
    });
    for (let i = 0; i < 10; i++) await fanOut(workspace);
    const messages = lanes.deliveries.sent.map((s) => s.body);
    lanes.deliveries.sent.length = 0;
    const started = Date.now();
    const { result } = await run(WEBHOOK_QUEUES.deliveries, messages);
    const took = Date.now() - started;

    expect(took).toBeLessThan(ENDPOINT_BATCH_BUDGET_MS + 1000);
    const toFast = received.filter((r) => r.url === fast.url);
    expect(toFast).toHaveLength(10);
    for (const r of toFast) expect(r.at - started).toBeLessThan(1000);
    const toSlow = received.filter((r) => r.url === slow.url).length;
    expect(toSlow).toBeGreaterThanOrEqual(3);
    expect(toSlow).toBeLessThan(10);
    // Requeued as new messages (acked here), so a backlog never spends the queue's retry budget.
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(20);
    const requeued = lanes.deliveries.sent.map((s) => s.body);
    expect(requeued).toHaveLength(10 - toSlow);
    for (const m of requeued) {
      expect(m.endpointId).toBe(slow.webhookId);
      expect(await deliveryRow(m.deliveryId)).toMatchObject({ status: 'pending', attempts: 0 });
    }
    await run(WEBHOOK_QUEUES.deliveries, requeued);
    expect(received.filter((r) => r.url === slow.url).length).toBeGreaterThan(toSlow);
  });
});

describe('per-endpoint concurrency, across consumer invocations', () => {
  const slotsOf = (endpointId: string) =>
    env.DB.prepare('SELECT slot, lease_until FROM webhook_endpoint_slots WHERE endpoint_id = ?').bind(endpointId).all().then((r) => r.results);

  it(`at most ${ENDPOINT_CONCURRENCY} attempts to one endpoint at a time; a batch finding its slots taken puts its messages back for later`, async () => {
    const workspace = await createWorkspace('slots');
    const hanging = await endpoint(workspace);
    const others = [await endpoint(workspace), await endpoint(workspace), await endpoint(workspace), await endpoint(workspace)];
    let inFlight = 0;
    let most = 0;
    receivers(async (url) => {
      if (url !== hanging.url) return 200;
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 700));
      inFlight -= 1;
      return 200;
    });
    for (let i = 0; i < 4; i++) await fanOut(workspace);
    const messages = lanes.deliveries.sent.map((s) => s.body);
    lanes.deliveries.sent.length = 0;
    const toHanging = messages.filter((m) => m.endpointId === hanging.webhookId);
    const toOthers = others.map((o, i) => messages.filter((m) => m.endpointId === o.webhookId)[i]!);

    // Four invocations at once (as Cloudflare runs them), each with one message for the slow endpoint and one for
    // another endpoint, which is served whatever the slow one does.
    const runs = await Promise.all(toHanging.map((m, i) => run(WEBHOOK_QUEUES.deliveries, [m, toOthers[i]!])));
    expect(most).toBe(ENDPOINT_CONCURRENCY);
    expect(received.filter((r) => r.url === hanging.url)).toHaveLength(ENDPOINT_CONCURRENCY);
    for (const o of others) expect(received.filter((r) => r.url === o.url)).toHaveLength(1);
    for (const { result } of runs) expect(result.retryMessages).toEqual([]);
    const putBack = lanes.deliveries.sent;
    expect(putBack).toHaveLength(4 - ENDPOINT_CONCURRENCY);
    for (const s of putBack) {
      expect(s.body.endpointId).toBe(hanging.webhookId);
      expect(s.delaySeconds).toBe(1); // the attempt timeout: by then a slot is free
      expect(await deliveryRow(s.body.deliveryId)).toMatchObject({ status: 'pending', attempts: 0 });
    }
    // Slots are given back when a batch is done.
    expect(await slotsOf(hanging.webhookId)).toEqual([]);
    await run(WEBHOOK_QUEUES.deliveries, putBack.map((s) => s.body));
    expect(received.filter((r) => r.url === hanging.url)).toHaveLength(4);
  });

  it("a crashed invocation's lease runs out", async () => {
    const workspace = await createWorkspace('slots-expire');
    const hook = await endpoint(workspace);
    receivers(() => 200);
    const { messages } = await fanOut(workspace);
    lanes.deliveries.sent.length = 0;
    const soon = new Date(Date.now() + 60_000).toISOString();
    for (let slot = 0; slot < ENDPOINT_CONCURRENCY; slot++) {
      await env.DB.prepare('INSERT INTO webhook_endpoint_slots VALUES (?, ?, ?, ?)').bind(hook.webhookId, slot, `crashed-${slot}`, soon).run();
    }
    await run(WEBHOOK_QUEUES.deliveries, messages);
    expect(received).toHaveLength(0);
    expect(lanes.deliveries.sent.map((s) => s.body)).toEqual(messages);

    await env.DB.prepare('UPDATE webhook_endpoint_slots SET lease_until = ? WHERE endpoint_id = ?')
      .bind(new Date(Date.now() - 1000).toISOString(), hook.webhookId)
      .run();
    await run(WEBHOOK_QUEUES.deliveries, messages);
    expect(received).toHaveLength(1);
    expect(await deliveryRow(messages[0]!.deliveryId)).toMatchObject({ status: 'succeeded' });
  });
});

describe('the real dead-letter queue of this Worker', () => {
  it('is consumed: a dead letter sent on it ends its delivery failed', async () => {
    const workspace = await createWorkspace('real-dlq');
    await endpoint(workspace);
    receivers(() => 500);
    const { messages } = await fanOut(workspace);
    await run(WEBHOOK_QUEUES.deliveries, messages);
    const message = messages[0]!;
    await env.WEBHOOK_DEAD_LETTERS.send(message);
    let row = await deliveryRow(message.deliveryId);
    for (let i = 0; i < 40 && row!.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      row = await deliveryRow(message.deliveryId);
    }
    expect(row).toMatchObject({ status: 'failed', failure_reason: 'retries exhausted' });
  });
});
