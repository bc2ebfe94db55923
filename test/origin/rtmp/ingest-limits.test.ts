// IngestLimits: the worst-case totals documented at the top of origin/rtmp/ingest-limits.ts, and the budget's
// bookkeeping under any sequence of takes, releases, promotions and closes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INGEST_LIMITS, IngestBudget, worstCaseConnectionBytes, worstCaseOriginBytes } from '../../../origin/rtmp/ingest-limits.ts';

const MiB = 2 ** 20;

describe('IngestLimits', () => {
  it('adds up to the documented worst cases', () => {
    expect(worstCaseConnectionBytes() / MiB).toBeCloseTo(20.07, 2);
    expect(worstCaseOriginBytes(1000) / MiB).toBeCloseTo(321.4, 1);
    expect(DEFAULT_INGEST_LIMITS.originBufferBytes - DEFAULT_INGEST_LIMITS.publisherReserveBytes).toBe(64 * MiB);
  });

  it('never lets the budget go over its total, nor non-publishers into the reserve, and returns to zero', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('take' as const), who: fc.nat(4), bytes: fc.nat(5000) }),
      fc.record({ kind: fc.constant('release' as const), who: fc.nat(4), bytes: fc.nat(5000) }),
      fc.record({ kind: fc.constant('promote' as const), who: fc.nat(4) }),
      fc.record({ kind: fc.constant('close' as const), who: fc.nat(4) }),
    );
    fc.assert(
      fc.property(fc.nat(20_000), fc.nat(20_000), fc.array(op, { maxLength: 60 }), (total, reserve, ops) => {
        const budget = new IngestBudget(total, reserve);
        const accounts = Array.from({ length: 5 }, () => budget.account());
        for (const o of ops) {
          const account = accounts[o.who]!;
          if (o.kind === 'take') account.take(o.bytes);
          else if (o.kind === 'release') account.release(o.bytes);
          else if (o.kind === 'promote') account.promote();
          else account.close();
          expect(budget.heldBytes).toBeLessThanOrEqual(total);
          expect(budget.heldByNonPublishersBytes).toBeLessThanOrEqual(total - budget.publisherReserveBytes);
          expect(budget.heldBytes).toBe(accounts.reduce((sum, a) => sum + a.heldBytes, 0));
        }
        for (const account of accounts) account.close();
        expect(budget.heldBytes).toBe(0);
        expect(budget.heldByNonPublishersBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
