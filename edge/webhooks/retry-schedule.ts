// When a failed webhook delivery is tried again: exponential backoff with jitter, for at least 24 hours of retrying,
// after which the delivery goes to the dead-letter queue. Pure, so the schedule is tested on its own.

/** Queues refuse longer delays on send or retry (12 h historically; the documented limit has since grown). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;
export const RETRY_HORIZON_SECONDS = 24 * 60 * 60;

export interface RetryPolicy {
  /** Delay after the first failure; it doubles with every further failure. */
  baseSeconds: number;
  /** Retrying stops once this long has passed since the run's first attempt (never earlier). */
  horizonSeconds: number;
  maxDelaySeconds: number;
  /** Each delay is spread uniformly over ±jitter of its nominal value, so receivers coming back are not stampeded. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseSeconds: 30,
  horizonSeconds: RETRY_HORIZON_SECONDS,
  maxDelaySeconds: MAX_QUEUE_DELAY_SECONDS,
  jitter: 0.2,
};

/** The policy with a base delay from configuration (WEBHOOK_RETRY_BASE_SECONDS); anything unusable keeps the default. */
export function retryPolicyFrom(baseSeconds: string | undefined): RetryPolicy {
  const base = Number(baseSeconds);
  return Number.isFinite(base) && base >= 1 ? { ...DEFAULT_RETRY_POLICY, baseSeconds: base } : DEFAULT_RETRY_POLICY;
}

/** The undisturbed delay before retry number `failures` (1 = after the first failed attempt). */
export function nominalDelaySeconds(failures: number, policy: RetryPolicy): number {
  const exponent = Math.max(0, Math.min(failures - 1, 40));
  return Math.min(policy.maxDelaySeconds, policy.baseSeconds * 2 ** exponent);
}

/**
 * Seconds to wait before the next attempt, or null when the run has retried for the whole horizon and the delivery
 * belongs in the dead-letter queue. `elapsedSeconds` counts from the run's first attempt.
 */
export function retryDelaySeconds(
  failures: number,
  elapsedSeconds: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number | null {
  if (elapsedSeconds >= policy.horizonSeconds) return null;
  const nominal = nominalDelaySeconds(failures, policy);
  const spread = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(1, Math.min(policy.maxDelaySeconds, Math.round(nominal * spread)));
}

/** The nominal delays one run goes through before it gives up: what the documentation's table shows. */
export function nominalSchedule(policy: RetryPolicy = DEFAULT_RETRY_POLICY): number[] {
  const delays: number[] = [];
  let elapsed = 0;
  while (elapsed < policy.horizonSeconds) {
    const delay = nominalDelaySeconds(delays.length + 1, policy);
    delays.push(delay);
    elapsed += delay;
  }
  return delays;
}

/** A receiver asking for a pause (429, 503 with Retry-After) gets it, but never more than this. */
export const MAX_RETRY_AFTER_SECONDS = 60 * 60;

/**
 * Seconds a Retry-After header asks for (RFC 9110: delay-seconds or an HTTP-date), or null when it is absent or
 * unreadable. A date in the past asks for no wait.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The next delay when the receiver asked for one: at least the backoff, at most MAX_RETRY_AFTER_SECONDS. */
export function honourRetryAfter(backoffSeconds: number, retryAfterSeconds: number | null): number {
  if (retryAfterSeconds === null) return backoffSeconds;
  return Math.max(backoffSeconds, Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS));
}
