// Every edge → origin request (HLS fetches, /control commands) goes through here: signed with that origin's own secret
// (derived from the master key, edge/origin-registry.ts) over method, path with query, timestamp and body, as
// shared/request-signing.ts does, so an origin serves and obeys only the edge and one origin's secret opens no other.
import type { Env } from './env.ts';
import { originSecretFor } from './origin-registry.ts';
import { signRequest } from '../shared/request-signing.ts';

/** What a signed origin request may carry: the body must be bytes or text, since its digest is signed. */
export type OriginFetchInit = Omit<RequestInit, 'body'> & { body?: string | Uint8Array };

/** The origin is not known to the edge (never issued, or disabled): nothing can be signed for it. */
export class UnknownOriginError extends Error {
  constructor(readonly originId: string) {
    super(`origin ${originId} is unknown or disabled`);
    this.name = 'UnknownOriginError';
  }
}

/**
 * fetch() of an origin URL with the edge's signature for `originId`. The path and query signed are the URL's own, as
 * the origin sees them. Throws UnknownOriginError when the origin has no secret (unknown or disabled).
 */
export async function signedOriginFetch(
  env: Pick<Env, 'DB' | 'ORIGIN_SECRET'>,
  originId: string,
  url: string | URL,
  init: OriginFetchInit = {},
): Promise<Response> {
  const secret = await originSecretFor(env, originId);
  if (secret === null) throw new UnknownOriginError(originId);
  const target = new URL(url);
  const method = (init.method ?? 'GET').toUpperCase();
  const signature = await signRequest(secret, method, `${target.pathname}${target.search}`, init.body ?? '');
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(signature)) headers.set(name, value);
  return fetch(target, { ...init, method, headers });
}
