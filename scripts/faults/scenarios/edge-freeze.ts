// The edge frozen: every workerd process of the local edge SIGSTOPped for a while, then SIGCONTinued. A connected
// encoder must never be kicked for it (defect 5).
import type { FaultContext } from '../context.ts';
import type { Fault } from '../fault.ts';
import { beforePublish, duringFinalization, midBroadcast, type Inject } from '../flows.ts';

/** How long the freeze waits for the stream's webhooks so far to be delivered, and then for the queues to be idle. */
const QUIET_DEADLINE_MS = 10_000;
/** After the last webhook arrived: the consumer invocations that sent it record their outcome and return. */
const QUIET_MS = 300;

/**
 * Waits until every event of the stream so far reached the steady receiver and nothing arrived for QUIET_MS: no
 * webhook batch is then due or in flight in the local Queue broker. SIGSTOP freezes that broker with the Worker (it is
 * a Durable Object inside the same workerd), and freezing it with a batch due wedges it for good — a simulator defect
 * (invariants.ts, whyWebhooksMissing) that a deployed Queue, a separate service, does not share. The Worker, the
 * StreamObject and the origin are frozen exactly as before; only the moment avoids the simulator's trap. Events made
 * during and after the freeze still go through the thawed queues and are checked as before.
 */
async function webhooksQuiet(ctx: FaultContext, streamId: string): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < QUIET_DEADLINE_MS) {
    const expected = (await ctx.stack.getStream(streamId).catch(() => null))?.activities?.length ?? 0;
    const got = new Set(ctx.steady.received.filter((r) => r.body?.streamId === streamId && r.answer === 200).map((r) => r.body.sequence));
    const last = Math.max(0, ...ctx.steady.received.map((r) => r.receivedAt));
    if (expected > 0 && got.size >= expected && Date.now() - last >= QUIET_MS) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

const freeze = (seconds: number): Inject => async (ctx, b) => {
  const quietMs = await webhooksQuiet(ctx, b.stream.streamId);
  await ctx.stack.freezeEdge(seconds * 1000);
  return { frozenSeconds: seconds, webhooksQuietBeforeFreezeMs: quietMs };
};

/**
 * Before publish the wait comes first (the flow's `prepare`), so the encoder still arrives 1 s into the freeze: waited
 * inside the fault, the encoder was live before the freeze began when the stream's created event was slow to arrive.
 */
const freezeBeforePublish = (seconds: number) => (ctx: FaultContext) => {
  let quietMs: number | null = null;
  return beforePublish(
    ctx,
    async () => {
      await ctx.stack.freezeEdge(seconds * 1000);
      return { frozenSeconds: seconds, webhooksQuietBeforeFreezeMs: quietMs };
    },
    { prepare: async (_ctx, b) => void (quietMs = await webhooksQuiet(ctx, b.stream.streamId)) },
  );
};

export const edgeFreezes: Fault[] = [
  ...[5, 20, 60].map((seconds): Fault => ({
    name: `edge frozen ${seconds} s`,
    moment: 'mid-broadcast',
    // A connected encoder needs no window. The window is deliberately shorter than the outage (5 s, not the default
    // 60 s that would outlast a 60 s fault anyway): it ends while the edge still cannot hear the origin, which must
    // keep the session in doubt rather than stop it and kick an encoder that is publishing fine.
    run: (ctx) => midBroadcast(ctx, freeze(seconds), { noKick: true, reconnectWindow: 5 }),
  })),
  { name: 'edge frozen 20 s', moment: 'before publish', run: freezeBeforePublish(20) },
  { name: 'edge frozen 20 s', moment: 'during finalization', run: (ctx) => duringFinalization(ctx, freeze(20)) },
];

/** The CI-sized one. */
export const edgeFreezeQuick: Fault = {
  name: 'edge frozen 5 s',
  moment: 'mid-broadcast',
  ci: true,
  run: (ctx) => midBroadcast(ctx, freeze(5), { noKick: true, reconnectWindow: 3, segments: 1 }),
};

const cut = (seconds: number): Inject => async (ctx) => {
  ctx.stack.edgeProxy!.cut(seconds * 1000, { action: 'reset' });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return { unreachableSeconds: seconds, refusedRequests: ctx.stack.edgeProxy!.refused };
};

/**
 * The origin cannot reach the edge at all for 60 s (its calls are reset) while the edge still reaches the origin: the
 * control plane outage of defect 5. A 5 s window, as above: it ends in the middle of the outage.
 */
export const edgeUnreachable: Fault = {
  name: 'edge unreachable from the origin 60 s',
  moment: 'mid-broadcast',
  run: (ctx) => midBroadcast(ctx, cut(60), { noKick: true, reconnectWindow: 5 }),
};
