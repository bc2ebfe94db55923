// The dashboard's server side and its pure parts, inside workerd: `/` redirects to /dashboard, every /dashboard path
// answers the shell (no API key, strict CSP, the built assets it links are served); a playback token the page signs
// passes the edge's own verification; the clip maker's session position and the create form's metadata parsing.
import { describe, it, expect } from 'vitest';
import { exportJWK, importSPKI } from 'jose';
import { api, call, createWorkspace, json } from './helpers.ts';
import { assetPath } from '../../edge/browser/assets.ts';
import { verifyPlaybackToken } from '../../edge/playback-token.ts';
import { PREVIEW_TOKEN_SECONDS, signPlaybackToken } from '../../edge/dashboard/client/token-signing.ts';
import { sessionPosition } from '../../edge/dashboard/client/session-position.ts';
import { parseMetadata, streamName } from '../../edge/dashboard/client/stream-name.ts';

describe('dashboard routes', () => {
  it('/ sends people to /dashboard', async () => {
    const response = await call('/', { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/dashboard');
  });

  it('every /dashboard path answers the shell without an API key, linking assets that are served', async () => {
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/streams/ls_x?status=STREAMING', '/dashboard/webhooks/wh_1']) {
      const response = await call(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      const html = await response.text();
      expect(html).toContain('<div id="dashboard">');
      for (const name of ['dashboard.js', 'dashboard.css', 'hls.js'] as const) expect(html).toContain(`"${assetPath(name)}"`);
    }
    for (const name of ['dashboard.js', 'dashboard.css'] as const) {
      const asset = await call(assetPath(name));
      expect(asset.status).toBe(200);
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
  });

  it('is no API route: not in the OpenAPI document', async () => {
    const doc = await json(await call('/v1/openapi.json'));
    expect(Object.keys(doc.paths).filter((p) => p.includes('dashboard'))).toEqual([]);
  });
});

describe('the page-signed playback token', () => {
  it('passes the edge verification for its playback ID only, and lives PREVIEW_TOKEN_SECONDS', async () => {
    const ws = await createWorkspace('dashboard-token');
    const { data } = await json(await api(ws, 'POST', '/signing-keys'));
    const key = { signingKeyId: data.signingKeyId, privateKeyPem: atob(data.privateKey) };
    const publicKeyJwk = JSON.stringify(await exportJWK(await importSPKI(data.publicKey, 'RS256')));
    const now = Date.now();
    const token = await signPlaybackToken(key, 'pb_dashboard', now);
    expect(await verifyPlaybackToken(token, { playbackId: 'pb_dashboard', publicKeyJwk })).toEqual({
      ok: true,
      expiresAt: Math.floor(now / 1000) + PREVIEW_TOKEN_SECONDS,
    });
    expect(await verifyPlaybackToken(token, { playbackId: 'pb_other', publicKeyJwk })).toEqual({ ok: false, reason: 'wrong-playback-id' });
    const old = await signPlaybackToken(key, 'pb_dashboard', now - (PREVIEW_TOKEN_SECONDS + 5) * 1000);
    expect(await verifyPlaybackToken(old, { playbackId: 'pb_dashboard', publicKeyJwk })).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('clip maker position', () => {
  const started = Date.parse('2026-11-28T10:00:00Z');
  it('counts from the first segment when the playlist still starts at it', () => {
    expect(
      sessionPosition({ currentTime: 99, playingDateMs: started + 12_500, firstFragment: { sn: 0, programDateTimeMs: started + 700 }, sessionStartedAtMs: started }),
    ).toBeCloseTo(11.8, 6);
  });
  it('counts from the session start once the window has slid', () => {
    expect(
      sessionPosition({ currentTime: 3, playingDateMs: started + 90_000, firstFragment: { sn: 15, programDateTimeMs: started + 30_000 }, sessionStartedAtMs: started }),
    ).toBe(90);
  });
  it('falls back to media time without program date-times, never negative', () => {
    expect(sessionPosition({ currentTime: 7.25, playingDateMs: null, firstFragment: null, sessionStartedAtMs: started })).toBe(7.25);
    expect(sessionPosition({ currentTime: 0, playingDateMs: started - 500, firstFragment: null, sessionStartedAtMs: started })).toBe(0);
  });
});

describe('create form metadata', () => {
  it('reads key=value lines and names streams by them', () => {
    expect(parseMetadata('team = events\n\nurl=https://x/?a=b\n')).toEqual({ team: 'events', url: 'https://x/?a=b' });
    expect(() => parseMetadata('ok=1\nbroken')).toThrow('metadata line 2 needs key=value');
    expect(streamName({ streamId: 'ls_1', metadata: {} })).toBe('ls_1');
    expect(streamName({ streamId: 'ls_1', metadata: { livestream_name: 'seed' } })).toBe('seed');
    expect(streamName({ streamId: 'ls_1', metadata: { name: 'mine', livestream_name: 'seed' } })).toBe('mine');
  });
});
