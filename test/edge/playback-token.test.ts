// Playback token verification on its own: RS256, kid, sub = playback ID, exp.
import { describe, it, expect, beforeAll } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, UnsecuredJWT, type CryptoKey as JoseKey } from 'jose';
import { MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS, tokenKeyId, verifyPlaybackToken } from '../../edge/playback-token.ts';

let signing: { privateKey: JoseKey; jwk: string };
let stranger: { privateKey: JoseKey; jwk: string };
async function pair() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, jwk: JSON.stringify(await exportJWK(publicKey)) };
}
beforeAll(async () => {
  signing = await pair();
  stranger = await pair();
});

const now = () => Math.floor(Date.now() / 1000);
function token(claims: { sub?: string; exp?: number | null } = {}, options: { kid?: string | null; key?: JoseKey; alg?: string } = {}) {
  const jwt = new SignJWT({}).setProtectedHeader({
    alg: options.alg ?? 'RS256',
    ...(options.kid === null ? {} : { kid: options.kid ?? 'sgk_1' }),
  });
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? now() + 600);
  return jwt.sign(options.key ?? signing.privateKey);
}

describe('verifyPlaybackToken', () => {
  it('accepts an unexpired token for this playback ID signed by the key its kid names', async () => {
    const verdict = await verifyPlaybackToken(await token({ sub: 'pb_a' }), { playbackId: 'pb_a', publicKeyJwk: signing.jwk });
    expect(verdict).toEqual({ ok: true, expiresAt: expect.any(Number) });
  });

  it.each<[string, () => Promise<string | undefined>, boolean]>([
    ['missing', async () => undefined, true],
    ['malformed', async () => 'not.a.jwt', true],
    ['malformed', async () => token({ sub: 'pb_a' }, { kid: null }), true],
    ['unknown-key', async () => token({ sub: 'pb_a' }), false],
    ['expired', async () => token({ sub: 'pb_a', exp: now() - 5 }), true],
    ['no-expiry', async () => token({ sub: 'pb_a', exp: null }), true],
    ['wrong-playback-id', async () => token({ sub: 'pb_b' }), true],
    ['wrong-playback-id', async () => token({}), true],
    ['bad-signature', async () => token({ sub: 'pb_a' }, { key: stranger.privateKey }), true],
    ['lifetime-too-long', async () => token({ sub: 'pb_a', exp: Date.UTC(9999, 11, 31) / 1000 }), true],
    ['lifetime-too-long', async () => token({ sub: 'pb_a', exp: now() + MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS + 120 }), true],
  ])('refuses: %s', async (reason, make, keyFound) => {
    const verdict = await verifyPlaybackToken(await make(), { playbackId: 'pb_a', publicKeyJwk: keyFound ? signing.jwk : null });
    expect(verdict).toEqual({ ok: false, reason });
  });

  it('accepts a token up to the documented maximum lifetime (7 days) ahead, with room for clock skew', async () => {
    expect(MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS).toBe(7 * 24 * 3600);
    const longest = await token({ sub: 'pb_a', exp: now() + MAX_PLAYBACK_TOKEN_LIFETIME_SECONDS });
    expect((await verifyPlaybackToken(longest, { playbackId: 'pb_a', publicKeyJwk: signing.jwk })).ok).toBe(true);
  });

  it('refuses unsigned and HMAC tokens even with a valid kid', async () => {
    const unsecured = new UnsecuredJWT({ sub: 'pb_a' }).setExpirationTime('1h').encode();
    expect((await verifyPlaybackToken(unsecured, { playbackId: 'pb_a', publicKeyJwk: signing.jwk })).ok).toBe(false);
    const hmac = await new SignJWT({ sub: 'pb_a' })
      .setProtectedHeader({ alg: 'HS256', kid: 'sgk_1' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough'));
    expect(await verifyPlaybackToken(hmac, { playbackId: 'pb_a', publicKeyJwk: signing.jwk })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reads the kid before anything is trusted', async () => {
    expect(tokenKeyId(await token({ sub: 'x' }, { kid: 'sgk_abc' }))).toBe('sgk_abc');
    expect(tokenKeyId('garbage')).toBeNull();
    expect(tokenKeyId(undefined)).toBeNull();
    expect(tokenKeyId(await token({ sub: 'x' }, { kid: 'k'.repeat(65) }))).toBeNull();
  });
});
