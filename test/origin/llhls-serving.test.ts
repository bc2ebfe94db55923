// The origin's HTTP serving of a live low-mode session on a real uWS socket: the LL playlist from memory (blocking per
// _HLS_msn/_HLS_part, 400 problems naming the field), parts held until they exist, inits from memory, segments and
// everything once the session ends from disk. Unsigned here; the signature check is hls-signed.test.ts's.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHlsServer, type HlsServer } from '../../origin/http/hls-server.ts';
import { LowLatencyStore, type LowLatencySession } from '../../origin/llhls/low-latency-store.ts';

let tmp: string;
let server: HlsServer;
let base: string;
const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 1 });
let session: LowLatencySession;
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill).buffer;
const part = (rendition: string, msn: number, p: number) =>
  session.onPart({ type: 'll_part', rendition, legTag: 'abcdef', msn, part: p, duration: 0.2, independent: p === 0, bytes: bytes(50, 10 * msn + p) });
const close = (rendition: string, msn: number) => session.onSegment({ type: 'll_segment', rendition, legTag: 'abcdef', msn, duration: 1, parts: 5, programDateTime: 1_700_000_000_000 + msn * 1000 });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'llhls-serving-'));
  const dir = path.join(tmp, 'str', 'ses', '720p');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'index.m3u8'), '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-ENDLIST\n');
  await writeFile(path.join(dir, 'abcdef-00000.m4s'), 'segment zero');
  await writeFile(path.join(dir, 'init-000000.mp4'), 'older leg init');
  server = await startHlsServer({ mediaRoot: tmp, host: '127.0.0.1', port: 0, hlsSigningSecret: null, lowLatency: store });
  base = `http://127.0.0.1:${server.port}/hls/str/ses`;
  session = store.session('str', 'ses', { renditions: ['720p', '360p'] });
  for (const r of ['720p', '360p']) {
    session.onInit({ type: 'll_init', rendition: r, legTag: 'abcdef', bytes: bytes(8, 7), codecs: 'avc1.64001f' });
    for (let p = 0; p < 5; p++) part(r, 0, p);
    close(r, 0);
    part(r, 1, 0);
  }
});

afterAll(async () => {
  session.end();
  server.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('LL-HLS serving', () => {
  it('answers the LL playlist from memory, holding a blocking request until its part exists', async () => {
    const now = await fetch(`${base}/720p/index.m3u8`);
    expect(now.status).toBe(200);
    expect(now.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(now.headers.get('cache-control')).toBe('public, max-age=1');
    const text = await now.text();
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
    expect(text).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="abcdef-00001.1.m4s"');
    expect(text).toContain('#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=1,LAST-PART=0');

    const started = Date.now();
    const held = fetch(`${base}/720p/index.m3u8?_HLS_msn=1&_HLS_part=1`);
    setTimeout(() => part('720p', 1, 1), 150);
    const answer = await held;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('#EXT-X-PART:DURATION=0.20000,URI="abcdef-00001.1.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="abcdef-00001.2.m4s"');
  });

  it('answers bad blocking requests with a 400 problem naming the field', async () => {
    for (const [query, field] of [['_HLS_part=1', '_HLS_part'], ['_HLS_msn=9', '_HLS_msn'], ['_HLS_msn=x', '_HLS_msn'], ['_HLS_skip=maybe', '_HLS_skip']] as const) {
      const res = await fetch(`${base}/720p/index.m3u8?${query}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 400, field });
    }
  });

  it('serves parts from memory (immutable), holds the hinted one, and 404s parts that will not come', async () => {
    const held = await fetch(`${base}/360p/abcdef-00000.3.m4s`);
    expect(held.status).toBe(200);
    expect(held.headers.get('content-type')).toBe('video/mp4');
    expect(held.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect([...new Uint8Array(await held.arrayBuffer())]).toEqual(new Array(50).fill(3));

    const hinted = fetch(`${base}/360p/abcdef-00001.1.m4s`);
    setTimeout(() => part('360p', 1, 1), 100);
    const got = await hinted;
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())[0]).toBe(11);

    expect((await fetch(`${base}/360p/abcdef-00007.0.m4s`)).status).toBe(404);
  });

  it('serves the init from memory, and segments and inits it does not hold from disk', async () => {
    const init = await fetch(`${base}/720p/init-abcdef.mp4`);
    expect(init.status).toBe(200);
    expect([...new Uint8Array(await init.arrayBuffer())]).toEqual(new Array(8).fill(7));
    expect(await (await fetch(`${base}/720p/init-000000.mp4`)).text()).toBe('older leg init');
    expect(await (await fetch(`${base}/720p/abcdef-00000.m4s`)).text()).toBe('segment zero');
  });

  it('after the session ends, answers a held request and every later one from disk', async () => {
    const held = fetch(`${base}/720p/index.m3u8?_HLS_msn=2&_HLS_part=0`);
    setTimeout(() => session.end(), 100);
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('#EXT-X-ENDLIST');
    expect((await fetch(`${base}/720p/abcdef-00001.0.m4s`)).status).toBe(404);
  });
});
