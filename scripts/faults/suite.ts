// Runs faults one after the other on as few stacks as their needs allow, checks the invariants after each, and
// returns one result per fault. Shared by `npm run faults` (run.ts) and the CI subset (test/e2e/faults.test.ts).
import type { StackOptions } from '../../test/support/stack.ts';
import { contextFor, startHarness, type Harness } from './context.ts';
import type { Fault, FaultOutcome, FaultResult } from './fault.ts';
import { LOST, edgeNeverReloaded, finalStatuses, markNow, no5xx, noSecretInLogs, noStreamWithoutAlarm, originNeverExitedUnasked, segments, webhooksExactlyOnce } from './invariants.ts';

/** No fault may take longer than this, whatever hangs. */
const FAULT_DEADLINE_MS = 240_000;

const stackKey = (fault: Fault) => JSON.stringify(fault.stack ?? {});

function deadline<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    work,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function healthy(harness: Harness): Promise<boolean> {
  try {
    const edge = await harness.stack.api('GET', '/live/streams?limit=1');
    const origin = await fetch(`${harness.stack.originAdminUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
    return edge.status === 200 && origin.ok;
  } catch {
    return false;
  }
}

export async function runFaults(faults: Fault[], log: (line: string) => void = console.log): Promise<FaultResult[]> {
  // Faults that need the same kind of stack run together: the default stack first, then each special one.
  const ordered = [...faults].sort((a, b) => Number(!!a.stack) - Number(!!b.stack) || stackKey(a).localeCompare(stackKey(b)));
  const results: FaultResult[] = [];
  let harness: Harness | null = null;
  let harnessKey = '';
  // Set when a fault left the local events Queue wedged (invariants.ts, SIMULATOR): the next fault gets a fresh stack,
  // so one simulator wedge is reported once, by the fault it happened in, and not again by every fault after it.
  let eventsLaneStalled = false;
  try {
    for (const fault of ordered) {
      const skipped = (await fault.skip?.()) ?? null;
      if (skipped) {
        log(`- ${fault.name} (${fault.moment}): skipped, ${skipped}`);
        results.push({ name: fault.name, moment: fault.moment, passed: false, skipped, durationMs: 0, figures: {}, violations: [`skipped: ${skipped}`] });
        continue;
      }
      if (!harness || harnessKey !== stackKey(fault) || eventsLaneStalled || !(await healthy(harness))) {
        if (harness && eventsLaneStalled) log('  (a fresh stack: the local events Queue of the last one stopped dispatching)');
        await harness?.stop().catch((error) => log(`  (stack stop: ${String(error)})`));
        harness = await startHarness((fault.stack ?? {}) as StackOptions);
        harnessKey = stackKey(fault);
      }
      const ran = await runOne(harness, fault, log);
      eventsLaneStalled = ran.eventsLaneStalled;
      results.push(ran.result);
    }
  } finally {
    await harness?.stop().catch((error) => log(`  (stack stop: ${String(error)})`));
  }
  return results;
}

async function runOne(harness: Harness, fault: Fault, log: (line: string) => void): Promise<{ result: FaultResult; eventsLaneStalled: boolean }> {
  const { stack } = harness;
  const startedAt = Date.now();
  log(`- ${fault.name} (${fault.moment}) …`);
  const mark = await markNow(stack);
  const ctx = contextFor(harness);
  let outcome: FaultOutcome = { expectations: [], figures: {}, violations: [] };
  try {
    outcome = await deadline(FAULT_DEADLINE_MS, fault.name, fault.run(ctx));
  } catch (error) {
    outcome.violations.push(`the run failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const violations = [...outcome.violations];
  const figures: Record<string, unknown> = { ...outcome.figures };

  await Promise.all(ctx.publishers.map((p) => p.stop()));
  if (!stack.originPid()) {
    // The fault killed the origin and did not bring it back (or it died): the next fault needs one.
    await stack.startOrigin().catch((error) => violations.push(`the origin did not start again: ${String(error)}`));
  }
  violations.push(...(await finalStatuses(stack, outcome)));
  const watched = await Promise.all(ctx.watchers.map((w) => w.finish()));
  const lost = segments(watched, outcome.maxLostSegments ?? 1);
  violations.push(...lost.violations);
  figures.segments = {
    listed: watched.reduce((n, w) => n + w.segmentsListed, 0),
    fetched: watched.reduce((n, w) => n + w.segmentsFetched, 0),
    lost: lost.lost,
    viewerTimeouts: watched.reduce((n, w) => n + w.timeouts, 0),
  };
  violations.push(...(await noStreamWithoutAlarm(stack)));
  const streamIds = outcome.expectations.map((e) => e.streamId);
  const steady = await webhooksExactlyOnce(stack, harness.steady, streamIds, 30_000, 'steady receiver', { webhookId: harness.steadyWebhookId, mark });
  violations.push(...steady.violations);
  figures.webhooksDelivered = steady.delivered;
  violations.push(...no5xx(stack, mark, outcome.expected5xx));
  violations.push(...originNeverExitedUnasked(stack, mark));
  violations.push(...(await noSecretInLogs(stack, mark)));
  violations.push(...(await edgeNeverReloaded(stack, mark)));
  for (const cleanup of ctx.cleanups) await cleanup().catch(() => undefined);

  const result: FaultResult = {
    name: fault.name,
    moment: fault.moment,
    passed: violations.length === 0,
    durationMs: Date.now() - startedAt,
    figures,
    violations,
  };
  log(`  ${result.passed ? 'survived' : 'FAILED'} in ${Math.round(result.durationMs / 1000)} s ${JSON.stringify(figures)}`);
  for (const v of violations) log(`    ✗ ${v}`);
  return { result, eventsLaneStalled: steady.eventsLaneStalled };
}

export function summary(results: FaultResult[]): string {
  const survived = results.filter((r) => r.passed).length;
  const lost = results.reduce((n, r) => n + r.violations.filter((v) => v.startsWith(LOST)).length, 0);
  const segmentsLost = results.reduce((n, r) => n + Number((r.figures.segments as { lost?: number } | undefined)?.lost ?? 0), 0);
  return `${survived}/${results.length} faults survived, ${lost} lost (${segmentsLost} segment(s) lost in all, at most 1 allowed per fault)`;
}
