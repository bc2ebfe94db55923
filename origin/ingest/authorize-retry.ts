// How long an encoder's publish may wait on the edge's authorize, and when a failed call is tried again. A refusal is
// an answer and is never retried. A call that failed fast (the connection refused or reset, a 5xx) is tried again
// while the budget lasts: one bad moment of the edge (a restart, a dropped keep-alive connection) no longer turns an
// encoder away. A call that timed out is not: a slow edge usually still applies it (the stream goes live on the edge
// while the origin has refused the encoder), so the first call is given the whole budget instead. That late session
// is not left standing in the encoder's way: its next publish here says no encoder of the key is on this origin
// (keyIdleHere), and the edge resumes the session for it rather than refusing it already_live (edge/takeover.ts).

/**
 * The whole wait for the edge's verdict. The RTMP publish deadline (10 s, origin/rtmp/server.ts) also covers the disk
 * measure before it (up to 1 s, origin/disk-guard.ts) and the encoder's commands: this leaves room to answer in time.
 */
export const AUTHORIZE_BUDGET_MS = 7000;
/** A call given less than this is not worth making: the encoder is refused instead. */
export const AUTHORIZE_MIN_ATTEMPT_MS = 1000;

/**
 * After `failures` failed calls, `elapsedMs` into the publish: the wait before the next call (none, then 250 ms,
 * 500 ms, then 1 s) and that call's deadline (what the budget has left), or null when no useful call fits.
 */
export function nextAuthorizeAttempt(
  failures: number,
  elapsedMs: number,
  budgetMs = AUTHORIZE_BUDGET_MS,
): { delayMs: number; timeoutMs: number } | null {
  const delayMs = failures <= 0 ? 0 : Math.min(1000, 250 * 2 ** (failures - 1));
  const timeoutMs = budgetMs - elapsedMs - delayMs;
  return timeoutMs >= AUTHORIZE_MIN_ATTEMPT_MS ? { delayMs, timeoutMs } : null;
}
