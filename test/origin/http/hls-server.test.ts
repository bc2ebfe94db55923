// The origin HTTP server on a real uWS socket: HLS files with their types, cache headers and ranges,
// path escapes refused, and added routes. Served unsigned here (hlsSigningSecret null): the signature check has its own
// test (hls-signed.test.ts), as have /healthz and /metrics on the admin listener (admin-server.test.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, resolveMediaPath, startHlsServer } from '../../../origin/http/hls-server.ts';
import type { HlsServer } from '../../../origin/http/hls-server.ts';

let tmp: string;
let root: string;
let server: HlsServer;
let base: string;
const segment = randomBytes(700 * 1024); // several 256 KiB chunks
const registry = new Registry();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-server-'));
  root = path.join(tmp, 'media');
  await mkdir(path.join(root, 'abc', 'source'), { recursive: true });
  await writeFile(path.join(root, 'abc', 'master.m3u8'), '#EXTM3U\n');
  await writeFile(path.join(root, 'abc', 'source', 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n');
  await writeFile(path.join(root, 'abc', 'source', 'seg_00000.ts'), segment);
  await writeFile(path.join(root, 'abc', 'source', 'seg_00001.ts.tmp'), 'partial');
  await writeFile(path.join(root, 'abc', 'source', 'init.mp4'), 'mp4');
  await writeFile(path.join(root, 'abc', 'thumb.jpg'), 'jpeg');
  await writeFile(path.join(root, 'abc', 'ladder.json'), '{}');
  await writeFile(path.join(root, 'abc', 'empty.ts'), '');
  await writeFile(path.join(tmp, 'secret.m3u8'), 'SECRET');
  server = await startHlsServer({ mediaRoot: root, host: '127.0.0.1', port: 0, registry, hlsSigningSecret: null });
  base = `http://127.0.0.1:${server.port}`;
  server.post('/control/echo', async (body, headers) => ({ status: 202, json: { got: body.toString('utf8'), sig: headers['x-signature'] ?? null } }));
  server.post('/control/fail', async () => {
    throw new Error('boom');
  });
});

afterAll(async () => {
  server?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** A request sent byte for byte, so the client cannot normalise `..` away. */
function rawRequest(target: string, method = 'GET'): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('connect', () => sock.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
    sock.setTimeout(3000, () => sock.destroy());
  });
}

describe('HLS files', () => {
  it.each([
    ['/hls/abc/master.m3u8', 'application/vnd.apple.mpegurl', 'public, max-age=1'],
    ['/hls/abc/source/index.m3u8', 'application/vnd.apple.mpegurl', 'public, max-age=1'],
    ['/hls/abc/source/seg_00000.ts', 'video/mp2t', 'public, max-age=31536000, immutable'],
    ['/hls/abc/source/init.mp4', 'video/mp4', 'public, max-age=31536000, immutable'],
    ['/hls/abc/thumb.jpg', 'image/jpeg', 'public, max-age=5'],
  ])('GET %s → %s, %s', async (url, type, cache) => {
    const r = await fetch(base + url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(type);
    expect(r.headers.get('cache-control')).toBe(cache);
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    await r.arrayBuffer();
  });

  it('serves a multi-chunk segment byte for byte', async () => {
    const r = await fetch(`${base}/hls/abc/source/seg_00000.ts`);
    expect(r.headers.get('content-length')).toBe(String(segment.length));
    expect(Buffer.from(await r.arrayBuffer()).equals(segment)).toBe(true);
  });

  it('serves an empty file', async () => {
    const r = await fetch(`${base}/hls/abc/empty.ts`);
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=300000-', 300000, segment.length - 1],
    ['bytes=-500', segment.length - 500, segment.length - 1],
    ['bytes=700000-99999999', 700000, segment.length - 1],
  ])('Range %s → 206 with the bytes asked for', async (range, start, end) => {
    const r = await fetch(`${base}/hls/abc/source/seg_00000.ts`, { headers: { range } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${segment.length}`);
    const body = Buffer.from(await r.arrayBuffer());
    expect(body.equals(segment.subarray(start, end + 1))).toBe(true);
  });

  it('answers 416 to a range past the end', async () => {
    const r = await fetch(`${base}/hls/abc/source/seg_00000.ts`, { headers: { range: `bytes=${segment.length}-` } });
    expect(r.status).toBe(416);
    expect(r.headers.get('content-range')).toBe(`bytes */${segment.length}`);
    await r.arrayBuffer();
  });

  it('HEAD gives the headers and the length without a body', async () => {
    const r = await fetch(`${base}/hls/abc/source/seg_00000.ts`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('video/mp2t');
    expect(r.headers.get('content-length')).toBe(String(segment.length));
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  it('HEAD of a missing file is a 404 without a body', async () => {
    const text = await rawRequest('/hls/abc/missing.m3u8', 'HEAD');
    expect(text.startsWith('HTTP/1.1 404')).toBe(true);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('revalidates with the ETag', async () => {
    const first = await fetch(`${base}/hls/abc/source/index.m3u8`);
    await first.text();
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(`${base}/hls/abc/source/index.m3u8`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it.each(['/hls/abc/missing.m3u8', '/hls/nope/master.m3u8', '/hls/abc/source/seg_00001.ts', '/hls/abc/ladder.json', '/hls/abc', '/hls/abc/source'])(
    '404 for %s, never cached',
    async (url) => {
      const r = await fetch(base + url);
      expect(r.status).toBe(404);
      expect(r.headers.get('cache-control')).toBe('no-store');
      await r.arrayBuffer();
    },
  );

  it.each([
    '/hls/x/../../etc/passwd',
    '/hls/abc/../../secret.m3u8',
    '/hls/abc/../secret.m3u8',
    '/hls/%2e%2e/secret.m3u8',
    '/hls/abc/%2e%2e/%2e%2e/secret.m3u8',
    '/hls/abc/..%2f..%2fsecret.m3u8',
    '/hls/abc/%2F..%2Fsecret.m3u8',
    '/hls/abc/master.m3u8%00.ts',
    '/hls/abc/%00',
    '/hls/abc/source/seg_00001.ts.tmp',
    '/hls/abc/.%2e/secret.m3u8',
    '/hls//etc/passwd',
    '/hls/abc//etc/passwd',
    '/hls/abc/%5c..%5csecret.m3u8',
    '/hls/abc/%zz.m3u8',
  ])('refuses %s without file content', async (target) => {
    const text = await rawRequest(target);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    expect([400, 404]).toContain(status);
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('root:');
  });

  it('resolveMediaPath keeps every accepted path under the root', () => {
    expect(resolveMediaPath('/m', '/hls/s1/source/seg_00001.ts')).toEqual({ ok: true, file: '/m/s1/source/seg_00001.ts' });
    expect(resolveMediaPath('/m', '/hls/s1/..').ok).toBe(false);
    expect(resolveMediaPath('/m', '/other/s1/master.m3u8').ok).toBe(false);
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-30', 10, { start: 0, end: 9 }],
    ['bytes=2-100', 10, { start: 2, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=5-2', 10, undefined],
    ['bytes=0-1,3-4', 10, undefined],
    ['items=0-1', 10, undefined],
    ['bytes=-', 10, undefined],
  ] as const)('%s of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('service routes', () => {
  it('the public port serves neither /healthz nor /metrics (they are on the admin listener)', async () => {
    for (const url of ['/healthz', '/metrics']) {
      const r = await fetch(base + url);
      expect(r.status).toBe(404);
      await r.text();
    }
    const text = await registry.metrics();
    expect(text).toMatch(/route="hls",status="200"/);
  });

  it('added POST routes get the body and the headers', async () => {
    const r = await fetch(`${base}/control/echo`, { method: 'POST', body: 'hello', headers: { 'x-signature': 'abc' } });
    expect(r.status).toBe(202);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toEqual({ got: 'hello', sig: 'abc' });
  });

  it('a throwing route answers 500 problem+json', async () => {
    const r = await fetch(`${base}/control/fail`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    await r.text();
  });

  it('a body over the limit answers 413', async () => {
    const r = await fetch(`${base}/control/echo`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024) });
    expect(r.status).toBe(413);
    await r.text();
  });

  it('unknown paths are 404', async () => {
    const r = await fetch(`${base}/nothing`);
    expect(r.status).toBe(404);
    await r.text();
  });

  it('a client that goes away mid-download does not break the server', async () => {
    const ctl = new AbortController();
    const r = await fetch(`${base}/hls/abc/source/seg_00000.ts`, { signal: ctl.signal });
    ctl.abort();
    await r.arrayBuffer().catch(() => undefined);
    const after = await fetch(`${base}/hls/abc/master.m3u8`);
    expect(after.status).toBe(200);
    await after.text();
  });
});
