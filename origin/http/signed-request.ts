// Synchronous check of an edge-signed request (shared/request-signing.ts's scheme, same canonical text) with node:crypto,
// so the HLS hot path verifies a playlist or segment fetch without an await and still answers from memory in one turn.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { MAX_CLOCK_SKEW_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, type SignatureVerdict } from '../../shared/request-signing.ts';

const EMPTY_BODY_DIGEST = createHash('sha256').update('').digest('hex');

/**
 * Verifies a body-less request (GET/HEAD) signed over method, path-with-query and timestamp.
 * `target` is exactly what the edge signed: the URL's path plus `?query` when there is one.
 */
export function verifySignedRequestSync(
  secret: string,
  method: string,
  target: string,
  headers: { get(name: string): string | null },
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureVerdict {
  const timestampText = headers.get(TIMESTAMP_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!timestampText || !signature) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestampText) || !/^v1=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed' };
  const timestamp = Number(timestampText);
  if (Math.abs(nowSeconds - timestamp) > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(`${method.toUpperCase()}\n${target}\n${timestamp}\n${EMPTY_BODY_DIGEST}`).digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
