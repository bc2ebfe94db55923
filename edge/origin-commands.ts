// Commands from the edge to an origin's control port (kick, finalize a recording, cut a clip), signed with that
// origin's own secret (edge/origin-fetch.ts).
import type { Env } from './env.ts';
import { signedOriginFetch } from './origin-fetch.ts';

/** The origin's answer to a command: its status, and when a refusal for now (429) says to try again. */
export interface OriginAnswer {
  status: number;
  /** seconds, from the origin's Retry-After (1–3600); null when it sent none */
  retryAfterSeconds: number | null;
}

/** Reads a Retry-After of delta-seconds, bounded; an HTTP date or garbage counts as absent. */
export function retryAfterSeconds(header: string | null): number | null {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return null;
  return Math.min(3600, Math.max(1, Number(header.trim())));
}

/**
 * Sends a command to origin `originId` at `originUrl` (its control base URL); throws when the origin cannot be reached
 * in time, or is unknown or disabled (UnknownOriginError).
 */
export async function sendOriginCommand(
  env: Pick<Env, 'DB' | 'ORIGIN_SECRET'>,
  originId: string,
  originUrl: string,
  path: string,
  command: unknown,
): Promise<OriginAnswer> {
  const response = await signedOriginFetch(env, originId, new URL(path, originUrl), {
    method: 'POST',
    body: JSON.stringify(command),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(3000),
  });
  await response.body?.cancel();
  return { status: response.status, retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')) };
}

/** Resolves with the origin's HTTP status; throws when the origin cannot be reached in time. */
export async function commandOrigin(
  env: Pick<Env, 'DB' | 'ORIGIN_SECRET'>,
  originId: string,
  originUrl: string,
  path: string,
  command: unknown,
): Promise<number> {
  return (await sendOriginCommand(env, originId, originUrl, path, command)).status;
}
