import { describe, it, expect } from 'vitest';
import { AUTHORIZE_BUDGET_MS, nextAuthorizeAttempt } from '../../../origin/ingest/authorize-retry.ts';

describe('nextAuthorizeAttempt', () => {
  it('makes the first call at once, with the whole budget', () => {
    expect(nextAuthorizeAttempt(0, 0)).toEqual({ delayMs: 0, timeoutMs: AUTHORIZE_BUDGET_MS });
    // within the RTMP publish deadline (10 s), which also covers the disk measure (≤ 1 s) before the call
    expect(AUTHORIZE_BUDGET_MS + 1000).toBeLessThan(10_000);
  });

  it('tries a call that failed fast again after 250 ms, 500 ms, then 1 s, with what the budget has left', () => {
    expect(nextAuthorizeAttempt(1, 5)).toEqual({ delayMs: 250, timeoutMs: AUTHORIZE_BUDGET_MS - 255 });
    expect(nextAuthorizeAttempt(2, 300)).toEqual({ delayMs: 500, timeoutMs: AUTHORIZE_BUDGET_MS - 800 });
    expect(nextAuthorizeAttempt(3, 900)?.delayMs).toBe(1000);
    expect(nextAuthorizeAttempt(6, 2000)?.delayMs).toBe(1000);
  });

  it('does not call again after a call that used the budget up (a timeout)', () => {
    expect(nextAuthorizeAttempt(1, AUTHORIZE_BUDGET_MS)).toBeNull();
  });

  it('stops when no call of at least 1 s fits in what is left', () => {
    expect(nextAuthorizeAttempt(2, AUTHORIZE_BUDGET_MS - 1499)).toBeNull(); // 500 ms wait, 999 ms left
    expect(nextAuthorizeAttempt(2, AUTHORIZE_BUDGET_MS - 1500)).toEqual({ delayMs: 500, timeoutMs: 1000 });
  });

  it('follows a budget given by the caller', () => {
    expect(nextAuthorizeAttempt(0, 0, 1000)).toEqual({ delayMs: 0, timeoutMs: 1000 });
    expect(nextAuthorizeAttempt(1, 10, 1000)).toBeNull();
    expect(nextAuthorizeAttempt(0, 0, 500)).toBeNull();
  });
});
