// shared/media-grant.ts: a grant verifies only for its signer, its prefixes, before its expiry, and under its master key.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { grantCovers, isGrantablePrefix, issueMediaGrant, readMediaGrant, verifyMediaGrant } from '../../shared/media-grant.ts';

const MASTER = 'master-key-for-tests-0123456789abcdef';
const NOW = 1_800_000_000_000;
const prefix = 'live/str_a/ses_b/';

describe('media grants', () => {
  it('verifies for the signer, a covered key, before expiry', async () => {
    const grant = await issueMediaGrant(MASTER, { originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 });
    const verdict = await verifyMediaGrant(MASTER, grant, 'origin-1', `${prefix}source/abc123-00001.ts`, NOW);
    expect(verdict).toEqual({ ok: true, claims: { originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 } });
    expect(readMediaGrant(grant)).toEqual({ originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 });
  });

  it.each([
    ['another origin', 'origin-2', `${prefix}x.ts`, NOW, 'wrong-origin'],
    ['a key outside its prefixes', 'origin-1', 'live/str_a/ses_c/x.ts', NOW, 'not-covered'],
    ['a sibling that shares the prefix text', 'origin-1', 'live/str_a/ses_bb/x.ts', NOW, 'not-covered'],
    ['a recording key', 'origin-1', 'recordings/rec_1/recording.mp4', NOW, 'not-covered'],
    ['after expiry', 'origin-1', `${prefix}x.ts`, NOW + 60_000, 'expired'],
  ])('refuses %s', async (_what, originId, key, now, reason) => {
    const grant = await issueMediaGrant(MASTER, { originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 });
    expect(await verifyMediaGrant(MASTER, grant, originId, key, now)).toEqual({ ok: false, reason });
  });

  it('refuses a grant of another master, a missing one, and a tampered payload', async () => {
    const grant = await issueMediaGrant(MASTER, { originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 });
    expect(await verifyMediaGrant('another-master-key-0123456789abcdef', grant, 'origin-1', `${prefix}x.ts`, NOW)).toEqual({ ok: false, reason: 'mismatch' });
    expect(await verifyMediaGrant(MASTER, undefined, 'origin-1', `${prefix}x.ts`, NOW)).toEqual({ ok: false, reason: 'missing' });
    const [, mac] = grant.split('.');
    const widened = btoa(JSON.stringify({ originId: 'origin-1', prefixes: ['live/'], exp: NOW + 60_000 })).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    expect(await verifyMediaGrant(MASTER, `${widened}.${mac}`, 'origin-1', 'live/other/ses/x.ts', NOW)).toEqual({ ok: false, reason: 'mismatch' });
    expect(await verifyMediaGrant(MASTER, 'not a grant', 'origin-1', `${prefix}x.ts`, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('issues only grantable prefixes', async () => {
    for (const bad of ['live/', 'tmp/a/', 'live/../x/', 'live/a b/', '']) {
      expect(isGrantablePrefix(bad)).toBe(false);
      await expect(issueMediaGrant(MASTER, { originId: 'o', prefixes: [bad], expiresAt: NOW })).rejects.toThrow();
    }
    expect(isGrantablePrefix('live/str_a/ses_b')).toBe(true);
    expect(isGrantablePrefix('clips/clp_1/')).toBe(true);
  });

  it('covers exactly the keys below a prefix, with or without its trailing slash', () => {
    const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
    fc.assert(
      fc.property(segment, segment, segment, fc.boolean(), (a, b, rest, slash) => {
        const p = `live/${a}/${b}${slash ? '/' : ''}`;
        expect(grantCovers([p], `live/${a}/${b}/${rest}`)).toBe(true);
        expect(grantCovers([p], `live/${a}/${b}${rest}/x`)).toBe(false);
        expect(grantCovers([p], `live/${a}/${b}`)).toBe(false);
      }),
    );
  });

  it('never verifies a byte-flipped grant', async () => {
    const grant = await issueMediaGrant(MASTER, { originId: 'origin-1', prefixes: [prefix], expiresAt: NOW + 60_000 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: grant.length - 1 }), fc.constantFrom(...'ABCabc012-_.'), async (at, ch) => {
        fc.pre(grant[at] !== ch);
        const flipped = grant.slice(0, at) + ch + grant.slice(at + 1);
        const verdict = await verifyMediaGrant(MASTER, flipped, 'origin-1', `${prefix}x.ts`, NOW);
        expect(verdict.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
