// The capacity ledger: publishers hold the tentative cost until their source is known, then their ladder's; beyond
// capacity a ladder becomes source-only (or, under refuse, the publish is refused); draining refuses every publish.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COPIED_RENDITION_COST, TENTATIVE_STREAM_COST, defaultLadderCost } from '../../../origin/admission/cost.ts';
import { CapacityLedger, OVER_CAPACITY_ISSUE } from '../../../origin/admission/ledger.ts';

const p720 = defaultLadderCost({ width: 1280, height: 720, fps: 30 });

function admitted(ledger: CapacityLedger) {
  const verdict = ledger.admitPublish();
  if (!verdict.ok) throw new Error(`refused: ${verdict.detail}`);
  return verdict.ticket;
}

describe('CapacityLedger', () => {
  it('with one unit, a second 720p publisher gets its source only, and releasing the first frees its units', () => {
    const ledger = new CapacityLedger(1);
    const first = admitted(ledger);
    expect(ledger.loadUnits).toBeCloseTo(TENTATIVE_STREAM_COST);
    expect(ledger.decideLadder(first, p720)).toEqual({ ladder: 'full' });
    const second = admitted(ledger);
    const verdict = ledger.decideLadder(second, p720);
    expect(verdict.ladder).toBe('source-only');
    expect(verdict.ladder === 'source-only' && verdict.issue.startsWith(`${OVER_CAPACITY_ISSUE}: `)).toBe(true);
    expect(ledger.originLoad()).toEqual({ capacity: { units: 1 }, load: { units: Math.round((p720 + COPIED_RENDITION_COST) * 1000) / 1000, sessions: 2 }, draining: false });
    ledger.release(first);
    const third = admitted(ledger);
    expect(ledger.decideLadder(third, p720)).toEqual({ ladder: 'full' });
  });

  it('under refuse, a publish whose tentative ladder does not fit is refused at once', () => {
    const ledger = new CapacityLedger(1, 'refuse');
    const first = admitted(ledger);
    ledger.decideLadder(first, p720);
    expect(ledger.admitPublish()).toMatchObject({ ok: false, reason: 'origin_at_capacity' });
    ledger.release(first);
    expect(ledger.admitPublish().ok).toBe(true);
  });

  it('under source-only, a publish is refused only when not even a copy fits', () => {
    const ledger = new CapacityLedger(COPIED_RENDITION_COST * 2.5);
    const a = admitted(ledger);
    expect(ledger.decideLadder(a, p720).ladder).toBe('source-only');
    const b = admitted(ledger);
    expect(ledger.decideLadder(b, p720).ladder).toBe('source-only');
    expect(ledger.admitPublish()).toMatchObject({ ok: false, reason: 'origin_at_capacity' });
  });

  it('a resumed session holds the cost of the ladder it kept, fitting or not', () => {
    const ledger = new CapacityLedger(1);
    const t = admitted(ledger);
    expect(ledger.decideLadder(t, p720, 1.7)).toEqual({ ladder: 'full' });
    expect(ledger.loadUnits).toBeCloseTo(1.7);
  });

  it('draining refuses every publish and keeps the ones held', () => {
    const ledger = new CapacityLedger(10);
    const held = admitted(ledger);
    ledger.decideLadder(held, p720);
    ledger.startDraining();
    expect(ledger.admitPublish()).toMatchObject({ ok: false, reason: 'origin_draining' });
    expect(ledger.originLoad()).toMatchObject({ draining: true, load: { sessions: 1 } });
  });

  it('tells its watchers when it becomes full and when it has room again', () => {
    const ledger = new CapacityLedger(1, 'refuse');
    const seen: boolean[] = [];
    ledger.watchFull((full) => seen.push(full));
    const first = admitted(ledger);
    ledger.decideLadder(first, p720);
    expect(ledger.full).toBe(true);
    ledger.release(first);
    expect(seen).toEqual([false, true, false]);
  });

  it('full ladders never take the load past capacity; only kept ladders can', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 16, noNaN: true }),
        fc.array(fc.oneof(fc.record({ op: fc.constant('publish' as const), cost: fc.double({ min: 0, max: 5, noNaN: true }) }), fc.record({ op: fc.constant('leave' as const), index: fc.nat() })), { maxLength: 60 }),
        (capacity, steps) => {
          const ledger = new CapacityLedger(capacity);
          const live: ReturnType<typeof admitted>[] = [];
          for (const step of steps) {
            if (step.op === 'leave') {
              if (live.length) ledger.release(live.splice(step.index % live.length, 1)[0]!);
              continue;
            }
            const verdict = ledger.admitPublish();
            if (!verdict.ok) {
              expect(ledger.loadUnits + COPIED_RENDITION_COST).toBeGreaterThan(capacity);
              continue;
            }
            ledger.decideLadder(verdict.ticket, step.cost);
            live.push(verdict.ticket);
            expect(ledger.loadUnits).toBeLessThanOrEqual(capacity + 1e-6);
          }
        },
      ),
    );
  });
});
