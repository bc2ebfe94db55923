// HMAC-SHA256 signatures on origin ↔ edge calls, on WebCrypto so the same module runs in workerd and Node.
// The signature covers method, path, timestamp and the SHA-256 of the body, so JSON and binary uploads sign alike.

export const SIGNATURE_HEADER = 'x-riverhead-signature';
export const TIMESTAMP_HEADER = 'x-riverhead-timestamp';
/** A signed request older or newer than this is refused, which bounds how long a captured request can be replayed. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

export type SignedBody = string | Uint8Array;

const encoder = new TextEncoder();

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(hex: string): Uint8Array | null {
  if (!/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export async function bodyDigest(body: SignedBody): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

export async function canonicalRequest(method: string, path: string, timestamp: number, body: SignedBody): Promise<string> {
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${await bodyDigest(body)}`;
}

// The key type is spelled through importKey so the module needs neither DOM nor workers type libraries.
async function hmacKey(secret: string): Promise<Awaited<ReturnType<typeof crypto.subtle.importKey>>> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
}

export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body: SignedBody,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  const key = await hmacKey(secret);
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(await canonicalRequest(method, path, nowSeconds, body)));
  return { [TIMESTAMP_HEADER]: String(nowSeconds), [SIGNATURE_HEADER]: `v1=${toHex(mac)}` };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export async function verifyRequest(
  secret: string,
  method: string,
  path: string,
  body: SignedBody,
  headers: { get(name: string): string | null },
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<SignatureVerdict> {
  const timestampText = headers.get(TIMESTAMP_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!timestampText || !signature) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestampText) || !signature.startsWith('v1=')) return { ok: false, reason: 'malformed' };
  const timestamp = Number(timestampText);
  if (Math.abs(nowSeconds - timestamp) > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'stale' };
  const mac = fromHex(signature.slice(3));
  if (!mac) return { ok: false, reason: 'malformed' };
  const key = await hmacKey(secret);
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify(
    'HMAC',
    key,
    mac,
    encoder.encode(await canonicalRequest(method, path, timestamp, body)),
  );
  return valid ? { ok: true } : { ok: false, reason: 'mismatch' };
}
