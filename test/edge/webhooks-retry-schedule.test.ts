// The backoff schedule of failed webhook deliveries: doubling delays with jitter, capped by what Queues accept,
// retried for at least 24 hours before the dead-letter queue.
import { describe, it, expect } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  MAX_RETRY_AFTER_SECONDS,
  honourRetryAfter,
  parseRetryAfter,
  MAX_QUEUE_DELAY_SECONDS,
  RETRY_HORIZON_SECONDS,
  nominalDelaySeconds,
  nominalSchedule,
  retryDelaySeconds,
  retryPolicyFrom,
} from '../../edge/webhooks/retry-schedule.ts';

const middle = () => 0.5;

describe('retryDelaySeconds', () => {
  it('doubles from the base delay, without jitter at the middle of the spread', () => {
    const delays = [1, 2, 3, 4, 5].map((failures) => retryDelaySeconds(failures, 0, DEFAULT_RETRY_POLICY, middle));
    expect(delays).toEqual([30, 60, 120, 240, 480]);
  });

  it('never exceeds the 12 h a Queue accepts as a delay, even at the top of the jitter', () => {
    for (let failures = 1; failures < 60; failures++) {
      expect(retryDelaySeconds(failures, 0, DEFAULT_RETRY_POLICY, () => 0.999999)).toBeLessThanOrEqual(MAX_QUEUE_DELAY_SECONDS);
    }
    expect(retryDelaySeconds(30, 0, DEFAULT_RETRY_POLICY, middle)).toBe(MAX_QUEUE_DELAY_SECONDS);
  });

  it('spreads each delay over ±20 %', () => {
    expect(retryDelaySeconds(3, 0, DEFAULT_RETRY_POLICY, () => 0)).toBe(96);
    expect(retryDelaySeconds(3, 0, DEFAULT_RETRY_POLICY, () => 0.999999)).toBe(144);
    const seen = new Set(Array.from({ length: 200 }, () => retryDelaySeconds(3, 0)));
    expect(seen.size).toBeGreaterThan(10);
    for (const delay of seen) expect(delay).toBeGreaterThanOrEqual(96);
  });

  it('gives up (dead-letter) only once the run has retried for the whole 24 h', () => {
    expect(retryDelaySeconds(12, RETRY_HORIZON_SECONDS - 1, DEFAULT_RETRY_POLICY, middle)).toBe(MAX_QUEUE_DELAY_SECONDS);
    expect(retryDelaySeconds(12, RETRY_HORIZON_SECONDS, DEFAULT_RETRY_POLICY, middle)).toBeNull();
    expect(retryDelaySeconds(1, RETRY_HORIZON_SECONDS + 5, DEFAULT_RETRY_POLICY, middle)).toBeNull();
  });

  it('simulated end to end with the least jitter, a run still covers 24 h before it gives up', () => {
    for (const base of [1, 5, 30, 300]) {
      const policy = retryPolicyFrom(String(base));
      let elapsed = 0;
      let failures = 0;
      for (;;) {
        failures += 1;
        const delay = retryDelaySeconds(failures, elapsed, policy, () => 0);
        if (delay === null) break;
        elapsed += delay;
      }
      expect(elapsed).toBeGreaterThanOrEqual(RETRY_HORIZON_SECONDS);
      expect(failures).toBeLessThan(40);
    }
  });
});

describe('configuration', () => {
  it('takes the base delay from WEBHOOK_RETRY_BASE_SECONDS and ignores unusable values', () => {
    expect(retryPolicyFrom('1').baseSeconds).toBe(1);
    expect(retryPolicyFrom(undefined)).toBe(DEFAULT_RETRY_POLICY);
    expect(retryPolicyFrom('0')).toBe(DEFAULT_RETRY_POLICY);
    expect(retryPolicyFrom('soon')).toBe(DEFAULT_RETRY_POLICY);
    expect(nominalDelaySeconds(3, retryPolicyFrom('1'))).toBe(4);
  });

  it('the default schedule: 30 s doubling to the 12 h cap, 12 retries over about 29 hours', () => {
    const schedule = nominalSchedule();
    expect(schedule.slice(0, 4)).toEqual([30, 60, 120, 240]);
    expect(schedule.at(-1)).toBe(MAX_QUEUE_DELAY_SECONDS);
    expect(schedule).toHaveLength(12);
    const total = schedule.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(RETRY_HORIZON_SECONDS);
    expect(total).toBeLessThan(36 * 3600);
  });
});

describe('Retry-After (429, 503)', () => {
  const now = Date.parse('2026-11-28T10:00:00Z');
  it.each([
    ['120', 120],
    [' 7 ', 7],
    ['0', 0],
    ['Sat, 28 Nov 2026 10:05:00 GMT', 300],
    ['Sat, 28 Nov 2026 09:00:00 GMT', 0],
    ['Saturday, 28-Nov-26 10:00:30 GMT', 30],
    ['-5', null],
    ['1.5', null],
    ['soon', null],
    ['', null],
    [null, null],
  ] as const)('%j asks for %j seconds', (header, seconds) => {
    expect(parseRetryAfter(header, now)).toBe(seconds);
  });

  it('waits at least the backoff and at most an hour', () => {
    expect(honourRetryAfter(30, null)).toBe(30);
    expect(honourRetryAfter(30, 5)).toBe(30);
    expect(honourRetryAfter(30, 600)).toBe(600);
    expect(honourRetryAfter(30, 10 ** 9)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(MAX_RETRY_AFTER_SECONDS).toBe(3600);
    expect(honourRetryAfter(7200, 600)).toBe(7200);
  });
});
