// The import step of a video job against real loopback HTTP servers: a source server that can drop the connection
// mid-body, answer 404/503/429, announce too much, stall, ignore Range or send HTML; and an edge stand-in of the media
// API (signature checked, multipart assembled) reached with the real EdgeClient and MediaUploader. The resumed import's
// local file and R2 object match the source's sha256. Address rules: redirects and resolved addresses refused before
// any connection.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../origin/edge-client.ts';
import { MediaUploader } from '../../origin/media-uploader.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';
import { DEFAULT_IMPORT_LIMITS, ImportFailed, importLimitsFromEnv, importSource, videoSourceKey, type ImportContext, type ImportLimits } from '../../origin/vod/import-source.ts';
import { requestImport } from '../../origin/vod/import-request.ts';
import { importLoopbackAllowed, importUrlProblem, mediaTypeRefusal, resolvedAddressProblem } from '../../origin/vod/import-url.ts';
import { PermanentDownloadError, retryAfterMs } from '../../origin/simulive/source-download.ts';

const ORIGIN_ID = 'origin-import-test';
const ORIGIN_SECRET = 'import-test-origin-secret-0123456789abcdef';
const GRANT = 'media-grant-under-test';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

let tmp: string;
const source = randomBytes(3 * 1024 * 1024 + 12345);

/** What the source server does with each request, in order (then 'serve'); and what it was asked. */
type Step = 'serve' | 'drop' | '404' | '503' | '429' | 'huge' | 'stall' | 'silent' | 'no-range' | 'html' | 'chunked' | 'redirect-metadata' | 'redirect-private';
let script: Step[] = [];
let asked: (string | undefined)[] = [];
let sourceServer: Server;
let sourceUrl: string;

function serveSource(req: IncomingMessage, res: ServerResponse): void {
  asked.push(req.headers.range);
  const step = script.shift() ?? 'serve';
  if (step === '404') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such video');
  if (step === '503') return void res.writeHead(503).end('busy');
  if (step === '429') return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
  if (step === 'html') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': '15' }).end('<h1>login</h1>\n');
  if (step === 'huge') return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(50 * 1024 ** 3) }).end();
  if (step === 'redirect-metadata') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
  if (step === 'redirect-private') return void res.writeHead(307, { location: 'https://10.0.0.7/video.mp4' }).end();
  if (step === 'chunked') {
    res.writeHead(200, { 'content-type': 'video/mp4' }); // no length: chunked, counted while read
    return void res.end(source);
  }
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const from = step !== 'no-range' && match ? Number(match[1]) : 0;
  const body = source.subarray(from);
  res.writeHead(from > 0 ? 206 : 200, {
    'content-type': 'video/mp4',
    'content-length': String(body.length),
    etag: '"src-1"',
    ...(step === 'no-range' ? {} : { 'accept-ranges': 'bytes' }),
    ...(from > 0 ? { 'content-range': `bytes ${from}-${source.length - 1}/${source.length}` } : {}),
  });
  // Cut a third in, once the reader has had time to take those bytes (a close right behind them may arrive first).
  if (step === 'drop') return void res.write(body.subarray(0, Math.floor(body.length / 3)), () => setTimeout(() => res.destroy(), 300));
  if (step === 'stall') return void res.write(body.subarray(0, 100_000)); // and nothing more, connection held open
  if (step === 'silent') return void res.flushHeaders(); // headers, then not a byte
  res.end(body);
}

/** The edge's media API at the HTTP boundary: signed requests only, single PUTs and multipart uploads assembled. */
let edgeServer: Server;
let edgeUrl: string;
const stored = new Map<string, Buffer>();
const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
let partsReceived = 0;

function serveEdge(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const body = Buffer.concat(chunks);
      const signed = await verifyRequest(ORIGIN_SECRET, req.method!, req.url!, body, { get: (n) => (req.headers[n.toLowerCase()] as string | undefined) ?? null });
      if (!signed.ok || req.headers[ORIGIN_ID_HEADER] !== ORIGIN_ID) return void res.writeHead(401).end('bad signature');
      if (req.headers['x-riverhead-media-grant'] !== GRANT) return void res.writeHead(403).end('no grant');
      const url = new URL(req.url!, 'http://edge');
      const key = decodeURIComponent(url.pathname.replace(/^\/internal\/media\//, ''));
      const json = (value: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const action = url.searchParams.get('action');
      if (req.method === 'POST' && action === 'create-multipart') {
        const uploadId = `up-${uploads.size + 1}`;
        uploads.set(uploadId, { key, parts: new Map() });
        return json({ uploadId });
      }
      if (req.method === 'PUT' && url.searchParams.has('uploadId')) {
        const n = Number(url.searchParams.get('partNumber'));
        uploads.get(url.searchParams.get('uploadId')!)!.parts.set(n, body);
        partsReceived++;
        return json({ partNumber: n, etag: `etag-${n}` });
      }
      if (req.method === 'POST' && action === 'complete-multipart') {
        const { uploadId, parts } = JSON.parse(body.toString()) as { uploadId: string; parts: { partNumber: number }[] };
        const upload = uploads.get(uploadId)!;
        stored.set(upload.key, Buffer.concat(parts.map((p) => upload.parts.get(p.partNumber)!)));
        return json({});
      }
      if (req.method === 'PUT') {
        stored.set(key, body);
        return json({});
      }
      res.writeHead(405).end();
    })();
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vod-import-'));
  sourceServer = createServer(serveSource);
  sourceUrl = `${await listen(sourceServer)}/media/talk.mp4?X-Amz-Signature=secret-signature`;
  edgeServer = createServer(serveEdge);
  edgeUrl = await listen(edgeServer);
});

afterAll(async () => {
  for (const server of [sourceServer, edgeServer]) {
    server?.closeAllConnections();
    server?.close();
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const FAST: ImportLimits = { maxBytes: DEFAULT_IMPORT_LIMITS.maxBytes, deadlineMs: 30_000, stallTimeoutMs: 600, attempts: 3 };
let jobs = 0;
function context(extra: Partial<ImportContext> = {}, progress: number[] = []): ImportContext {
  const edge = new EdgeClient(edgeUrl, { originId: ORIGIN_ID, secret: ORIGIN_SECRET });
  return {
    workDir: path.join(tmp, `job-${++jobs}`),
    uploader: new MediaUploader(edge, 1024 * 1024),
    limits: FAST,
    allowLoopback: true,
    onProgress: (p) => progress.push(p),
    ...extra,
  };
}
const order = (videoId: string, url = sourceUrl) => ({ videoId, sourceUrl: url, grant: GRANT });

describe('video import: rules, purely', () => {
  it('takes https to public hosts, plain http only to loopback under the switch, and names what is wrong', () => {
    expect(importUrlProblem('https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature=abc', false)).toBeNull();
    expect(importUrlProblem('http://127.0.0.1:8080/v.mp4', true)).toBeNull();
    expect(importUrlProblem('http://127.0.0.1:8080/v.mp4', false)).toMatch(/only allowed in local development/);
    expect(importUrlProblem('http://example.com/v.mp4', true)).toMatch(/https/);
    expect(importUrlProblem('ftp://example.com/v.mp4', false)).toMatch(/https/);
    expect(importUrlProblem('https://user:pw@example.com/v.mp4', false)).toMatch(/credentials/);
    for (const host of ['169.254.169.254', '10.0.0.1', '[fd00:ec2::254]', '192.168.1.20', '[::ffff:10.0.0.1]']) {
      expect(importUrlProblem(`https://${host}/v.mp4`, true), host).toMatch(/cannot be imported from/);
    }
    expect(importUrlProblem('https://metadata.google.internal/v.mp4', false)).toMatch(/metadata|local/);
    expect(importUrlProblem('https://localhost/v.mp4', false)).toMatch(/local address/);
    expect(importUrlProblem('https://0x7f.1/v.mp4', false)).toMatch(/local address/);
    expect(importUrlProblem('not a url', false)).toMatch(/absolute URL/);
    expect(importUrlProblem(`https://example.com/${'a'.repeat(5000)}`, false)).toMatch(/at most 4096/);
  });

  it('judges resolved addresses, media types, the switch and the limits from the environment', () => {
    expect(resolvedAddressProblem('v.example.com', '93.184.216.34', false)).toBeNull();
    expect(resolvedAddressProblem('v.example.com', '2606:2800:220:1::1', false)).toBeNull();
    expect(resolvedAddressProblem('v.example.com', '10.1.2.3', true)).toMatch(/v\.example\.com resolves to 10\.1\.2\.3/);
    expect(resolvedAddressProblem('v.example.com', '169.254.169.254', true)).toMatch(/resolves to 169\.254\.169\.254/);
    expect(resolvedAddressProblem('v.example.com', '::ffff:127.0.0.1', true)).not.toBeNull();
    expect(resolvedAddressProblem('v.example.com', '127.0.0.1', false)).toMatch(/local address/);
    expect(resolvedAddressProblem('localhost', '127.0.0.1', true)).toBeNull();
    for (const ok of [null, '', 'video/mp4', 'VIDEO/QuickTime', 'audio/mpeg', 'application/octet-stream', 'binary/octet-stream; x=1']) expect(mediaTypeRefusal(ok), String(ok)).toBeNull();
    expect(mediaTypeRefusal('text/html; charset=utf-8')).toMatch(/text\/html, not a video file/);
    expect(mediaTypeRefusal('application/json')).toMatch(/not a video file/);
    expect(mediaTypeRefusal('application/vnd.apple.mpegurl')).toMatch(/streaming playlist/);
    expect(importLoopbackAllowed(undefined, 'http://127.0.0.1:8787')).toBe(true);
    expect(importLoopbackAllowed(undefined, 'https://edge.example.com')).toBe(false);
    expect(importLoopbackAllowed('false', 'http://127.0.0.1:8787')).toBe(false);
    expect(importLoopbackAllowed('true', 'https://edge.example.com')).toBe(true);
    expect(importLimitsFromEnv({})).toEqual(DEFAULT_IMPORT_LIMITS);
    expect(DEFAULT_IMPORT_LIMITS.maxBytes).toBe(20 * 1024 ** 3);
    expect(importLimitsFromEnv({ VIDEO_IMPORT_MAX_BYTES: '1000', VIDEO_IMPORT_STALL_SECONDS: '5', VIDEO_IMPORT_TIMEOUT_SECONDS: '60' })).toMatchObject({ maxBytes: 1000, stallTimeoutMs: 5000, deadlineMs: 60_000 });
    expect(() => importLimitsFromEnv({ VIDEO_IMPORT_MAX_BYTES: '-5' })).toThrow(/VIDEO_IMPORT_MAX_BYTES/);
  });
});

describe('video import from a loopback HTTP server', () => {
  it('resumes with Range after the connection drops mid-body, stores the source in R2 in parts, sha256 intact', async () => {
    script = ['drop'];
    asked = [];
    partsReceived = 0;
    const progress: number[] = [];
    const ctx = context({}, progress);
    const result = await importSource(order('vid_resume'), ctx);
    expect(asked[0]).toBe('bytes=0-');
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(asked[1]!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(Math.floor(source.length / 3));
    expect(asked).toHaveLength(2);
    expect(result).toMatchObject({ bytes: source.length, requests: 2, file: path.join(ctx.workDir, 'source') });
    expect(sha256(await readFile(result.file))).toBe(sha256(source));
    expect(sha256(stored.get(videoSourceKey('vid_resume'))!)).toBe(sha256(source));
    expect(partsReceived).toBe(Math.ceil(source.length / (1024 * 1024)));
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect(progress.includes(95)).toBe(true);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    console.log(JSON.stringify({ figure: 'import_resume', bytes: source.length, resumedAt, requests: result.requests, ms: result.ms }));
  });

  it('rides out 503 and 429 with backoff, and starts over when the server ignores Range', async () => {
    script = ['503', '429', 'drop', 'no-range'];
    asked = [];
    const started = Date.now();
    const result = await importSource(order('vid_busy'), context());
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // the 429's Retry-After: 1 was honoured
    expect(asked).toHaveLength(4);
    expect(asked.slice(0, 3)).toEqual(['bytes=0-', 'bytes=0-', 'bytes=0-']);
    expect(asked[3]).toMatch(/^bytes=[1-9]\d*-$/); // asked to resume, answered 200 with the whole file
    expect(result.requests).toBe(4);
    expect(retryAfterMs('1')).toBe(1000);
    expect(retryAfterMs('3600')).toBe(60_000);
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT')).toBe(0);
    expect(retryAfterMs(null)).toBe(0);
    expect(sha256(stored.get(videoSourceKey('vid_busy'))!)).toBe(sha256(source));
  });

  it('reads a body of unknown length to its end, counting it against the limit', async () => {
    script = ['chunked'];
    const ok = await importSource(order('vid_chunked'), context());
    expect(sha256(await readFile(ok.file))).toBe(sha256(source));
    script = ['chunked'];
    asked = [];
    const small = context({ limits: { ...FAST, maxBytes: 1024 * 1024 } });
    const refused = await importSource(order('vid_chunked_big'), small).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ImportFailed);
    expect(refused).toMatchObject({ permanent: true });
    expect((refused as ImportFailed).reason).toMatch(/more than 1048576 bytes/);
    expect(asked).toHaveLength(1);
    expect(existsSync(path.join(small.workDir, 'source.part'))).toBe(false);
  });

  it('fails for good on a 404, a Content-Length over the limit, or HTML, after one request and keeping nothing', async () => {
    for (const [step, reason] of [
      ['404', /answered 404: no such video/],
      ['huge', /is 53687091200 bytes, more than 21474836480 bytes \(the largest an imported video \(VIDEO_IMPORT_MAX_BYTES\) may be\)/],
      ['html', /text\/html, not a video file/],
    ] as const) {
      script = [step];
      asked = [];
      const ctx = context();
      const failure = await importSource(order(`vid_${step}`), ctx).catch((e: unknown) => e);
      expect(failure, step).toBeInstanceOf(ImportFailed);
      expect(failure, step).toMatchObject({ permanent: true });
      expect((failure as ImportFailed).reason, step).toMatch(reason);
      expect((failure as ImportFailed).reason).not.toContain('secret-signature'); // the presigned query is never told
      expect(asked, step).toHaveLength(1);
      expect(existsSync(path.join(ctx.workDir, 'source')) || existsSync(path.join(ctx.workDir, 'source.part'))).toBe(false);
      expect(stored.has(videoSourceKey(`vid_${step}`))).toBe(false);
    }
  });

  it('abandons a stalled transfer after the stall timeout and resumes it; one that always stalls fails with the reason', async () => {
    script = ['stall'];
    asked = [];
    const started = Date.now();
    const result = await importSource(order('vid_stall'), context());
    const ms = Date.now() - started;
    expect(asked).toEqual(['bytes=0-', 'bytes=100000-']);
    expect(ms).toBeGreaterThanOrEqual(FAST.stallTimeoutMs);
    expect(ms).toBeLessThan(5000);
    expect(sha256(await readFile(result.file))).toBe(sha256(source));

    script = ['silent', 'silent', 'silent'];
    asked = [];
    const failure = await importSource(order('vid_stuck'), context({ limits: { ...FAST, attempts: 2 } })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ImportFailed);
    expect(failure).toMatchObject({ permanent: false });
    expect((failure as ImportFailed).reason).toMatch(/no bytes for 0\.6 s, the transfer stalled/);
    expect(asked).toEqual(['bytes=0-', 'bytes=0-']);
    console.log(JSON.stringify({ figure: 'import_stall_resume_ms', ms, stallTimeoutMs: FAST.stallTimeoutMs }));
    script = [];
  });

  it('holds the whole import to its deadline', async () => {
    script = ['stall', 'stall', 'stall', 'stall', 'stall', 'stall'];
    const started = Date.now();
    const failure = await importSource(order('vid_late'), context({ limits: { ...FAST, deadlineMs: 1500, attempts: 10 } })).catch((e: unknown) => e);
    expect(failure).toMatchObject({ permanent: true });
    expect((failure as ImportFailed).reason).toMatch(/not finished within 2 s/);
    expect(Date.now() - started).toBeLessThan(3000);
    script = [];
  });

  it('refuses a redirect to a metadata or private address, and a name resolving to one, before connecting', async () => {
    script = ['redirect-metadata'];
    asked = [];
    const metadata = await importSource(order('vid_redirect'), context()).catch((e: unknown) => e);
    expect(metadata).toMatchObject({ permanent: true });
    expect((metadata as ImportFailed).reason).toMatch(/redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data\/, which/);
    script = ['redirect-private'];
    const privateHop = await importSource(order('vid_redirect2'), context()).catch((e: unknown) => e);
    expect((privateHop as ImportFailed).reason).toMatch(/redirected to https:\/\/10\.0\.0\.7\/video\.mp4, which .*cannot be imported from/);

    // DNS rebinding: a public name whose answer is private. The resolver gives the answer; the check and the refusal
    // happen in the connection's own lookup, so nothing is connected to.
    for (const address of ['10.1.2.3', '169.254.169.254', '127.0.0.1']) {
      const resolve = async () => [{ address: '93.184.216.34', family: 4 }, { address, family: 4 }];
      const refused = await requestImport('https://video.example.com/talk.mp4', 'bytes=0-', AbortSignal.timeout(5000), { allowLoopback: false, resolve }).catch((e: unknown) => e);
      expect(refused, address).toBeInstanceOf(PermanentDownloadError);
      expect(String(refused), address).toContain(`video.example.com resolves to ${address}`);
    }
    // The same switch that lets http reach loopback lets a name resolve there (local development).
    const url = new URL(sourceUrl);
    const local = await requestImport(`http://localhost:${url.port}/media/talk.mp4`, 'bytes=0-', AbortSignal.timeout(5000), {
      allowLoopback: true,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(local.status).toBe(200);
    await local.body?.cancel();
  });
});
