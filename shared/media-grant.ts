// Media grants: what the edge hands an origin so it may read and write some R2 prefixes through /internal/media.
// A grant is `base64url(JSON {originId, prefixes, exp})` + "." + `base64url(HMAC-SHA256(master, label ‖ payload))`,
// minted and checked only by the edge (the master key never leaves it); the origin carries it back as an opaque header.
// WebCrypto only, so workerd and Node (tests, tools) agree.

export const MEDIA_GRANT_HEADER = 'x-riverhead-media-grant';
/** Key families that need a grant: a session's durable media, recordings, clips, library videos (issue 13). */
export const GRANTED_KEY_ROOTS = ['live/', 'recordings/', 'clips/', 'videos/'] as const;
/** Bounds on what a grant may carry, so a forged or bloated header costs nothing to refuse. */
export const MEDIA_GRANT_LIMITS = { maxChars: 4096, maxPrefixes: 8, maxPrefixChars: 300 } as const;

const LABEL = 'riverhead media grant v1\n';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface MediaGrantClaims {
  originId: string;
  /** R2 key prefixes, each `{root}/…`; a prefix covers the keys below it (`live/s/x` and `live/s/x/` alike) */
  prefixes: string[];
  /** epoch milliseconds */
  expiresAt: number;
}

export type MediaGrantVerdict =
  | { ok: true; claims: MediaGrantClaims }
  | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'expired' | 'wrong-origin' | 'not-covered' };

/** A prefix an issuer may put in a grant: under a granted root, plain path segments, no `..`. */
export function isGrantablePrefix(prefix: string): boolean {
  if (prefix.length > MEDIA_GRANT_LIMITS.maxPrefixChars) return false;
  if (!GRANTED_KEY_ROOTS.some((root) => prefix.startsWith(root))) return false;
  const parts = prefix.replace(/\/$/, '').split('/');
  return parts.length >= 2 && parts.every((part) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(part));
}

/** Whether `key` lies below one of the prefixes (a whole path segment: `live/s/ab` does not cover `live/s/abc/x`). */
export function grantCovers(prefixes: readonly string[], key: string): boolean {
  return prefixes.some((prefix) => key.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
}

/** Whether a key belongs to a family that needs a grant at all. */
export const needsMediaGrant = (key: string): boolean => GRANTED_KEY_ROOTS.some((root) => key.startsWith(root));

export async function issueMediaGrant(master: string, claims: MediaGrantClaims): Promise<string> {
  if (claims.prefixes.length === 0 || claims.prefixes.length > MEDIA_GRANT_LIMITS.maxPrefixes) throw new Error('a media grant names 1–8 prefixes');
  for (const prefix of claims.prefixes) if (!isGrantablePrefix(prefix)) throw new Error(`not a grantable prefix: ${prefix.slice(0, 80)}`);
  if (!Number.isSafeInteger(claims.expiresAt)) throw new Error('expiresAt is epoch milliseconds');
  const payload = base64url(encoder.encode(JSON.stringify({ originId: claims.originId, prefixes: claims.prefixes, exp: claims.expiresAt })));
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(master), encoder.encode(LABEL + payload)));
  return `${payload}.${base64url(mac)}`;
}

/** The claims of a grant without checking its MAC: for the holder's own bookkeeping (when to ask again), never trust. */
export function readMediaGrant(grant: string): MediaGrantClaims | null {
  const payload = grant.length <= MEDIA_GRANT_LIMITS.maxChars ? grant.split('.')[0] : undefined;
  const bytes = payload ? fromBase64url(payload) : null;
  if (!bytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  const v = value as { originId?: unknown; prefixes?: unknown; exp?: unknown };
  if (typeof v.originId !== 'string' || typeof v.exp !== 'number' || !Number.isSafeInteger(v.exp)) return null;
  if (!Array.isArray(v.prefixes) || v.prefixes.length === 0 || v.prefixes.length > MEDIA_GRANT_LIMITS.maxPrefixes) return null;
  if (!v.prefixes.every((p): p is string => typeof p === 'string' && isGrantablePrefix(p))) return null;
  return { originId: v.originId, prefixes: v.prefixes, expiresAt: v.exp };
}

/** Does this grant let `originId` (the request's verified signer) touch `key` at `nowMs`? */
export async function verifyMediaGrant(
  master: string,
  grant: string | null | undefined,
  originId: string,
  key: string,
  nowMs: number,
): Promise<MediaGrantVerdict> {
  if (!grant) return { ok: false, reason: 'missing' };
  const [payload, macText, extra] = grant.split('.');
  if (!payload || !macText || extra !== undefined || grant.length > MEDIA_GRANT_LIMITS.maxChars) return { ok: false, reason: 'malformed' };
  const mac = fromBase64url(macText);
  // Only the canonical spelling: base64's spare bits would otherwise let several texts carry one MAC.
  if (!mac || mac.length !== 32 || base64url(mac) !== macText) return { ok: false, reason: 'malformed' };
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(master), mac, encoder.encode(LABEL + payload));
  if (!valid) return { ok: false, reason: 'mismatch' };
  const claims = readMediaGrant(grant);
  if (!claims) return { ok: false, reason: 'malformed' };
  if (claims.expiresAt <= nowMs) return { ok: false, reason: 'expired' };
  if (claims.originId !== originId) return { ok: false, reason: 'wrong-origin' };
  if (!grantCovers(claims.prefixes, key)) return { ok: false, reason: 'not-covered' };
  return { ok: true, claims };
}

async function hmacKey(master: string): Promise<Awaited<ReturnType<typeof crypto.subtle.importKey>>> {
  return crypto.subtle.importKey('raw', encoder.encode(master), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
