// A closed origin: HLS requests carry the edge's signature (shared/request-signing.ts, over method, path and query,
// with this origin's secret) or get 401; HLS_ALLOW_UNSIGNED's null secret serves them unsigned.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHlsServer, type HlsServer } from '../../../origin/http/hls-server.ts';
import { verifySignedRequestSync } from '../../../origin/http/signed-request.ts';
import { signRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../../shared/request-signing.ts';

const SECRET = 'ors_0123456789abcdef0123456789abcdef';
const OTHER_SECRET = 'ors_fedcba9876543210fedcba9876543210';
const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n';

let tmp: string;
let closed: HlsServer;
let open: HlsServer;
const registry = new Registry();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-signed-'));
  const root = path.join(tmp, 'media');
  await mkdir(path.join(root, 'ls_1', 'ses_1', 'source'), { recursive: true });
  await writeFile(path.join(root, 'ls_1', 'ses_1', 'source', 'index.m3u8'), PLAYLIST);
  await writeFile(path.join(root, 'ls_1', 'ses_1', 'source', 'abc123-00000.ts'), Buffer.alloc(1000, 7));
  closed = await startHlsServer({ mediaRoot: root, host: '127.0.0.1', port: 0, registry, hlsSigningSecret: SECRET });
  open = await startHlsServer({ mediaRoot: root, host: '127.0.0.1', port: 0, hlsSigningSecret: null });
});

afterAll(async () => {
  closed?.close();
  open?.close();
  await rm(tmp, { recursive: true, force: true });
});

const PLAYLIST_PATH = '/hls/ls_1/ses_1/source/index.m3u8';
const SEGMENT_PATH = '/hls/ls_1/ses_1/source/abc123-00000.ts';

async function signed(target: string, opts: { method?: string; secret?: string; at?: number; signAs?: string } = {}): Promise<Response> {
  const method = opts.method ?? 'GET';
  const headers = await signRequest(opts.secret ?? SECRET, method, opts.signAs ?? target, '', opts.at);
  return fetch(`http://127.0.0.1:${closed.port}${target}`, { method, headers });
}

describe('a closed origin (signing secret set)', () => {
  it('serves a signed playlist and segment (GET), and a signed HEAD', async () => {
    const playlist = await signed(PLAYLIST_PATH);
    expect(playlist.status).toBe(200);
    expect(await playlist.text()).toBe(PLAYLIST);
    const segment = await signed(SEGMENT_PATH);
    expect(segment.status).toBe(200);
    expect((await segment.arrayBuffer()).byteLength).toBe(1000);
    const head = await signed(SEGMENT_PATH, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
  });

  it('the signature covers the query too', async () => {
    const ok = await signed(`${PLAYLIST_PATH}?_HLS_msn=3`);
    expect(ok.status).toBe(200);
    await ok.text();
    const swapped = await signed(`${PLAYLIST_PATH}?_HLS_msn=4`, { signAs: `${PLAYLIST_PATH}?_HLS_msn=3` });
    expect(swapped.status).toBe(401);
    await swapped.text();
  });

  it.each([
    ['unsigned', () => fetch(`http://127.0.0.1:${closed.port}${PLAYLIST_PATH}`), 'missing'],
    ['signed with another origin\'s secret', () => signed(PLAYLIST_PATH, { secret: OTHER_SECRET }), 'mismatch'],
    ['signed for another path', () => signed(SEGMENT_PATH, { signAs: PLAYLIST_PATH }), 'mismatch'],
    ['signed for GET, sent as HEAD', async () => {
      const headers = await signRequest(SECRET, 'GET', SEGMENT_PATH, '');
      return fetch(`http://127.0.0.1:${closed.port}${SEGMENT_PATH}`, { method: 'HEAD', headers });
    }, null],
    ['stale (signed 5 minutes ago)', () => signed(PLAYLIST_PATH, { at: Math.floor(Date.now() / 1000) - 300 }), 'stale'],
    ['from the future (5 minutes ahead)', () => signed(PLAYLIST_PATH, { at: Math.floor(Date.now() / 1000) + 300 }), 'stale'],
    ['with a malformed signature', () => fetch(`http://127.0.0.1:${closed.port}${PLAYLIST_PATH}`, {
      headers: { [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)), [SIGNATURE_HEADER]: 'v1=zz' },
    }), 'malformed'],
  ])('refuses a request %s with 401, never cached', async (_what, send, reason) => {
    const r = await send();
    expect(r.status).toBe(401);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const text = await r.text();
    if (reason) expect(text).toContain(reason);
  });

  it('counts refusals under route hls, status 401', async () => {
    expect(await registry.metrics()).toMatch(/riverhead_origin_http_requests_total\{route="hls",status="401"\} [1-9]/);
  });

  it('checks the signature before the path: a refused request learns nothing of what exists', async () => {
    const missing = await fetch(`http://127.0.0.1:${closed.port}/hls/ls_1/ses_1/source/nothing.ts`);
    expect(missing.status).toBe(401);
    await missing.text();
    const signedMissing = await signed('/hls/ls_1/ses_1/source/nothing.ts');
    expect(signedMissing.status).toBe(404);
    await signedMissing.text();
  });
});

describe('HLS_ALLOW_UNSIGNED (signing secret null)', () => {
  it('serves unsigned requests', async () => {
    const r = await fetch(`http://127.0.0.1:${open.port}${PLAYLIST_PATH}`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(PLAYLIST);
  });
});

describe('verifySignedRequestSync agrees with shared/request-signing.ts', () => {
  it('accepts what signRequest makes, for GET and HEAD, with and without a query', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const target of [SEGMENT_PATH, `${PLAYLIST_PATH}?a=1&b=%20`]) {
        const headers = await signRequest(SECRET, method, target, '');
        expect(verifySignedRequestSync(SECRET, method, target, { get: (n) => headers[n] ?? null })).toEqual({ ok: true });
      }
    }
  });

  it('refuses a signature one hex digit off', async () => {
    const headers = await signRequest(SECRET, 'GET', SEGMENT_PATH, '');
    const sig = headers[SIGNATURE_HEADER]!;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    const verdict = verifySignedRequestSync(SECRET, 'GET', SEGMENT_PATH, { get: (n) => (n === SIGNATURE_HEADER ? flipped : headers[n] ?? null) });
    expect(verdict).toEqual({ ok: false, reason: 'mismatch' });
  });
});
