// Webhooks from a real RTMP broadcast to real receivers on loopback, each delivery verified with the public
// standardwebhooks library: the whole lifecycle in order, exactly once per webhook-id; a receiver that fails (500,
// then hangs past the timeout) gets everything once it recovers, every attempt logged, redeliver works; and the
// healthy receiver is not held up meanwhile. A receiver answering 410 Gone gets its endpoint disabled (and the workspace
// a webhook.endpoint.disabled notice); one answering 429 is next tried after its Retry-After, not the shorter backoff.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, type Publisher } from '../support/encoder.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TIMEOUT_SECONDS = 5;
const LIFECYCLE = ['video.live_stream.created', 'video.live_stream.active', 'video.live_stream.disconnected', 'video.live_stream.stopped'];

let stack: Stack;
let healthy: WebhookReceiver;
let flaky: WebhookReceiver;
let filtered: WebhookReceiver;
let disabled: WebhookReceiver;
let gone: WebhookReceiver | undefined;
let limited: WebhookReceiver | undefined;
const endpoints: Record<string, { webhookId: string; secret: string }> = {};
let publisher: Publisher | null = null;
let streamId: string;

async function endpoint(name: string, receiver: WebhookReceiver, body: Record<string, unknown> = {}) {
  const response = await stack.api('POST', '/webhooks', { url: receiver.url, description: name, ...body });
  expect(response.status).toBe(201);
  receiver.secret = response.body.data.secret;
  endpoints[name] = response.body.data;
}

const ofStream = (receiver: WebhookReceiver) => receiver.received.filter((r) => r.body?.streamId === streamId);

beforeAll(async () => {
  stack = await startStack({
    edgeVars: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1', WEBHOOK_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) },
  });
  healthy = await startWebhookReceiver();
  // Two 500s, then two requests left hanging past the timeout, then healthy again.
  flaky = await startWebhookReceiver((n) => (n <= 2 ? 500 : n <= 4 ? 'hang' : 200));
  filtered = await startWebhookReceiver();
  disabled = await startWebhookReceiver();
  await endpoint('healthy', healthy);
  await endpoint('flaky', flaky);
  await endpoint('filtered', filtered, { eventTypes: ['video.live_stream.active'] });
  await endpoint('disabled', disabled, { enabled: false });
});

afterAll(async () => {
  await publisher?.kill();
  await Promise.all([healthy, flaky, filtered, disabled, gone, limited].map((r) => r?.close()));
  await stack?.stop();
});

describe('webhooks from a real broadcast', () => {
  it('a test ping arrives signed', async () => {
    const response = await stack.api('POST', `/webhooks/${endpoints.healthy!.webhookId}/test`);
    expect(response.status).toBe(202);
    const ping = await waitFor('the ping', async () => healthy.received.find((r) => r.body?.type === 'webhook.ping'), 10_000);
    expect(ping.verified).toBe(true);
    expect(ping.body).toMatchObject({ type: 'webhook.ping', data: { webhookId: endpoints.healthy!.webhookId } });
    expect(ping.id).toBe(ping.body.id);
  });

  it('the healthy receiver gets created, active, disconnected, stopped in order, once each, verified and on time', async () => {
    const stream = await stack.createStream({ reconnectWindow: 2 });
    streamId = stream.streamId;
    publisher = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, { size: '854x480' });
    await stack.waitForStatus(streamId, 'STREAMING');
    await new Promise((r) => setTimeout(r, 3000));
    await publisher.kill();
    publisher = null;
    await stack.waitForStatus(streamId, 'DISCONNECTED');
    await stack.waitForStatus(streamId, 'STOPPED', 15_000);

    await waitFor('the whole lifecycle at the healthy receiver', async () => (ofStream(healthy).length >= 4 ? true : undefined), 15_000);
    await new Promise((r) => setTimeout(r, 1500)); // anything extra (a duplicate) would arrive by now
    const got = ofStream(healthy);
    for (const r of got) expect(r.verified, r.verifyError).toBe(true);
    expect(got.map((r) => r.body.type)).toEqual(LIFECYCLE);
    expect(got.map((r) => r.body.event)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'STOPPED']);
    expect(got.map((r) => r.body.status)).toEqual(['NOT_STARTED', 'STREAMING', 'DISCONNECTED', 'STOPPED']);
    const sequences = got.map((r) => r.body.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(got.map((r) => r.id)).size).toBe(4);
    for (const r of got) {
      expect(r.id).toBe(r.body.id);
      expect(r.body.data.streamId).toBe(streamId);
      expect(r.headers['content-type']).toBe('application/json');
    }

    // Not held up by the failing receiver: each event reached the healthy one soon after it happened.
    const lateness = got.map((r) => r.receivedAt - Date.parse(r.body.timestamp));
    console.log(`healthy receiver lateness per event (ms): ${lateness.join(', ')}`);
    for (const ms of lateness) expect(ms).toBeLessThan(3000);

    const onlyActive = ofStream(filtered);
    expect(onlyActive.map((r) => r.body.type)).toEqual(['video.live_stream.active']);
    expect(onlyActive[0]!.verified).toBe(true);
    expect(disabled.received).toHaveLength(0);
  });

  it('the failing receiver gets every event once it recovers; every attempt is logged', async () => {
    const eventIds = new Set(ofStream(healthy).map((r) => r.id));
    await waitFor('every event at the recovered receiver', async () => {
      const delivered = new Set(flaky.received.filter((r) => r.answer === 200 && r.verified).map((r) => r.id));
      return [...eventIds].every((id) => delivered.has(id)) ? true : undefined;
    }, 60_000);
    for (const r of flaky.received) expect(r.verified, r.verifyError).toBe(true);
    expect(flaky.received.slice(0, 4).map((r) => r.answer)).toEqual([500, 500, 'hang', 'hang']);

    const log = (await stack.api('GET', `/webhooks/${endpoints.flaky!.webhookId}/deliveries?limit=100`)).body.data;
    const lifecycle = log.filter((d: any) => eventIds.has(d.eventId));
    expect(lifecycle).toHaveLength(4);
    for (const delivery of lifecycle) {
      expect(delivery.status).toBe('succeeded');
      expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, error: null });
      expect(delivery.attempts.map((a: any) => a.attempt)).toEqual(
        Array.from({ length: delivery.attempts.length }, (_, i) => delivery.attempts.length - i),
      );
    }
    const attempts = lifecycle.flatMap((d: any) => d.attempts);
    console.log(`failing receiver: ${flaky.received.length} requests, attempts ${attempts.map((a: any) => a.statusCode ?? 'timeout').join(' ')}`);
    expect(attempts).toHaveLength(flaky.received.filter((r) => eventIds.has(r.id)).length);
    expect(attempts.filter((a: any) => a.statusCode === 500)).toHaveLength(2);
    const timeouts = attempts.filter((a: any) => a.statusCode === null);
    expect(timeouts).toHaveLength(2);
    for (const t of timeouts) {
      expect(t.error).toBe(`no response within ${TIMEOUT_SECONDS} s`);
      expect(t.latencyMs).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1000 - 100);
    }
    const webhook = (await stack.api('GET', `/webhooks/${endpoints.flaky!.webhookId}`)).body.data;
    expect(webhook.failingSince).toBeNull();

    // The healthy receiver got lifecycle events while the failing one was holding a request open.
    const during = ofStream(healthy).filter((r) => flaky.hangs.some((h) => r.receivedAt >= h.start && r.receivedAt <= (h.end ?? Infinity)));
    console.log(`healthy deliveries while the failing receiver hung: ${during.map((r) => r.body.type).join(', ')}`);
    expect(during.length).toBeGreaterThan(0);
  });

  it('redeliver sends the same webhook-id again, logged as one more attempt', async () => {
    const log = (await stack.api('GET', `/webhooks/${endpoints.flaky!.webhookId}/deliveries?limit=100`)).body.data;
    const active = log.find((d: any) => d.eventType === 'video.live_stream.active' && ofStream(healthy).some((r) => r.id === d.eventId));
    const before = flaky.received.filter((r) => r.id === active.eventId).length;
    const response = await stack.api('POST', `/webhooks/${endpoints.flaky!.webhookId}/deliveries/${active.deliveryId}/redeliver`);
    expect(response.status).toBe(202);
    const again = await waitFor('the redelivery', async () => {
      const copies = flaky.received.filter((r) => r.id === active.eventId);
      return copies.length > before ? copies.at(-1) : undefined;
    }, 15_000);
    expect(again.verified).toBe(true);
    expect(again.body.type).toBe('video.live_stream.active');
    const after = await waitFor('the logged attempt', async () => {
      const d = (await stack.api('GET', `/webhooks/${endpoints.flaky!.webhookId}/deliveries?limit=100`)).body.data.find(
        (x: any) => x.deliveryId === active.deliveryId,
      );
      return d.status === 'succeeded' && d.attempts.length === active.attempts.length + 1 ? d : undefined;
    }, 10_000);
    expect(after.attempts[0]).toMatchObject({ attempt: active.attempts.length + 1, statusCode: 200 });
  });

  it('410 Gone disables the endpoint with a reason and a notice; 429 waits out its Retry-After', async () => {
    gone = await startWebhookReceiver(() => 410);
    limited = await startWebhookReceiver((n) => (n === 1 ? 429 : 200));
    limited.retryAfterSeconds = 4;
    await endpoint('gone', gone, { eventTypes: ['video.live_stream.created'] });
    await endpoint('limited', limited, { eventTypes: ['video.live_stream.created'] });
    const goneId = endpoints.gone!.webhookId;
    const created = await stack.createStream();

    const off = await waitFor('the gone endpoint disabled', async () => {
      const webhook = (await stack.api('GET', `/webhooks/${goneId}`)).body.data;
      return webhook.enabled === false ? webhook : undefined;
    }, 10_000);
    expect(off).toMatchObject({ disabledReason: 'the receiver answered 410 Gone' });
    const [delivery] = (await stack.api('GET', `/webhooks/${goneId}/deliveries`)).body.data;
    expect(delivery).toMatchObject({ status: 'failed', failureReason: 'endpoint gone (HTTP 410)', attempts: [{ statusCode: 410 }] });
    const notice = await waitFor('the webhook.endpoint.disabled notice', async () =>
      healthy.received.find((r) => r.body?.type === 'webhook.endpoint.disabled'), 10_000);
    expect(notice.verified, notice.verifyError).toBe(true);
    expect(notice.body.data).toMatchObject({ webhookId: goneId, reason: 'the receiver answered 410 Gone', statusCode: 410 });
    expect((await stack.edgeLogs()).some((line) => line.includes('webhook_endpoint_disabled') && line.includes(goneId))).toBe(true);

    const [first, second] = await waitFor('the 429 then its retry', async () =>
      limited!.received.length >= 2 ? limited!.received : undefined, 20_000);
    expect([first!.answer, second!.answer]).toEqual([429, 200]);
    expect(first!.body.streamId).toBe(created.streamId);
    const gap = second!.receivedAt - first!.receivedAt;
    console.log(`429 with Retry-After: 4 → next attempt after ${gap} ms (backoff alone: ~1000 ms)`);
    expect(gap).toBeGreaterThanOrEqual(3900);
    expect(gap).toBeLessThan(10_000);

    // Nothing more reaches the gone receiver.
    await stack.createStream();
    await new Promise((r) => setTimeout(r, 2000));
    expect(gone.received).toHaveLength(1);
  });
});
