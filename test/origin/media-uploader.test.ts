// Uploads to R2 through the edge ride out a storage outage: a local edge stand-in that answers 503 for ~8 s and then
// stores, reached with the real EdgeClient; a refusal that cannot change fails at once; a lasting outage fails with a
// reason once the retry budget is spent.
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../origin/edge-client.ts';
import { DEFAULT_UPLOAD_RETRY, MediaUploader, UploadFailed, isPermanentUploadFailure } from '../../origin/media-uploader.ts';

let tmp: string;
let server: Server;
let edgeUrl: string;
/** what the stand-in does with the next request */
let mode: { kind: 'down-until'; until: number } | { kind: 'refuse'; status: number } = { kind: 'down-until', until: 0 };
const stored = new Map<string, Buffer>();
let requests = 0;
/** The grant header of each request the stand-in stored (the uploader carries it on every one; the edge checks it). */
const grantsSeen: (string | undefined)[] = [];
/** Opaque to the origin: the stand-in only checks it is carried, the real edge's checks are test/edge/internal-media.test.ts. */
const GRANT = 'media-grant-under-test';

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'uploader-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (mode.kind === 'refuse') {
        res.writeHead(mode.status).end('refused');
        return;
      }
      if (Date.now() < mode.until) {
        res.writeHead(503).end('storage unavailable');
        return;
      }
      grantsSeen.push(req.headers['x-riverhead-media-grant'] as string | undefined);
      stored.set(new URL(req.url!, 'http://x').pathname, Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const edge = () => new EdgeClient(edgeUrl, { originId: 'origin-test', secret: 'test-origin-secret-0123456789abcdef' });

describe('MediaUploader', () => {
  it('retries for minutes by default, with backoff', () => {
    expect(DEFAULT_UPLOAD_RETRY.budgetMs).toBeGreaterThanOrEqual(3 * 60_000);
  });

  it('rides out an 8 s storage outage and then stores every file', async () => {
    const dir = path.join(tmp, 'hls');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'index.m3u8'), '#EXTM3U\n');
    await writeFile(path.join(dir, 'seg0.ts'), Buffer.alloc(4096, 7));
    const started = Date.now();
    mode = { kind: 'down-until', until: started + 8000 };
    requests = 0;
    const uploader = new MediaUploader(edge(), undefined, { budgetMs: 60_000, firstDelayMs: 500, maxDelayMs: 2000 });
    const bytes = await uploader.uploadDirectory('recordings/s1/sess1/hls', dir, GRANT);
    expect(bytes).toBe(4096 + 8);
    expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
    expect(stored.get('/internal/media/recordings/s1/sess1/hls/seg0.ts')?.length).toBe(4096);
    expect(stored.get('/internal/media/recordings/s1/sess1/hls/index.m3u8')?.toString()).toBe('#EXTM3U\n');
    expect(grantsSeen).toEqual([GRANT, GRANT]);
    // Backoff, not a tight loop: a handful of tries over 8 s.
    expect(requests).toBeLessThan(15);
  }, 30_000);

  it('fails at once, saying so, when the edge refuses the request itself', async () => {
    const file = path.join(tmp, 'big.mp4');
    await writeFile(file, Buffer.alloc(100));
    mode = { kind: 'refuse', status: 413 };
    requests = 0;
    const error = await new MediaUploader(edge()).uploadFile('clips/c1/clip.mp4', file, GRANT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadFailed);
    expect(error).toMatchObject({ permanent: true, message: expect.stringMatching(/refused.*413/) });
    expect(requests).toBe(1);
  });

  it('fails with a reason once a lasting outage has used up the budget', async () => {
    const file = path.join(tmp, 'clip.mp4');
    await writeFile(file, Buffer.alloc(100));
    mode = { kind: 'down-until', until: Date.now() + 60_000 };
    const error = await new MediaUploader(edge(), 1024, { budgetMs: 1500, firstDelayMs: 200, maxDelayMs: 400 }).uploadFile('clips/c2/clip.mp4', file, GRANT).catch((e: unknown) => e);
    expect(error).toMatchObject({ permanent: false, message: expect.stringMatching(/storage unavailable.*503/) });
  });

  it('tells a refusal from a transient failure', () => {
    expect(isPermanentUploadFailure(new Error('edge media PUT k answered 413: too big'))).toBe(true);
    for (const status of [401, 408, 429, 500, 502, 503]) expect(isPermanentUploadFailure(new Error(`edge media PUT k answered ${status}: x`))).toBe(false);
    expect(isPermanentUploadFailure(new TypeError('fetch failed'))).toBe(false);
  });
});
