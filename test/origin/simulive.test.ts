// Simulive's origin parts: the command's validation, the FLV reader over ffmpeg's real `-f flv` output, and the source
// download against an edge stand-in at the HTTP boundary that checks the origin's signature and the media grant and
// serves byte ranges like edge/routes/internal-media.ts (ranges over the cap, a dropped connection resumed, deadline,
// retries with backoff, permanent refusals).
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimuliveCommand, SimuliveAuthorizeRequest, AuthorizeIngestRequest } from '../../shared/schemas/internal.ts';
import { FlvFormatError, FlvTagReader } from '../../origin/simulive/flv-tag-reader.ts';
import {
  DEFAULT_MAX_SOURCE_BYTES, downloadSource, MAX_RANGE_BYTES, maxSourceBytesFromEnv, nextRange, parseContentRange, PermanentDownloadError, sizeRefusal, statusVerdict,
} from '../../origin/simulive/source-download.ts';
import { contentRange, resolveByteRange } from '../../edge/byte-range.ts';
import { FlvMuxer } from '../../origin/media/flv-muxer.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../shared/media-grant.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';

const run = promisify(execFile);
const MASTER = 'simulive-master';
const ORIGIN_ID = 'simulive-origin';
const ORIGIN_SECRET = 'simulive-origin-secret-0123456789abcdef';

let tmp: string;
let source: string;
let sourceBytes: Buffer;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'simulive-'));
  source = path.join(tmp, 'source.mp4');
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', source,
  ]);
  sourceBytes = await readFile(source);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('SimuliveCommand', () => {
  const valid = { streamId: 'str_abc', ticket: 'slt_0123456789abcdef0123', source: { recordingId: 'rec_x1', key: 'recordings/rec_x1/recording.mp4' }, grant: 'g.h' };

  it('takes the contract\'s command', () => {
    expect(SimuliveCommand.parse(valid)).toEqual(valid);
  });

  it('refuses a key that is not the recording\'s own MP4, naming the field', () => {
    for (const key of ['recordings/rec_other/recording.mp4', 'live/str_abc/ses/index.m3u8', 'recordings/rec_x1/../x/recording.mp4', 'recordings/rec_x1/clip.mp4']) {
      const parsed = SimuliveCommand.safeParse({ ...valid, source: { ...valid.source, key } });
      expect(parsed.success, key).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain('source.key');
    }
  });

  it("takes a library video's own MP4, or its recording's or clip's (issue 13), and exactly one of recordingId and videoId", () => {
    for (const key of ['videos/vid_ab12/video.mp4', 'recordings/rec_ab12/recording.mp4', 'clips/clip_ab12/clip.mp4']) {
      expect(SimuliveCommand.safeParse({ ...valid, source: { videoId: 'vid_ab12', key } }).success, key).toBe(true);
    }
    for (const key of ['videos/vid_other/video.mp4', 'recordings/rec_other/recording.mp4', 'clips/clip_ab12/video.mp4', 'videos/vid_ab12/source']) {
      const parsed = SimuliveCommand.safeParse({ ...valid, source: { videoId: 'vid_ab12', key } });
      expect(parsed.success, key).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain('source.key');
    }
    const both = SimuliveCommand.safeParse({ ...valid, source: { ...valid.source, videoId: 'vid_x1' } });
    expect(both.success).toBe(false);
    expect(SimuliveCommand.safeParse({ ...valid, source: { key: valid.source.key } }).success).toBe(false);
  });

  it('refuses a short ticket, a bad stream id, a missing grant and unknown fields', () => {
    expect(SimuliveCommand.safeParse({ ...valid, ticket: 'short' }).success).toBe(false);
    expect(SimuliveCommand.safeParse({ ...valid, streamId: '../x' }).success).toBe(false);
    expect(SimuliveCommand.safeParse({ ...valid, grant: '' }).success).toBe(false);
    expect(SimuliveCommand.safeParse({ ...valid, extra: 1 }).success).toBe(false);
  });

  it('authorize: simulive goes with a ticket and no key; a key-less encoder or a ticket on rtmp is refused', () => {
    const origin = { originId: 'o1', originUrl: 'http://127.0.0.1:1' };
    expect(SimuliveAuthorizeRequest.safeParse({ protocol: 'simulive', streamId: 'str_a', simuliveTicket: valid.ticket, ...origin }).success).toBe(true);
    expect(AuthorizeIngestRequest.safeParse({ protocol: 'simulive', streamId: 'str_a', simuliveTicket: valid.ticket, ...origin }).success).toBe(true);
    expect(AuthorizeIngestRequest.safeParse({ protocol: 'simulive', streamKey: 'sk_1', ...origin }).success).toBe(false);
    expect(AuthorizeIngestRequest.safeParse({ protocol: 'rtmp', streamId: 'str_a', simuliveTicket: valid.ticket, ...origin }).success).toBe(false);
    expect(AuthorizeIngestRequest.safeParse({ protocol: 'rtmp', streamKey: 'sk_1', ...origin }).success).toBe(true);
  });
});

describe('FlvTagReader', () => {
  it('reads ffmpeg\'s FLV of an MP4 back into onMetaData, audio and video tags, in any chunking', async () => {
    const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', source, '-c', 'copy', '-f', 'flv', 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    const flv = stdout as unknown as Buffer;
    const whole = new FlvTagReader().push(flv);
    const meta = whole[0];
    expect(meta?.type).toBe('metadata');
    expect(meta && meta.type === 'metadata' && meta.properties).toMatchObject({ width: 320, height: 240, framerate: 25 });
    const video = whole.filter((t) => t.type === 'video');
    const audio = whole.filter((t) => t.type === 'audio');
    expect(video.length).toBeGreaterThanOrEqual(74); // 3 s at 25 fps, plus the sequence header
    expect(audio.length).toBeGreaterThan(100);
    const last = video.at(-1)!;
    expect(last.type === 'video' && last.timestamp).toBeGreaterThan(2800);

    // Byte by odd-sized chunks: the same tags, never more than one tag held.
    const reader = new FlvTagReader();
    const chunked = [];
    let maxHeld = 0;
    for (let at = 0; at < flv.length; at += 997) {
      chunked.push(...reader.push(flv.subarray(at, at + 997)));
      maxHeld = Math.max(maxHeld, reader.bufferedBytes);
    }
    expect(chunked).toEqual(whole);
    expect(reader.bufferedBytes).toBe(0);
    expect(maxHeld).toBeLessThan(Math.max(...whole.map((t) => (t.type === 'metadata' ? 0 : t.payload.length))) + 997 + 16);
  });

  it('round-trips what the broadcast\'s own FLV muxer writes', () => {
    const muxer = new FlvMuxer();
    const tags = [
      { type: 'metadata' as const, timestamp: 0, properties: { width: 640, height: 360 } },
      { type: 'video' as const, timestamp: 0, payload: Buffer.from([0x17, 0, 0, 0, 0, 1, 2]) },
      { type: 'audio' as const, timestamp: 2 ** 24 + 5, payload: Buffer.from([0xaf, 1, 9]) },
    ];
    const bytes = Buffer.concat(tags.map((t) => muxer.push(t)));
    expect(new FlvTagReader().push(bytes)).toEqual(tags);
  });

  it('refuses bytes that are not FLV', () => {
    expect(() => new FlvTagReader().push(Buffer.from('\x00\x00\x00\x18ftypisom\x00\x00\x02\x00', 'latin1'))).toThrow(FlvFormatError);
    const bad = Buffer.concat([new FlvMuxer().push({ type: 'audio', timestamp: 0, payload: Buffer.from([1]) })]);
    bad[13] = 0x07; // tag type 7
    expect(() => new FlvTagReader().push(bad)).toThrow(FlvFormatError);
  });
});

describe('source download', () => {
  let server: Server;
  let edgeUrl: string;
  /** what the stand-in does next, per request (then it serves the range asked) */
  let script: ('503' | 'stall' | 'truncate' | 'serve')[] = [];
  /** the Range header of every request, in order */
  let ranges: (string | undefined)[] = [];
  const objects = new Map<string, Buffer>();
  /** an object over the edge's per-response cap: a one-hour recording is far bigger, this is just over it */
  const BIG_KEY = 'recordings/rec_big/recording.mp4';
  const big = randomBytes(80 * 1024 * 1024);
  /** edge/routes/internal-media.ts MAX_MEDIA_READ_BYTES (not imported: that module is Workers code) */
  const MAX_MEDIA_READ_BYTES = 64 * 1024 * 1024;
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  beforeAll(async () => {
    objects.set('recordings/rec_a/recording.mp4', sourceBytes);
    objects.set(BIG_KEY, big);
    // The edge's GET /internal/media at the HTTP boundary: signature, grant, then one range (edge/byte-range.ts, the
    // edge's own rules), a range or a whole object over MAX_MEDIA_READ_BYTES refused with 413.
    server = createServer((req, res) => {
      void (async () => {
        const url = req.url ?? '';
        ranges.push(req.headers.range);
        const signature = await verifyRequest(ORIGIN_SECRET, 'GET', url, '', { get: (name) => (req.headers[name.toLowerCase()] as string | undefined) ?? null });
        if (!signature.ok || req.headers[ORIGIN_ID_HEADER] !== ORIGIN_ID) return void res.writeHead(401).end('bad signature');
        const key = decodeURIComponent(url.replace(/^\/internal\/media\//, ''));
        const grant = await verifyMediaGrant(MASTER, req.headers[MEDIA_GRANT_HEADER] as string | undefined, ORIGIN_ID, key, Date.now());
        if (!grant.ok) return void res.writeHead(403).end(grant.reason);
        const step = script.shift();
        if (step === '503') return void res.writeHead(503).end('busy');
        const body = objects.get(key);
        if (!body) return void res.writeHead(404).end('no object');
        const decision = resolveByteRange(req.headers.range, body.length);
        if (decision.kind === 'unsatisfiable') return void res.writeHead(416, { 'content-range': contentRange(decision, body.length)! }).end();
        const [offset, length] = decision.kind === 'partial' ? [decision.offset, decision.length] : [0, body.length];
        if (length > MAX_MEDIA_READ_BYTES) return void res.writeHead(413).end(`${body.length} bytes: ask in ranges`);
        const piece = body.subarray(offset, offset + length);
        res.writeHead(decision.kind === 'partial' ? 206 : 200, {
          'content-length': String(length), 'content-type': 'video/mp4', etag: '"v1"',
          ...(decision.kind === 'partial' ? { 'content-range': contentRange(decision, body.length)! } : {}),
        });
        if (step === 'stall') return void res.write(piece.subarray(0, 1000)); // never ends
        // The connection drops a third into the range, once the reader has had time to take those bytes (a close right
        // behind them may reach the reader first, and then it keeps fewer).
        if (step === 'truncate') return void res.write(piece.subarray(0, Math.floor(piece.length / 3)), () => setTimeout(() => res.destroy(), 300));
        res.end(piece);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const grantFor = (prefix: string) => issueMediaGrant(MASTER, { originId: ORIGIN_ID, prefixes: [prefix], expiresAt: Date.now() + 60_000 });
  const options = async (file: string, extra: Partial<Parameters<typeof downloadSource>[0]> = {}) => ({
    edgeUrl,
    credentials: { originId: ORIGIN_ID, secret: ORIGIN_SECRET },
    key: 'recordings/rec_a/recording.mp4',
    grant: await grantFor('recordings/rec_a/'),
    file,
    attempts: 3,
    ...extra,
  });

  it('decides by status, size and Content-Range, purely', () => {
    expect(statusVerdict(200)).toBe('ok');
    expect(statusVerdict(206)).toBe('ok');
    for (const s of [408, 429, 500, 502, 503]) expect(statusVerdict(s)).toBe('retry');
    for (const s of [400, 401, 403, 404, 413, 416]) expect(statusVerdict(s)).toBe('permanent');
    expect(sizeRefusal(10, 10)).toBeNull();
    expect(sizeRefusal(11, 10)).toMatch(/more than 10 bytes/);
    expect(parseContentRange('bytes 0-99/1000')).toEqual({ first: 0, last: 99, size: 1000 });
    for (const bad of [null, 'bytes */1000', 'bytes 5-4/1000', 'bytes 0-1000/1000', 'items 0-1/2']) expect(parseContentRange(bad), String(bad)).toBeNull();
    expect(nextRange(0, null, 100)).toBe('bytes=0-99');
    expect(nextRange(900, 950, 100)).toBe('bytes=900-949');
    expect(maxSourceBytesFromEnv({})).toBe(DEFAULT_MAX_SOURCE_BYTES);
    expect(DEFAULT_MAX_SOURCE_BYTES).toBe(20 * 1024 ** 3);
    expect(maxSourceBytesFromEnv({ SIMULIVE_MAX_SOURCE_BYTES: '1000' })).toBe(1000);
    expect(() => maxSourceBytesFromEnv({ SIMULIVE_MAX_SOURCE_BYTES: '-1' })).toThrow(/SIMULIVE_MAX_SOURCE_BYTES/);
  });

  it('reads an object over the per-response cap in 32 MiB ranges, resuming a range whose connection dropped from the bytes on disk', async () => {
    const file = path.join(tmp, 'big.mp4');
    const R = 32 * 1024 * 1024;
    script = ['serve', 'truncate']; // the second range's connection drops a third of the way in
    ranges = [];
    const result = await downloadSource(await options(file, { key: BIG_KEY, grant: await grantFor('recordings/rec_big/') }));
    expect(MAX_RANGE_BYTES).toBe(R);
    expect(result).toEqual({ bytes: big.length, attempts: 4 });
    // The third request asks from the bytes the cut range left on disk (more than none, at most the third sent), R long.
    const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[2]!)![1]);
    expect(resumedAt).toBeGreaterThan(R);
    expect(resumedAt).toBeLessThanOrEqual(R + Math.floor(R / 3));
    expect(ranges).toEqual([`bytes=0-${R - 1}`, `bytes=${R}-${2 * R - 1}`, `bytes=${resumedAt}-${resumedAt + R - 1}`, `bytes=${resumedAt + R}-${big.length - 1}`]);
    expect(sha256(await readFile(file))).toBe(sha256(big));
    expect(existsSync(`${file}.part`)).toBe(false);
    await rm(file);
  });

  it('retries a busy edge and a cut range with backoff, in small ranges too', async () => {
    const file = path.join(tmp, 'a.mp4');
    script = ['503', 'truncate'];
    ranges = [];
    const rangeBytes = 64 * 1024;
    const result = await downloadSource(await options(file, { rangeBytes }));
    const pieces = Math.ceil(sourceBytes.length / rangeBytes);
    expect(result).toEqual({ bytes: sourceBytes.length, attempts: pieces + 2 });
    expect(ranges[0]).toBe(`bytes=0-${rangeBytes - 1}`);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[2]!)![1]); // resumed where the cut left the file
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(Math.floor(rangeBytes / 3));
    expect(ranges[2]).toBe(`bytes=${resumedAt}-${resumedAt + rangeBytes - 1}`);
    expect(ranges.at(-1)).toMatch(new RegExp(`-${sourceBytes.length - 1}$`));
    expect((await readFile(file)).equals(sourceBytes)).toBe(true);
    expect(existsSync(`${file}.part`)).toBe(false);
  });

  it('gives up at once on a refusal that will not change: no grant, no object, over the bound or the disk, before keeping a byte', async () => {
    const file = path.join(tmp, 'b.mp4');
    script = [];
    ranges = [];
    await expect(downloadSource(await options(file, { grant: await grantFor('recordings/rec_other/') }))).rejects.toBeInstanceOf(PermanentDownloadError);
    await expect(downloadSource(await options(file, { key: 'recordings/rec_none/recording.mp4', grant: await grantFor('recordings/rec_none/') }))).rejects.toThrow(/404/);
    await expect(downloadSource(await options(file, { maxBytes: 1000 }))).rejects.toThrow(new RegExp(`is ${sourceBytes.length} bytes, more than 1000 bytes`));
    await expect(downloadSource(await options(file, { reserveBytes: 2 ** 60 }))).rejects.toThrow(/origin disk too full for the source/);
    expect(ranges).toHaveLength(4);
    expect(existsSync(file) || existsSync(`${file}.part`)).toBe(false);
  });

  it('holds each range to its deadline: a stalled body is abandoned and resumed', async () => {
    const file = path.join(tmp, 'c.mp4');
    script = ['stall'];
    ranges = [];
    const started = Date.now();
    const result = await downloadSource(await options(file, { attemptTimeoutMs: 800 }));
    expect(result.attempts).toBe(2);
    expect(ranges[1]).toMatch(/^bytes=1000-/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stat(file)).size).toBe(sourceBytes.length);
  });

  it('gives up after as many failed tries of one range as it is allowed', async () => {
    const file = path.join(tmp, 'e.mp4');
    script = ['503', '503', '503'];
    ranges = [];
    await expect(downloadSource(await options(file))).rejects.toThrow(/503/);
    expect(ranges).toHaveLength(3);
    expect(existsSync(`${file}.part`)).toBe(false);
    script = [];
  });

  it('stops when its broadcast is stopped meanwhile', async () => {
    const file = path.join(tmp, 'd.mp4');
    script = ['stall', 'stall', 'stall'];
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    await expect(downloadSource(await options(file, { signal: abort.signal, attemptTimeoutMs: 20_000 }))).rejects.toThrow();
    expect(existsSync(`${file}.part`)).toBe(false);
    script = [];
  });
});
