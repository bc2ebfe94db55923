// Live transcodes with real ffmpeg through the piscina pool: the ladder on disk, aligned keyframes, a
// copied source, resume with one DISCONTINUITY, ENDLIST at the end, restarts, refusals and drops.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseLadder } from '../../../origin/pipeline/ladder.ts';
import type { Rendition } from '../../../origin/pipeline/ladder.ts';
import { endSession, FlvResync, LiveTranscode, restartAfterCrash } from '../../../origin/pipeline/live-transcode.ts';
import type { LiveTranscodeEvent, LiveTranscodeResult } from '../../../origin/pipeline/live-transcode.ts';
import { parseMasterPlaylist, parseMediaPlaylist, validateMasterPlaylist } from '../../../origin/pipeline/playlists.ts';
import type { MediaPlaylist } from '../../../origin/pipeline/playlists.ts';
import { TranscodePool } from '../../../origin/pipeline/transcode-pool.ts';
import type { PooledTranscode } from '../../../origin/pipeline/transcode-pool.ts';

const run = promisify(execFile);
const ffprobeJson = async (args: string[]): Promise<Record<string, unknown>> => JSON.parse((await run('ffprobe', ['-v', 'error', '-of', 'json', ...args])).stdout) as Record<string, unknown>;

let tmp: string;
let input720: Buffer;
let input360: Buffer;
let silent360: Buffer;
let long360: Buffer;
let pool: TranscodePool;

/** An FLV as an RTMP encoder would send it: 30 fps H.264 with a 2 s GOP, AAC audio. */
async function makeFlv(file: string, size: string, seconds: number, audio = true): Promise<Buffer> {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`];
  if (audio) args.push('-f', 'lavfi', '-i', 'sine', '-c:a', 'aac');
  args.push('-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-t', String(seconds), '-f', 'flv', file);
  await run('ffmpeg', args);
  return readFile(file);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'live-transcode-'));
  [input720, input360, silent360, long360] = await Promise.all([
    makeFlv(path.join(tmp, 'in720.flv'), '1280x720', 8),
    makeFlv(path.join(tmp, 'in360.flv'), '640x360', 10),
    makeFlv(path.join(tmp, 'silent.flv'), '640x360', 8, false),
    makeFlv(path.join(tmp, 'long360.flv'), '640x360', 36),
  ]);
  pool = new TranscodePool({ capacity: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pushes the bytes in chunks; with `speed`, paced at that multiple of real time (input of `seconds`). */
async function feed(push: (c: Uint8Array) => boolean, bytes: Buffer, o: { seconds?: number; speed?: number; chunk?: number } = {}): Promise<void> {
  const chunk = o.chunk ?? 64 * 1024;
  const pause = o.speed && o.seconds ? (o.seconds * 1000 * chunk) / bytes.length / o.speed : 0;
  for (let i = 0; i < bytes.length; i += chunk) {
    if (!push(bytes.subarray(i, i + chunk))) return;
    if (pause) await sleep(pause);
  }
}

function startOrFail(job: Parameters<TranscodePool['tryStart']>[0], events: LiveTranscodeEvent[]): PooledTranscode {
  const r = pool.tryStart(job, (e) => events.push(e));
  if (!r.ok) throw new Error(`refused: ${r.message}`);
  return r.transcode;
}

async function playlists(dir: string, ladder: readonly Rendition[]): Promise<Record<string, MediaPlaylist>> {
  const out: Record<string, MediaPlaylist> = {};
  for (const r of ladder) out[r.name] = parseMediaPlaylist(await readFile(path.join(dir, r.name, 'index.m3u8'), 'utf8'));
  return out;
}

async function firstVideoPacketIsKey(file: string): Promise<boolean> {
  const j = (await ffprobeJson(['-select_streams', 'v', '-read_intervals', '%+#1', '-show_entries', 'packet=flags', file])) as { packets?: { flags: string }[] };
  return j.packets?.[0]?.flags.startsWith('K') ?? false;
}

/** The raw H.264 bitstream (Annex B) of a file's video, copied. */
async function annexB(file: string): Promise<Buffer> {
  const { stdout } = await promisify(execFile)('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', '-'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/**
 * The ABR runs get the whole input at once, so after end() ffmpeg still has the 8 s of 720p to encode twice: a few
 * seconds here, more on a loaded machine. LiveTranscode's default drain deadline (20 s) would then SIGINT it mid-way and
 * these tests would count a cut-short run; the deadline is not what they test, so it is past the hook's own timeout.
 */
const ABR_DRAIN_MS = 110_000;
const ABR_HOOK_TIMEOUT_MS = 120_000;

describe('live ABR transcode through the pool', () => {
  const ladder = chooseLadder({ width: 1280, height: 720, fps: 30 });
  let out: string;
  let first: LiveTranscodeResult;
  let firstPlaylists: Record<string, MediaPlaylist>;
  const events: LiveTranscodeEvent[] = [];

  beforeAll(async () => {
    out = path.join(tmp, 'abr');
    const t = startOrFail({ input: 'flv', outDir: out, renditions: ladder, pollIntervalMs: 200, drainTimeoutMs: ABR_DRAIN_MS }, events);
    // Capacity 1 and a stream running: the next publish is refused, not queued.
    const refused = pool.tryStart({ input: 'flv', outDir: path.join(tmp, 'other'), renditions: ladder });
    expect(refused).toMatchObject({ ok: false, reason: 'capacity', capacity: 1, running: 1 });
    await feed((c) => t.push(c), input720);
    t.end();
    first = await t.done;
    firstPlaylists = await playlists(out, ladder);
  }, ABR_HOOK_TIMEOUT_MS);

  it('ends cleanly when the input ends, with progress as timemarks', () => {
    expect(ladder.map((r) => r.name)).toEqual(['source', '480p', '360p']);
    expect(first).toMatchObject({ reason: 'input-ended', exitCode: 0, restarts: 0, issues: [] });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.type === 'progress' && /^\d{2}:\d{2}:\d{2}\.\d{2}$/.test(p.timemark))).toBe(true);
    expect(pool.running).toBe(0);
  });

  it('writes a master with BANDWIDTH, RESOLUTION and CODECS for every rendition', async () => {
    const text = await readFile(path.join(out, 'master.m3u8'), 'utf8');
    expect(validateMasterPlaylist(text)).toEqual([]);
    const variants = parseMasterPlaylist(text);
    expect(variants.map((v) => [v.uri, `${v.width}x${v.height}`])).toEqual([
      ['source/index.m3u8', '1280x720'],
      ['480p/index.m3u8', '854x480'],
      ['360p/index.m3u8', '640x360'],
    ]);
    // The copied source keeps the encoder's High@3.1; the rungs are what x264 wrote at veryfast.
    expect(variants.map((v) => v.codecs.join(','))).toEqual(['avc1.64001f,mp4a.40.2', 'avc1.4d401f,mp4a.40.2', 'avc1.4d401e,mp4a.40.2']);
    for (const v of variants) expect(v.bandwidth).toBeGreaterThan(100_000);
  });

  it('cuts ~2 s segments, the same number in every rendition, with no ENDLIST while the session may resume', () => {
    const counts = ladder.map((r) => firstPlaylists[r.name]!.segments.length);
    expect(counts[0]).toBe(4);
    expect(new Set(counts).size).toBe(1);
    for (const r of ladder) {
      const pl = firstPlaylists[r.name]!;
      expect(pl.targetDuration).toBeLessThanOrEqual(2);
      expect(pl.playlistType).toBe('EVENT');
      expect(pl.endList).toBe(false);
      expect(pl.segments.every((s) => s.duration > 1.9 && s.duration <= 2.5)).toBe(true);
      expect(pl.segments.some((s) => s.discontinuity)).toBe(false);
    }
  });

  it('starts every segment of every rendition with a keyframe', async () => {
    const checks = ladder.flatMap((r) => firstPlaylists[r.name]!.segments.map((s) => firstVideoPacketIsKey(path.join(out, r.name, s.uri))));
    expect(await Promise.all(checks)).toEqual(checks.map(() => true));
  });

  it('passes the source through without re-encoding it', async () => {
    const params = async (f: string): Promise<unknown> =>
      ((await ffprobeJson(['-select_streams', 'v', '-show_entries', 'stream=codec_name,profile,level,width,height,pix_fmt,has_b_frames', f])) as { streams: unknown[] }).streams[0];
    const seg = path.join(out, 'source', firstPlaylists.source!.segments[1]!.uri);
    expect(await params(seg)).toEqual(await params(path.join(tmp, 'in720.flv')));
    // Bit for bit: a stretch of the copied segment's bitstream is found in the encoder's own.
    const [src, copy, rung] = await Promise.all([annexB(path.join(tmp, 'in720.flv')), annexB(seg), annexB(path.join(out, '480p', firstPlaylists['480p']!.segments[1]!.uri))]);
    expect(src.includes(copy.subarray(copy.length / 2, copy.length / 2 + 4096))).toBe(true);
    expect(src.includes(rung.subarray(rung.length / 2, rung.length / 2 + 4096))).toBe(false);
  });

  it('counts segments, durations and bytes for the session stats', async () => {
    const s = first.stats;
    expect(s.sourceSegments).toBe(4);
    expect(s.transcodedSegments).toBe(8);
    expect(s.sourceSegmentsDuration).toBeGreaterThan(7.5);
    expect(s.transcodedSegmentsDuration).toBeGreaterThan(15);
    expect(s.inputBytes).toBe(input720.length);
    const sizes = await Promise.all(ladder.map(async (r) => (await readdir(path.join(out, r.name))).filter((f) => f.endsWith('.ts')).length));
    expect(sizes).toEqual([4, 4, 4]);
    expect(s.renditions.source?.bytes).toBe(s.sourceBytes);
    expect(s.transcodedBytes).toBe((s.renditions['480p']?.bytes ?? 0) + (s.renditions['360p']?.bytes ?? 0));
    // The segment events seen on the main thread add up to the same counters, all delivered before `done`.
    expect(events.filter((e) => e.type === 'segment')).toHaveLength(12);
    // The leg's anchor comes once, before its first segment event.
    const anchors = events.flatMap((e, i) => (e.type === 'leg_anchor' ? [i] : []));
    expect(anchors).toHaveLength(1);
    expect(anchors[0]).toBe(events.findIndex((e) => e.type === 'segment') - 1);
  });

  describe('after the encoder reconnects', () => {
    let resumed: Record<string, MediaPlaylist>;
    let second: LiveTranscodeResult;
    const secondEvents: LiveTranscodeEvent[] = [];

    beforeAll(async () => {
      // A different ladder is asked for: the session keeps the one it started with.
      const t = startOrFail({ input: 'flv', outDir: out, renditions: chooseLadder({ width: 1280, height: 720, fps: 30 }, { maxResolution: '480p' }), resume: true, drainTimeoutMs: ABR_DRAIN_MS }, secondEvents);
      await feed((c) => t.push(c), input720);
      t.end();
      second = await t.done;
      resumed = await playlists(out, ladder);
    }, ABR_HOOK_TIMEOUT_MS);

    it('continues every playlist after exactly one DISCONTINUITY, without reusing a name', () => {
      expect(second).toMatchObject({ reason: 'input-ended', exitCode: 0 });
      // Every segment the resumed run counted reached the main thread before its `done`.
      expect(secondEvents.filter((e) => e.type === 'segment')).toHaveLength(second.stats.sourceSegments + second.stats.transcodedSegments);
      for (const r of ladder) {
        const before = firstPlaylists[r.name]!;
        const after = resumed[r.name]!;
        expect(after.mediaSequence).toBe(before.mediaSequence);
        expect(after.segments.slice(0, before.segments.length)).toEqual(before.segments);
        expect(after.segments.length).toBe(before.segments.length * 2);
        expect(after.segments.filter((s) => s.discontinuity).map((s) => s.sequence)).toEqual([before.segments.length]);
        expect(after.segments.map((s) => s.sequence)).toEqual(after.segments.map((_, i) => i));
        expect(new Set(after.segments.map((s) => s.uri)).size).toBe(after.segments.length);
        // Each launch names its segments {legTag}-{sequence}: the resumed run under a tag of its own.
        const legs = after.segments.map((s) => /^([0-9a-f]{6})-(\d{5})\.ts$/.exec(s.uri));
        expect(legs.every((m, i) => m !== null && Number(m[2]) === i)).toBe(true);
        expect(new Set(legs.slice(0, before.segments.length).map((m) => m![1])).size).toBe(1);
        expect(legs[before.segments.length]![1]).not.toBe(legs[0]![1]);
        expect(after.endList).toBe(false);
      }
    });

    it('keeps a valid master over the same renditions', async () => {
      const text = await readFile(path.join(out, 'master.m3u8'), 'utf8');
      expect(validateMasterPlaylist(text)).toEqual([]);
      expect(parseMasterPlaylist(text).map((v) => v.uri)).toEqual(['source/index.m3u8', '480p/index.m3u8', '360p/index.m3u8']);
    });

    it('ends the session with ENDLIST on every playlist, once', async () => {
      expect((await endSession(out)).map((f) => path.relative(out, f)).sort()).toEqual(['360p/index.m3u8', '480p/index.m3u8', 'source/index.m3u8']);
      for (const r of ladder) {
        const text = await readFile(path.join(out, r.name, 'index.m3u8'), 'utf8');
        expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
        expect(parseMediaPlaylist(text).segments).toHaveLength(8);
      }
      expect(await endSession(out)).toEqual([]);
    });
  });
});

describe('failures while live', () => {
  const copyOnly = chooseLadder({ width: 640, height: 360, fps: 30 });

  it('restarts a crashed ffmpeg on the same playlists, then stops on stop()', async () => {
    const out = path.join(tmp, 'crash');
    const events: LiveTranscodeEvent[] = [];
    let killed = false;
    const t = startOrFail({ input: 'flv', outDir: out, renditions: copyOnly, pollIntervalMs: 100 }, events);
    const feeding = feed(
      (c) => {
        const e = events.find((x) => x.type === 'started');
        if (!killed && e?.type === 'started' && events.some((x) => x.type === 'segment') && e.pid) {
          killed = true;
          process.kill(e.pid, 'SIGKILL');
        }
        return t.push(c);
      },
      input360,
      { seconds: 10, speed: 3 },
    );
    await feeding;
    await sleep(300);
    t.stop();
    const result = await t.done;
    expect(killed).toBe(true);
    expect(result.reason).toBe('stopped');
    expect(result.restarts).toBe(1);
    expect(result.issues.map((i) => i.code)).toEqual(['ffmpeg-restarted']);
    expect(events.filter((e) => e.type === 'started').map((e) => e.type === 'started' && e.attempt)).toEqual([1, 2]);
    const pl = parseMediaPlaylist(await readFile(path.join(out, 'source', 'index.m3u8'), 'utf8'));
    expect(pl.endList).toBe(false);
    const joins = pl.segments.filter((s) => s.discontinuity);
    expect(joins).toHaveLength(1);
    expect(joins[0]!.sequence).toBeGreaterThan(0);
    expect(pl.segments.length).toBeGreaterThan(joins[0]!.sequence);
    // The restarted ffmpeg began at a keyframe.
    expect(await firstVideoPacketIsKey(path.join(out, 'source', joins[0]!.uri))).toBe(true);
  });

  it('survives ffmpeg being killed four times in a row, restarting with backoff, and the stream goes on', async () => {
    const out = path.join(tmp, 'crash4');
    const events: LiveTranscodeEvent[] = [];
    const kills: number[] = [];
    const t = startOrFail({ input: 'flv', outDir: out, renditions: copyOnly, pollIntervalMs: 100 }, events);
    // Kill each ffmpeg once it has written a segment of its own, four times.
    let segmentsAtStart = 0;
    let current: number | undefined;
    await feed(
      (c) => {
        const started = events.filter((x) => x.type === 'started');
        const last = started[started.length - 1];
        const segments = events.filter((x) => x.type === 'segment').length;
        if (last?.type === 'started' && last.pid && last.pid !== current) {
          current = last.pid;
          segmentsAtStart = segments;
        }
        if (kills.length < 4 && current && !kills.includes(current) && segments > segmentsAtStart) {
          kills.push(current);
          process.kill(current, 'SIGKILL');
        }
        return t.push(c);
      },
      long360,
      { seconds: 36, speed: 2 },
    );
    t.end();
    const result = await t.done;
    expect(kills).toHaveLength(4);
    expect(result.reason).toBe('input-ended');
    expect(result.restarts).toBe(4);
    expect(result.issues.map((i) => i.code)).toEqual(['ffmpeg-restarted', 'ffmpeg-restarted', 'ffmpeg-restarted', 'ffmpeg-restarted']);
    // Backoff: each restart waited longer than the one before.
    const waits = result.issues.map((i) => Number(/after (\d+) ms/.exec(i.message)?.[1]));
    expect(waits[3]!).toBeGreaterThan(waits[0]!);
    expect(events.filter((e) => e.type === 'started').map((e) => e.type === 'started' && e.attempt)).toEqual([1, 2, 3, 4, 5]);
    const pl = parseMediaPlaylist(await readFile(path.join(out, 'source', 'index.m3u8'), 'utf8'));
    expect(pl.segments.filter((s) => s.discontinuity)).toHaveLength(4);
    // The last ffmpeg carried the stream on: segments after the last join.
    const lastJoin = pl.segments.filter((s) => s.discontinuity).pop()!;
    expect(pl.segments[pl.segments.length - 1]!.sequence).toBeGreaterThan(lastJoin.sequence);
  }, 90_000);

  it('rides out a brief stall: the backlog is dropped, a new ffmpeg picks the stream up, and it goes on', async () => {
    const out = path.join(tmp, 'stall');
    const events: LiveTranscodeEvent[] = [];
    const t = new LiveTranscode({ input: 'flv', outDir: out, renditions: copyOnly, maxBacklogBytes: 512 * 1024, pollIntervalMs: 100 }, (e) => events.push(e));
    const started = t.start();
    let stalled: number | undefined;
    await feed(
      (c) => {
        const first = events.find((e) => e.type === 'started');
        // ffmpeg stops reading for a while (SIGSTOP) once it has written a segment: its input piles up.
        if (!stalled && first?.type === 'started' && first.pid && events.some((e) => e.type === 'segment')) {
          stalled = first.pid;
          process.kill(first.pid, 'SIGSTOP');
        }
        return t.write(c);
      },
      long360.subarray(0, Math.floor(long360.length / 2)),
      { seconds: 18, speed: 3 },
    );
    await started;
    t.end();
    const result = await t.done;
    expect(stalled).toBeDefined();
    expect(result.reason).toBe('input-ended');
    expect(result.issues.map((i) => i.code)).toEqual(['input-backlog']);
    expect(result.issues[0]!.message).toMatch(/backlog was dropped and ffmpeg restarted/);
    expect(result.restarts).toBe(1);
    const pl = parseMediaPlaylist(await readFile(path.join(out, 'source', 'index.m3u8'), 'utf8'));
    const join = pl.segments.find((s) => s.discontinuity);
    expect(join).toBeDefined();
    expect(pl.segments[pl.segments.length - 1]!.sequence).toBeGreaterThan(join!.sequence);
  }, 60_000);

  it('budgets crashes per window, not per broadcast, with growing waits', () => {
    const budget = { maxCrashesPerWindow: 3, windowMs: 60_000, firstDelayMs: 250, maxDelayMs: 8000 };
    const at = (...seconds: number[]) => seconds.map((x) => x * 1000);
    const first = restartAfterCrash(at(0), 0, budget);
    expect(first).toMatchObject({ restart: true, recent: 1 });
    const third = restartAfterCrash(at(0, 5, 10), 10_000, budget);
    expect(third.restart && third.delayMs).toBeGreaterThan(first.restart ? first.delayMs : 0);
    expect(restartAfterCrash(at(0, 5, 10, 15), 15_000, budget)).toEqual({ restart: false, recent: 4 });
    // The same four crashes spread over hours are each the only one in their window.
    expect(restartAfterCrash(at(0, 3600, 7200, 10800), 10_800_000, budget)).toMatchObject({ restart: true, recent: 1 });
    const capped = restartAfterCrash(at(...Array.from({ length: 40 }, (_, i) => i)), 39_000, { ...budget, maxCrashesPerWindow: 100 });
    expect(capped.restart && capped.delayMs).toBeLessThanOrEqual(8000 * 1.2);
  });

  it('falls back to video only when the source has no audio', async () => {
    const out = path.join(tmp, 'silent');
    const events: LiveTranscodeEvent[] = [];
    const t = startOrFail({ input: 'flv', outDir: out, renditions: copyOnly, pollIntervalMs: 100 }, events);
    await feed((c) => t.push(c), silent360, { seconds: 8, speed: 4 });
    t.end();
    const result = await t.done;
    expect(result.reason).toBe('input-ended');
    expect(result.issues.map((i) => i.code)).toEqual(['no-audio']);
    const variants = parseMasterPlaylist(await readFile(path.join(out, 'master.m3u8'), 'utf8'));
    expect(variants[0]?.codecs).toEqual(['avc1.64001e']);
    expect(result.stats.sourceSegments).toBeGreaterThan(0);
  });

  it('drops the stream instead of buffering when ffmpeg falls behind', async () => {
    const out = path.join(tmp, 'backlog');
    const events: LiveTranscodeEvent[] = [];
    const t = new LiveTranscode({ input: 'flv', outDir: out, renditions: copyOnly, maxBacklogBytes: 256 * 1024 }, (e) => events.push(e));
    const started = t.start();
    // Before ffmpeg has read anything, more than the backlog arrives at once.
    let accepted = 0;
    for (let i = 0; i < input360.length; i += 64 * 1024) {
      if (!t.write(input360.subarray(i, i + 64 * 1024))) break;
      accepted++;
    }
    await started;
    const result = await t.done;
    expect(accepted).toBeLessThan(Math.ceil(input360.length / (64 * 1024)));
    expect(result.reason).toBe('backlog');
    expect(result.issues.map((i) => i.code)).toEqual(['input-backlog']);
    expect(t.write(new Uint8Array(10))).toBe(false);
  });

  it('reports a source keyframe interval longer than the segment', async () => {
    const out = path.join(tmp, 'longgop');
    const file = path.join(tmp, 'longgop.flv');
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine', '-c:a', 'aac', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '150', '-t', '10', '-f', 'flv', file]);
    const t = startOrFail({ input: 'flv', outDir: out, renditions: chooseLadder({ width: 320, height: 180, fps: 30 }) }, []);
    await feed((c) => t.push(c), await readFile(file));
    t.end();
    const result = await t.done;
    expect(result.issues.map((i) => i.code)).toEqual(['keyframe-interval-too-long']);
    expect(result.issues[0]?.message).toMatch(/every 5\.0 s/);
  });
});

/** FLV tags of a byte stream that starts at a tag boundary: [type, first data byte, second data byte]. */
function flvTags(bytes: Uint8Array): [number, number, number][] {
  const tags: [number, number, number][] = [];
  for (let o = 0; o < bytes.length; ) {
    const size = (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
    expect(o + 11 + size + 4).toBeLessThanOrEqual(bytes.length);
    // PreviousTagSize closes every tag: a wrong boundary would not line up with it.
    expect(new DataView(bytes.buffer, bytes.byteOffset + o + 11 + size, 4).getUint32(0)).toBe(11 + size);
    tags.push([bytes[o]! & 0x1f, bytes[o + 11]!, bytes[o + 12]!]);
    o += 11 + size + 4;
  }
  return tags;
}

const join = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

describe('FlvResync', () => {
  it('passes bytes through untouched until a restart', () => {
    const r = new FlvResync();
    const out = join([input360.subarray(0, 5), input360.subarray(5, 1000), input360.subarray(1000)].flatMap((c) => r.push(c)));
    expect(Buffer.from(out).equals(input360)).toBe(true);
  });

  it('after replay, gives header and codec configs, then whole tags from a video keyframe on', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 60 }).filter((a) => a.reduce((x, y) => x + y, 0) > 2000), fc.integer({ min: 13, max: Math.floor(input360.length / 2) }), (sizes, cutAt) => {
        const r = new FlvResync();
        let o = 0;
        let i = 0;
        while (o < cutAt) {
          const n = Math.min(sizes[i++ % sizes.length]!, cutAt - o);
          r.push(input360.subarray(o, o + n));
          o += n;
        }
        const parts = r.replay();
        while (o < input360.length) {
          const n = sizes[i++ % sizes.length]!;
          parts.push(...r.push(input360.subarray(o, o + n)));
          o += n;
        }
        const stream = join(parts);
        expect(Buffer.from(stream.subarray(0, 3)).toString('latin1')).toBe('FLV');
        const tags = flvTags(stream.subarray(13));
        const isConfig = ([t, d0, d1]: [number, number, number]): boolean => t === 18 || (t === 9 && d0 === 0x17 && d1 === 0) || (t === 8 && d0 >> 4 === 10 && d1 === 0);
        const firstMedia = tags.findIndex((t) => !isConfig(t));
        expect(firstMedia).toBeGreaterThan(0);
        // Whatever the cut, the new ffmpeg sees both codec configurations before any media...
        expect(tags.slice(0, firstMedia).filter(([t]) => t !== 18).map(([t]) => t).sort()).toEqual([8, 9]);
        // ...and media starts with a video keyframe (frame type 1, AVC NALU).
        expect(tags[firstMedia]).toEqual([9, 0x17, 1]);
      }),
      { numRuns: 40 },
    );
  });

  it('gives up on bytes that are not FLV, and replays nothing then', () => {
    const r = new FlvResync();
    const junk = new Uint8Array(100).fill(0x41);
    expect(r.push(junk)).toEqual([junk]);
    expect(r.replay()).toEqual([]);
  });
});
