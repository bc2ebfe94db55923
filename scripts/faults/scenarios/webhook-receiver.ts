// A customer's webhook receiver down, answering 500, 410 or 429 (with Retry-After), or hanging, through a whole
// broadcast's lifecycle. Once it is healthy again it must get every event exactly once (410: the endpoint is
// disabled instead, and every delivery ends as failed with a reason); the steady receiver is never held up.
import type { Fault } from '../fault.ts';
import { sleep, type FaultContext } from '../context.ts';
import { startWebhookReceiver, type ReceiverMode, type WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import { markNow, webhookDeliveriesSettle, webhooksExactlyOnce } from '../invariants.ts';

const MODES: Exclude<ReceiverMode, 'ok'>[] = ['down', 500, 410, 429, 'hang'];
/** how long the receiver stays faulty after the broadcast's last event */
const FAULTY_AFTER_MS = 8000;
/**
 * How long the deliveries get to settle once the receiver is healthy. With the suite's 1 s retry base the longest
 * backoff a ~30 s fault reaches is ~32 s; each delivery is judged against the next attempt its log shows (plus slack),
 * so a lost retry is reported when it is overdue, not when this runs out.
 */
const SETTLE_LIMIT_MS = 150_000;

/** The receiver as an endpoint of the fault's workspace (its secret kept for verifying), removed with the fault. */
async function registerEndpoint(ctx: FaultContext, receiver: WebhookReceiver, description: string): Promise<string> {
  const created = await ctx.stack.api('POST', '/webhooks', { url: receiver.url, description });
  if (created.status !== 201) throw new Error(`endpoint not created: ${created.status}`);
  receiver.secret = created.body.data.secret;
  const webhookId = created.body.data.webhookId as string;
  ctx.cleanups.push(async () => {
    await ctx.stack.api('DELETE', `/webhooks/${webhookId}`);
    await receiver.close();
  });
  return webhookId;
}

export const webhookFaults: Fault[] = MODES.map((mode) => ({
  name: `webhook receiver ${typeof mode === 'number' ? `answering ${mode}` : mode === 'hang' ? 'hanging' : mode}`,
  moment: 'any',
  async run(ctx) {
    const { stack } = ctx;
    const mark = await markNow(stack);
    const receiver = await startWebhookReceiver();
    const webhookId = await registerEndpoint(ctx, receiver, `fault: ${mode}`);
    await receiver.setMode(mode);

    const reconnectWindow = 2;
    const b = await ctx.broadcast({ reconnectWindow, watch: false });
    await ctx.waitSegments(b, 1);
    await b.publisher.stop();
    await stack.waitForStatus(b.stream.streamId, 'STOPPED', 30_000);
    await sleep(FAULTY_AFTER_MS);
    const violations: string[] = [];
    const figures: Record<string, unknown> = { requestsWhileFaulty: receiver.received.length };

    if (mode === 410) {
      const endpoint = (await stack.api('GET', `/webhooks/${webhookId}`)).body.data;
      if (endpoint?.enabled !== false) violations.push('a 410 did not disable the endpoint');
      await receiver.setMode('ok');
      const before = receiver.received.length;
      await sleep(4000);
      if (receiver.received.length > before) violations.push(`the disabled endpoint still got ${receiver.received.length - before} request(s)`);
    }
    // The delivery log: every event ends delivered, or failed with a reason; none left pending, and none overdue.
    if (mode !== 410) await receiver.setMode('ok');
    const settle = await webhookDeliveriesSettle(stack, webhookId, (d) => d.eventType.startsWith('video.live_stream'), SETTLE_LIMIT_MS);
    violations.push(...settle.violations);
    figures.settledAfterRecoveryMs = settle.waitedMs;
    if (settle.settled) {
      figures.deliveries = settle.settled.length;
      figures.attempts = settle.settled.reduce((n, d) => n + d.attempts.length, 0);
    }
    if (mode !== 410) {
      const once = await webhooksExactlyOnce(stack, receiver, [b.stream.streamId], settle.settled ? 5_000 : 0, `receiver that was ${mode}`);
      violations.push(...once.violations);
      figures.deliveredAfterRecovery = once.delivered;
    }
    if (mode === 429) {
      // Retry-After: 2 — no event may be retried sooner than that after a 429.
      const byEvent = new Map<string, number[]>();
      for (const r of receiver.received) byEvent.set(r.id, [...(byEvent.get(r.id) ?? []), r.receivedAt]);
      const spacings = [...byEvent.values()].flatMap((times) => times.slice(1).map((t, i) => t - times[i]!));
      const soonest = spacings.length ? Math.min(...spacings) : null;
      figures.soonestRetryAfter429Ms = soonest;
      if (soonest !== null && soonest < receiver.retryAfterSeconds * 1000 - 200) violations.push(`retried ${soonest} ms after a 429 with Retry-After ${receiver.retryAfterSeconds}`);
    }
    figures.requests = receiver.received.length;
    return {
      expectations: [{ streamId: b.stream.streamId, final: ['STOPPED'], withinSeconds: reconnectWindow + 30 }],
      figures,
      violations,
    };
  },
}));

/**
 * The CI-sized one: a receiver answering 500 to its first three requests, then OK, for the events of a stream
 * created, disabled and enabled through the API (no encoder): every event arrives once, after a retry.
 */
export const webhook500ThenOk: Fault = {
  name: 'webhook receiver answering 500, then OK',
  moment: 'any',
  ci: true,
  async run(ctx) {
    const { stack } = ctx;
    const receiver = await startWebhookReceiver((n) => (n <= 3 ? 500 : 200));
    const webhookId = await registerEndpoint(ctx, receiver, 'fault: 500 then ok');
    const stream = await stack.createStream({ reconnectWindow: 2 });
    await stack.api('PUT', `/live/streams/${stream.streamId}/live-disable`);
    await stack.api('PUT', `/live/streams/${stream.streamId}/live-enable`);
    const once = await webhooksExactlyOnce(stack, receiver, [stream.streamId], 30_000, 'receiver that answered 500');
    return {
      expectations: [{ streamId: stream.streamId, final: ['NOT_STARTED'], withinSeconds: 10 }],
      figures: { requests: receiver.received.length, failedFirst: receiver.received.filter((r) => r.answer === 500).length, delivered: once.delivered },
      violations: once.violations,
    };
  },
};
