// Exponential backoff with jitter, shared by every retry of the origin (uploads to R2, a crashed ffmpeg).

/** The wait before retry number `attempt` (0-based): first × 2^attempt, capped, with ±20 % jitter so retries spread. */
export function backoffDelay(attempt: number, firstMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
