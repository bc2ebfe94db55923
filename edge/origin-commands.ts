// Signed commands from the edge to an origin's control port (kick, finalize a recording, cut a clip).
import { signRequest } from '../shared/request-signing.ts';

/** Resolves with the origin's HTTP status; throws when the origin cannot be reached in time. */
export async function commandOrigin(secret: string, originUrl: string, path: string, command: unknown): Promise<number> {
  const body = JSON.stringify(command);
  const headers = await signRequest(secret, 'POST', path, body);
  const response = await fetch(new URL(path, originUrl), {
    method: 'POST',
    body,
    headers: { ...headers, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(3000),
  });
  await response.body?.cancel();
  return response.status;
}
