// The invariants every fault is checked against once it is over: the expected final status; no stream left waiting
// without an alarm; exactly one webhook-id per event and endpoint with no sequence gaps; every listed segment
// fetchable and at most one lost; no unexpected 5xx from the edge; the origin never exits unless killed; no secret
// in any log line.
import { waitFor, type Stack } from '../../test/support/stack.ts';
import type { WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { describeFindings, scanForSecrets } from '../../test/support/log-secrets.ts';
import type { FaultOutcome } from './fault.ts';
import type { WatchFigures } from './playlist-watcher.ts';

/** Violations that mean a broadcast (or its recording) was lost start with this, so the summary can count them. */
export const LOST = 'broadcast lost:';

/** Where every record of the stack stood when a fault began, so only what happened since is judged. */
export interface Mark {
  at: number;
  edgeStatuses: number;
  proxyAnswers: number;
  originExits: number;
  originLogs: number;
  edgeLogs: number;
}

export async function markNow(stack: Stack): Promise<Mark> {
  return {
    at: Date.now(),
    edgeStatuses: stack.edgeStatuses.length,
    proxyAnswers: stack.edgeProxy?.answers.length ?? 0,
    originExits: stack.originExits.length,
    originLogs: stack.originLogs.length,
    edgeLogs: (await stack.edgeLogs()).length,
  };
}

export async function finalStatuses(stack: Stack, outcome: FaultOutcome): Promise<string[]> {
  const violations: string[] = [];
  await Promise.all(
    outcome.expectations.map(async (e) => {
      try {
        await waitFor(`stream ${e.streamId} to end as ${e.final.join(' or ')}`, async () => {
          const stream = await stack.getStream(e.streamId);
          return e.final.includes(stream?.status) ? true : undefined;
        }, e.withinSeconds * 1000);
      } catch {
        const stream = await stack.getStream(e.streamId).catch(() => null);
        violations.push(`${LOST} stream ${e.streamId} is ${stream?.status ?? 'unreadable'} ${e.withinSeconds} s after the run, expected ${e.final.join(' or ')}` +
          (stream?.activities ? ` (activities: ${stream.activities.map((a: any) => a.event).join(' ')})` : ''));
      }
    }),
  );
  return violations;
}

/** A DISCONNECTED stream must reach STOPPED once its window is over: one still waiting long after has no alarm. */
export async function noStreamWithoutAlarm(stack: Stack): Promise<string[]> {
  const violations: string[] = [];
  const { body } = await stack.api('GET', '/live/streams?status=DISCONNECTED&limit=100');
  for (const listed of body?.data ?? []) {
    const stream = await stack.getStream(listed.streamId);
    if (stream?.status !== 'DISCONNECTED') continue;
    const since = Date.parse(stream.activities?.at(-1)?.at ?? stream.createdAt);
    const overdueMs = Date.now() - since - stream.reconnectWindow * 1000;
    if (overdueMs > 15_000) violations.push(`stream ${stream.streamId} has been DISCONNECTED ${Math.round(overdueMs / 1000)} s past its ${stream.reconnectWindow} s window (no alarm)`);
  }
  return violations;
}

/**
 * Per stream and endpoint: every sequence 1..n of the stream's activities delivered, each under exactly one
 * webhook-id, every delivery verified. Waits (up to `settleMs`) for retries to fill gaps first.
 */
export async function webhooksExactlyOnce(
  stack: Stack,
  receiver: WebhookReceiver,
  streamIds: string[],
  settleMs: number,
  label: string,
  diagnose?: { webhookId: string; mark: Mark },
): Promise<{ violations: string[]; delivered: number; eventsLaneStalled: boolean }> {
  const violations: string[] = [];
  let delivered = 0;
  let eventsLaneStalled = false;
  for (const streamId of streamIds) {
    const stream = await stack.getStream(streamId);
    const expected = stream?.activities?.length ?? 0;
    const ofStream = () => receiver.received.filter((r) => r.verified && r.body?.streamId === streamId && r.answer === 200);
    const missing = () => {
      const seen = new Set(ofStream().map((r) => r.body.sequence));
      return Array.from({ length: expected }, (_, i) => i + 1).filter((s) => !seen.has(s));
    };
    await waitFor('every event delivered', async () => (missing().length === 0 ? true : undefined), settleMs).catch(() => undefined);
    const gaps = missing();
    if (gaps.length > 0) {
      const why = diagnose ? await whyWebhooksMissing(stack, receiver, diagnose.webhookId, streamId, diagnose.mark) : null;
      eventsLaneStalled ||= why?.eventsLaneStalled ?? false;
      violations.push(`${why?.eventsLaneStalled ? SIMULATOR : ''}${label}: stream ${streamId} misses webhook sequence(s) ${gaps.join(',')} of 1..${expected}${why ? ` — ${why.text}` : ''}`);
    }
    const idsBySequence = new Map<number, Set<string>>();
    for (const r of receiver.received.filter((x) => x.body?.streamId === streamId)) {
      if (!r.verified) violations.push(`${label}: delivery ${r.id} failed verification: ${r.verifyError}`);
      const ids = idsBySequence.get(r.body.sequence) ?? new Set();
      ids.add(r.id);
      idsBySequence.set(r.body.sequence, ids);
    }
    for (const [sequence, ids] of idsBySequence) {
      if (ids.size > 1) violations.push(`${label}: stream ${streamId} sequence ${sequence} came under ${ids.size} webhook-ids`);
    }
    delivered += ofStream().length;
  }
  return { violations, delivered, eventsLaneStalled };
}

/**
 * Violations caused by the local simulator rather than by Riverhead start with this: they still fail the fault (a
 * run that lost webhooks proved nothing about them), but say whose defect it is.
 */
export const SIMULATOR = 'local simulator: ';

/** How long a probe of the two webhook lanes waits for its canary event and test ping. */
const LANE_PROBE_MS = 15_000;

/**
 * Says where missing webhook events were lost, from what can be seen outside the edge: the delivery log (a delivery
 * still open there is the delivery lanes' — ours), the edge's own log lines, and a probe of both lanes now — a canary
 * stream (a new StreamObject, whose `created` event goes through the events Queue and the fan-out) and a test ping
 * (straight onto the delivery lane). A ping that arrives while a brand-new object's event does not means the events
 * Queue dispatches nothing at all: miniflare's local Queue broker (a Durable Object inside the same workerd) wedges
 * when workerd is SIGSTOPped while a batch is due. After SIGCONT the consumer runs that batch, but the broker's flush
 * never returns from the dispatch, so its pending-flush mark is never cleared and no later batch is ever scheduled.
 * (Reproduced with a bare Miniflare queue and no Riverhead code: send, SIGSTOP 8 s, SIGCONT — wedged within 1 to 4
 * cycles.) A deployed Queue is a separate service that a freeze of the Worker does not freeze, and a consumer
 * invocation that never returns is retried once its wall-time limit runs out.
 */
export async function whyWebhooksMissing(
  stack: Stack,
  receiver: WebhookReceiver,
  webhookId: string,
  streamId: string,
  mark: Mark,
): Promise<{ text: string; eventsLaneStalled: boolean }> {
  const facts: string[] = [];
  const log = ((await stack.api('GET', `/webhooks/${webhookId}/deliveries?limit=100`).catch(() => null))?.body?.data ?? []) as any[];
  const since = log.filter((d) => Date.parse(d.createdAt) >= mark.at - 1000);
  const open = since.filter((d) => d.status !== 'succeeded' && !(d.status === 'failed' && d.failureReason));
  const ofStream = since.filter((d) => receiver.received.some((r) => r.id === d.eventId && r.body?.streamId === streamId));
  facts.push(`delivery log since the fault: ${since.length} delivery(ies), ${ofStream.length} of them for events of this stream the receiver got, ${open.length} open`);
  if (open.length > 0) {
    facts.push(`open: ${open.slice(0, 3).map((d) => `${d.deliveryId} ${d.eventType} ${d.status} (${d.attempts.length} attempt(s), next ${d.nextAttemptAt ?? 'not set'})`).join('; ')}`);
  }
  const edgeLines = (await stack.edgeLogs()).slice(mark.edgeLogs);
  const count = (event: string) => edgeLines.filter((l) => l.includes(`"event":"${event}"`)).length;
  const enqueueFailed = edgeLines.filter((l) => l.includes('"event":"webhook_enqueue_failed"') && l.includes(streamId)).length;
  facts.push(`edge log: webhook_enqueue_failed ${enqueueFailed} for this stream, webhook_fan_out_failed ${count('webhook_fan_out_failed')}, side_effects_pass_failed ${count('side_effects_pass_failed')}`);

  const probe = await probeWebhookLanes(stack, receiver, webhookId);
  facts.push(
    `lane probe: a canary stream's created event ${probe.eventMs === null ? `did not arrive in ${LANE_PROBE_MS / 1000} s` : `arrived in ${probe.eventMs} ms`}, ` +
      `a test ping ${probe.pingMs === null ? `did not arrive in ${LANE_PROBE_MS / 1000} s` : `arrived in ${probe.pingMs} ms`}`,
  );
  const eventsLaneStalled = probe.eventMs === null && probe.pingMs !== null && open.length === 0 && enqueueFailed === 0;
  const verdict = eventsLaneStalled
    ? 'the events Queue (riverhead-webhooks) dispatches nothing any more while the delivery lane works, no delivery is open and ' +
      'no StreamObject failed to enqueue: the events were handed to the local Queue broker and it never gave them to the consumer ' +
      '(miniflare wedges a queue when workerd is SIGSTOPped with a batch due; a deployed Queue does not)'
    : probe.eventMs !== null
      ? "the events lane works now, so these events were lost on our side (the object's outbox or the fan-out)"
      : open.length > 0
        ? 'deliveries are still open in the log: the delivery lanes (ours) have not finished them'
        : 'no lane delivers now';
  return { text: `${verdict} [${facts.join('; ')}]`, eventsLaneStalled };
}

/** Sends a canary event through each webhook lane and times its arrival at `receiver` (null: not within the probe). */
async function probeWebhookLanes(stack: Stack, receiver: WebhookReceiver, webhookId: string): Promise<{ eventMs: number | null; pingMs: number | null }> {
  const started = Date.now();
  const canary = await stack.createStream({}).catch(() => null);
  const ping = (await stack.api('POST', `/webhooks/${webhookId}/test`).catch(() => null))?.body?.data?.eventId as string | undefined;
  let eventMs: number | null = null;
  let pingMs: number | null = null;
  while (Date.now() - started < LANE_PROBE_MS && (eventMs === null || pingMs === null)) {
    if (eventMs === null && canary && receiver.received.some((r) => r.body?.streamId === canary.streamId && r.answer === 200)) eventMs = Date.now() - started;
    if (pingMs === null && ping && receiver.received.some((r) => r.id === ping && r.answer === 200)) pingMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (canary) await stack.api('DELETE', `/live/streams/${canary.streamId}`).catch(() => undefined);
  return { eventMs, pingMs };
}

/** Seconds a delivery may be past the time its log says it is due before its queue message counts as lost. */
const WEBHOOK_DUE_SLACK_SECONDS = 20;

/**
 * Waits for every delivery of `webhookId` that `wanted` selects to end delivered, or failed with a reason. Each open
 * one is given until the next attempt its delivery log shows, plus slack: one overdue beyond that was never tried
 * again (its queue message is gone), which is reported as such instead of waiting out a fixed time.
 */
export async function webhookDeliveriesSettle(
  stack: Stack,
  webhookId: string,
  wanted: (delivery: any) => boolean,
  limitMs: number,
): Promise<{ violations: string[]; settled: any[] | null; waitedMs: number }> {
  const started = Date.now();
  const isSettled = (d: any) => d.status === 'succeeded' || (d.status === 'failed' && d.failureReason);
  let open: any[] = [];
  while (Date.now() - started < limitMs) {
    const log = ((await stack.api('GET', `/webhooks/${webhookId}/deliveries?limit=100`)).body?.data ?? []) as any[];
    const ofInterest = log.filter(wanted);
    open = ofInterest.filter((d) => !isSettled(d));
    if (ofInterest.length > 0 && open.length === 0) return { violations: [], settled: ofInterest, waitedMs: Date.now() - started };
    const dueAt = (d: any) => Date.parse(d.nextAttemptAt ?? d.updatedAt);
    const lost = open.filter((d) => Date.now() - dueAt(d) > WEBHOOK_DUE_SLACK_SECONDS * 1000);
    if (lost.length > 0) {
      const sample = lost.slice(0, 3).map((d) => `${d.deliveryId} (${d.status}, ${d.attempts.length} attempt(s), due ${Math.round((Date.now() - dueAt(d)) / 1000)} s ago)`);
      return {
        violations: [`${lost.length} delivery(ies) not tried again ${WEBHOOK_DUE_SLACK_SECONDS} s after they were due — their queue messages are lost: ${sample.join('; ')}`],
        settled: null,
        waitedMs: Date.now() - started,
      };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const statuses = [...new Set(open.map((d) => d.status))].join(', ');
  const latest = Math.max(...open.map((d) => Date.parse(d.nextAttemptAt ?? d.updatedAt)));
  return {
    violations: [`${open.length} deliveries never settled within ${Math.round(limitMs / 1000)} s (${statuses}; the latest due ${Math.round((latest - Date.now()) / 1000)} s from now)`],
    settled: null,
    waitedMs: Date.now() - started,
  };
}

/**
 * A local edge that reloads (wrangler rebuilding after a source file changed) restarts workerd: local Queues lose
 * their delayed messages and Durable Objects are reset, so what the fault then shows is not the fault's doing.
 */
export async function edgeNeverReloaded(stack: Stack, mark: Mark): Promise<string[]> {
  const reloads = (await stack.edgeLogs()).slice(mark.edgeLogs).filter((line) => line.includes('Reloading local server'));
  return reloads.length ? [`the edge was reloaded ${reloads.length} time(s) during the fault (a source file changed): its queues and objects were reset`] : [];
}

export function segments(figures: WatchFigures[], maxLost: number): { violations: string[]; lost: number } {
  const violations: string[] = [];
  let lost = 0;
  for (const f of figures) {
    if (f.unfetchable.length > 0) violations.push(`${f.unfetchable.length} listed segment(s) not fetchable through the edge: ${f.unfetchable.slice(0, 3).join(', ')}`);
    lost += f.gaps + f.unfetchable.length;
  }
  if (lost > maxLost) violations.push(`${lost} segment(s) lost, at most ${maxLost} allowed`);
  return { violations, lost };
}

/**
 * wrangler's local ProxyWorker (in front of workerd under unstable_startWorker) answers a POST it could not hand to
 * workerd — the connection broke while workerd was frozen — with a plain-text 503 and `Retry-After: 0` ("Your worker
 * restarted mid-request"). Our edge answers every error as problem+json, and a deployed Worker has no such proxy; the
 * origin's outbox retries it like any 5xx. So that one answer is the simulator's, not the edge's.
 */
const isDevProxyRestart = (a: { status: number; contentType?: string; retryAfter?: string }) =>
  a.status === 503 && a.retryAfter === '0' && !(a.contentType ?? '').includes('problem+json');

export function no5xx(stack: Stack, mark: Mark, expected?: RegExp): string[] {
  const bad = [
    ...stack.edgeStatuses.slice(mark.edgeStatuses).map((s) => ({ who: 'test', path: s.path, status: s.status, at: s.at, detail: s.detail })),
    ...(stack.edgeProxy?.answers.slice(mark.proxyAnswers) ?? [])
      .filter((a) => !isDevProxyRestart(a))
      .map((a) => ({ who: 'origin', path: a.path, status: a.status, at: a.at, detail: a.contentType })),
  ].filter((s) => s.status >= 500 && !expected?.test(s.path));
  if (bad.length === 0) return [];
  const sample = bad
    .slice(0, 3)
    .map((b) => `${b.status} to the ${b.who} for ${b.path} at +${Math.round((b.at - mark.at) / 1000)} s${b.detail ? ` (${b.detail.replace(/\s+/g, ' ').slice(0, 160)})` : ''}`)
    .join('; ');
  return [`${bad.length} unexpected 5xx from the edge: ${sample}`];
}

export function originNeverExitedUnasked(stack: Stack, mark: Mark): string[] {
  return stack.originExits
    .slice(mark.originExits)
    .filter((e) => !e.expected)
    .map((e) => `the origin exited on its own (code ${e.code}, signal ${e.signal}): ${stack.originLogs.slice(-3).join(' | ').slice(0, 400)}`);
}

export async function noSecretInLogs(stack: Stack, mark: Mark): Promise<string[]> {
  const lines = [
    ...(await stack.edgeLogs()).slice(mark.edgeLogs).map((text) => ({ source: 'edge', text })),
    ...stack.originLogs.slice(mark.originLogs).map((text) => ({ source: 'origin', text })),
  ];
  const findings = scanForSecrets(lines, stack.secrets);
  return findings.length ? [`${findings.length} log line(s) carry a secret:\n${describeFindings(findings, 3)}`] : [];
}
