// The delivery log says when each delivery will next be tried, also for the deliveries a failing endpoint's batch
// put off without trying (they wait as long as the one that failed). The fault suite reads this to tell a retry that
// is simply due later from one whose queue message was lost.
/// <reference types="vite/client" />
import { describe, it, expect, beforeAll, afterAll, beforeEach, vi } from 'vitest';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import type { Env } from '../../edge/env.ts';
import type { WebhookEvent } from '../../shared/schemas/webhook-event.ts';
import type { DeliveryMessage } from '../../edge/webhooks/delivery.ts';
import { consumeWebhookEvents, fanOutEvent, WEBHOOK_QUEUES } from '../../edge/webhook-consumer.ts';
import { api, createWorkspace, json, type Workspace } from './helpers.ts';
import { standInWebhookLanes, type WebhookLanes } from './webhook-lanes.ts';

let lanes: WebhookLanes;
let testEnv: Env;
beforeEach(() => {
  ({ lanes, env: testEnv } = standInWebhookLanes());
});

/** Every receiver answers 500. */
beforeAll(() => {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('failing', { status: 500 }));
});
afterAll(() => {
  vi.restoreAllMocks();
});

let sequence = 0;
function lifecycleEvent(workspace: Workspace): WebhookEvent {
  sequence += 1;
  return {
    id: `evt_${crypto.randomUUID()}`,
    type: 'video.live_stream.active',
    event: 'ON_PUBLISH',
    sequence,
    timestamp: new Date().toISOString(),
    workspaceId: workspace.id,
    streamId: 'ls_next_attempt',
    status: 'STREAMING',
    sessionId: 'ses_1',
    reason: null,
    data: { streamId: 'ls_next_attempt' } as WebhookEvent['data'],
  } as WebhookEvent;
}

async function run(queue: string, bodies: DeliveryMessage[], attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await consumeWebhookEvents(batch as MessageBatch<unknown>, testEnv);
  return getQueueResult(batch, ctx);
}

async function endpointOf(workspace: Workspace): Promise<string> {
  const response = await api(workspace, 'POST', '/webhooks', { url: `https://receiver.test/${crypto.randomUUID()}` });
  expect(response.status).toBe(201);
  return (await json(response)).data.webhookId;
}

async function deliveryLog(workspace: Workspace, webhookId: string): Promise<Map<string, { status: string; nextAttemptAt: string | null }>> {
  const { data } = await json(await api(workspace, 'GET', `/webhooks/${webhookId}/deliveries?limit=100`));
  return new Map((data as any[]).map((d) => [d.deliveryId, { status: d.status, nextAttemptAt: d.nextAttemptAt }]));
}

const dueIn = (at: string | null | undefined) => (at ? (Date.parse(at) - Date.now()) / 1000 : null);

describe('deliveries put off behind a failure say when they are due', () => {
  it('on the retry lane: each one waits as long as the failed one, and the log says so', async () => {
    const workspace = await createWorkspace('next-attempt-retry-lane');
    const webhookId = await endpointOf(workspace);
    await fanOutEvent(testEnv, lifecycleEvent(workspace));
    const [first] = lanes.deliveries.sent.map((s) => s.body);
    await run(WEBHOOK_QUEUES.deliveries, [first!]);
    // The endpoint is failing now: later events go straight to the retry lane.
    await fanOutEvent(testEnv, lifecycleEvent(workspace));
    await fanOutEvent(testEnv, lifecycleEvent(workspace));
    const later = lanes.retries.sent.map((s) => s.body).filter((b) => b.deliveryId !== first!.deliveryId);
    expect(later).toHaveLength(2);

    const result = await run(WEBHOOK_QUEUES.retries, [first!, ...later], 2);
    expect(result.retryMessages).toHaveLength(3);
    const log = await deliveryLog(workspace, webhookId);
    const failedDue = dueIn(log.get(first!.deliveryId)?.nextAttemptAt);
    // Second failure of a 10 s base: 20 s ± 20 %.
    expect(failedDue).toBeGreaterThan(15);
    for (const m of later) {
      const due = dueIn(log.get(m.deliveryId)?.nextAttemptAt);
      expect(due, m.deliveryId).not.toBeNull();
      expect(Math.abs(due! - failedDue!), m.deliveryId).toBeLessThan(2);
    }
  });

  it('on the first-attempt lane: the ones handed to the retry lane with a delay are due after it', async () => {
    const workspace = await createWorkspace('next-attempt-first-lane');
    const webhookId = await endpointOf(workspace);
    await fanOutEvent(testEnv, lifecycleEvent(workspace));
    await fanOutEvent(testEnv, lifecycleEvent(workspace));
    const [a, b] = lanes.deliveries.sent.map((s) => s.body);
    await run(WEBHOOK_QUEUES.deliveries, [a!, b!]);
    const handedOver = lanes.retries.sent.find((s) => s.body.deliveryId === b!.deliveryId);
    expect(handedOver?.delaySeconds).toBeGreaterThanOrEqual(8);
    const log = await deliveryLog(workspace, webhookId);
    expect(log.get(b!.deliveryId)?.status).toBe('pending');
    const due = dueIn(log.get(b!.deliveryId)?.nextAttemptAt);
    expect(due).not.toBeNull();
    expect(Math.abs(due! - handedOver!.delaySeconds!)).toBeLessThan(2);
  });
});
