// Playback tokens for private playback IDs: a JWT signed RS256 by one of the workspace's signing keys, its `kid`
// header naming the key, `sub` the playback ID and `exp` when it stops working. Verified at the edge on every request.
import { decodeProtectedHeader, importJWK, jwtVerify, errors, type JWK } from 'jose';

export const PLAYBACK_TOKEN_ALGORITHM = 'RS256';
/**
 * The furthest ahead a token's `exp` may be, counted from when it is checked: 7 days. A token that never dies (exp in
 * year 9999) makes a private playback ID public for whoever copies the URL; viewers get fresh tokens from the customer.
 */
export const MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Slack for the signer's clock when it sets exp to exactly the maximum. */
const LIFETIME_CLOCK_SKEW_SECONDS = 60;

export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'unknown-key'
  | 'expired'
  | 'no-expiry'
  | 'lifetime-too-long'
  | 'wrong-playback-id'
  | 'bad-signature';
export type TokenVerdict = { ok: true; expiresAt: number } | { ok: false; reason: TokenRefusal };

/** The `kid` a token names, read before anything is trusted (to look the key up), or null for a token that has none. */
export function tokenKeyId(token: string | undefined | null): string | null {
  if (!token) return null;
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === 'string' && kid.length > 0 && kid.length <= 64 ? kid : null;
  } catch {
    return null;
  }
}

/** Imported public keys by their JWK text; the lookup that found the JWK (a live D1 row) decides whether it still counts. */
const importedKeys = new Map<string, Promise<CryptoKey | Uint8Array>>();
const MAX_IMPORTED_KEYS = 500;

function importPublicKey(jwkText: string) {
  let key = importedKeys.get(jwkText);
  if (!key) {
    if (importedKeys.size >= MAX_IMPORTED_KEYS) importedKeys.clear();
    key = importJWK(JSON.parse(jwkText) as JWK, PLAYBACK_TOKEN_ALGORITHM);
    importedKeys.set(jwkText, key);
    key.catch(() => importedKeys.delete(jwkText));
  }
  return key;
}

/**
 * `publicKeyJwk` is the JWK of the key the token's kid names, when that key exists and belongs to the playback ID's
 * workspace (null otherwise: deleted, unknown or someone else's key).
 */
export async function verifyPlaybackToken(
  token: string | undefined | null,
  expected: { playbackId: string; publicKeyJwk: string | null; now?: Date },
): Promise<TokenVerdict> {
  if (!token) return { ok: false, reason: 'missing' };
  if (tokenKeyId(token) === null) return { ok: false, reason: 'malformed' };
  if (!expected.publicKeyJwk) return { ok: false, reason: 'unknown-key' };
  try {
    const { payload } = await jwtVerify(token, await importPublicKey(expected.publicKeyJwk), {
      algorithms: [PLAYBACK_TOKEN_ALGORITHM],
      requiredClaims: ['exp', 'sub'],
      currentDate: expected.now,
    });
    if (payload.sub !== expected.playbackId) return { ok: false, reason: 'wrong-playback-id' };
    const nowSeconds = Math.floor((expected.now ?? new Date()).getTime() / 1000);
    if (payload.exp! - nowSeconds > MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS + LIFETIME_CLOCK_SKEW_SECONDS) {
      return { ok: false, reason: 'lifetime-too-long' };
    }
    return { ok: true, expiresAt: payload.exp! };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'exp') return { ok: false, reason: 'no-expiry' };
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'sub') return { ok: false, reason: 'wrong-playback-id' };
    if (error instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: 'bad-signature' };
    return { ok: false, reason: 'malformed' };
  }
}
