// The low-latency transcode (latencyMode 'low') with real ffmpeg through the piscina pool: fMP4 per rendition through
// pipes, cut into ~0.2 s parts and 2 s segments, renditions aligned part for part, init/segments/EVENT playlist on disk
// (ffprobe plays it), the ll_* messages before the usual segment events, and a resume that opens a new leg.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../origin/config.ts';
import { buildLowLatencyCommand } from '../../origin/llhls/llhls-command.ts';
import { EventPlaylist, type LowLatencyEvent } from '../../origin/llhls/low-latency-run.ts';
import { chooseLadder } from '../../origin/pipeline/ladder.ts';
import type { LiveTranscodeEvent, LiveTranscodeResult } from '../../origin/pipeline/live-transcode.ts';
import { appendEndList, parseMasterPlaylist, parseMediaPlaylist, validateMasterPlaylist } from '../../origin/pipeline/playlists.ts';
import type { MediaPlaylist } from '../../origin/pipeline/playlists.ts';
import { TranscodePool } from '../../origin/pipeline/transcode-pool.ts';

const run = promisify(execFile);
const ladder = chooseLadder({ width: 1280, height: 720, fps: 30 });
const SECONDS = 8;
const PART = 0.2;

let tmp: string;
let input: Buffer;
let pool: TranscodePool;

/** An FLV as an RTMP encoder set up for low latency sends it: 720p30 H.264 with a keyframe every second, AAC. */
async function makeFlv(file: string): Promise<Buffer> {
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-c:a', 'aac',
    '-t', String(SECONDS), '-f', 'flv', file,
  ]);
  return readFile(file);
}

async function feed(push: (c: Uint8Array) => boolean, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length; i += 64 * 1024) if (!push(bytes.subarray(i, i + 64 * 1024))) return;
}

async function transcode(outDir: string, resume: boolean, events: LiveTranscodeEvent[], latencyMode: 'standard' | 'low' = 'low'): Promise<LiveTranscodeResult> {
  const r = pool.tryStart({ input: 'flv', outDir, renditions: ladder, resume, latencyMode, partSeconds: PART, pollIntervalMs: 200 }, (e) => events.push(e));
  if (!r.ok) throw new Error(`refused: ${r.message}`);
  await feed((c) => r.transcode.push(c), input);
  r.transcode.end();
  return r.transcode.done;
}

const ll = <T extends LowLatencyEvent['type']>(events: LiveTranscodeEvent[], type: T): Extract<LowLatencyEvent, { type: T }>[] =>
  events.filter((e): e is Extract<LowLatencyEvent, { type: T }> => e.type === type);

async function playlist(dir: string, rendition: string): Promise<{ text: string; pl: MediaPlaylist }> {
  const text = await readFile(path.join(dir, rendition, 'index.m3u8'), 'utf8');
  return { text, pl: parseMediaPlaylist(text) };
}

/** What ffprobe reads from a rendition's playlist, closed (a live EVENT playlist has no duration yet) in a copy beside it. */
async function probedDuration(playlistFile: string): Promise<number> {
  const file = path.join(path.dirname(playlistFile), 'probe.m3u8');
  await writeFile(file, appendEndList(await readFile(playlistFile, 'utf8')));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_entries', 'format=duration', file]);
  await rm(file);
  return Number((JSON.parse(stdout) as { format: { duration: string } }).format.duration);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'llhls-run-'));
  input = await makeFlv(path.join(tmp, 'in.flv'));
  pool = new TranscodePool({ capacity: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the low-latency ffmpeg command', () => {
  it('writes fragmented MP4 per rendition to its own pipe, keyframes from the source, zerolatency without B-frames', () => {
    const { args, fds } = buildLowLatencyCommand({ input: 'flv', renditions: ladder, partSeconds: 0.2 });
    expect(fds).toEqual([3, 4, 5]);
    expect(args.filter((a) => a.startsWith('pipe:'))).toEqual(['pipe:0', 'pipe:3', 'pipe:4', 'pipe:5']);
    // 30 fps: six whole frames make 0.2 s, so the fragment closes just before the seventh frame (fragmentSeconds).
    expect(args.filter((a, i) => args[i - 1] === '-frag_duration')).toEqual(['198500', '198500', '198500']);
    expect(args.filter((a, i) => args[i - 1] === '-movflags').every((f) => f.includes('+delay_moov+default_base_moof+frag_keyframe'))).toBe(true);
    expect(args.filter((a, i) => args[i - 1] === '-force_key_frames:v:0')).toEqual(['source', 'source']);
    expect(args.filter((a, i) => args[i - 1] === '-tune:v:0')).toEqual(['zerolatency', 'zerolatency']);
    expect(args.filter((a, i) => args[i - 1] === '-bf:v:0')).toEqual(['0', '0']);
    expect(args.filter((a, i) => args[i - 1] === '-c:v:0')).toEqual(['copy', 'libx264', 'libx264']);
    expect(() => buildLowLatencyCommand({ input: 'flv', renditions: ladder, partSeconds: 5 })).toThrow(/partSeconds/);
  });
});

describe('LL_PART_SECONDS', () => {
  const env = { EDGE_URL: 'http://127.0.0.1:8787', ORIGIN_ID: 'origin-a', ORIGIN_SECRET: 'e2e-origin-secret-0123456789abcdef' };
  it('defaults to 0.2 s, takes 0.2–1 s, and refuses anything else with a message naming it', () => {
    expect(configFromEnv(env).llPartSeconds).toBe(0.2);
    expect(configFromEnv({ ...env, LL_PART_SECONDS: '0.5' }).llPartSeconds).toBe(0.5);
    for (const bad of ['0.1', '1.5', 'fast', '-1']) expect(() => configFromEnv({ ...env, LL_PART_SECONDS: bad })).toThrow(/LL_PART_SECONDS must be a number of seconds within 0\.2–1/);
  });
});

describe('the on-disk EVENT playlist', () => {
  it('opens each leg with its map, and every leg after the first with a discontinuity', () => {
    const p = EventPlaylist.continuing(undefined, 2);
    p.add({ legTag: 'aaaaaa', uri: 'aaaaaa-00000.m4s', sequence: 0, duration: 2, programDateTime: Date.UTC(2026, 0, 1) });
    const again = EventPlaylist.continuing(`${p.text()}#EXT-X-ENDLIST\n`, 2);
    expect(again.nextSequence).toBe(1);
    const text = again.add({ legTag: 'bbbbbb', uri: 'bbbbbb-00001.m4s', sequence: 1, duration: 2.5, programDateTime: Date.UTC(2026, 0, 1, 0, 1) });
    expect(text).toBe(
      [
        '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:3', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init-aaaaaa.mp4"', '#EXTINF:2.000000,', '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000+0000', 'aaaaaa-00000.m4s',
        '#EXT-X-DISCONTINUITY', '#EXT-X-MAP:URI="init-bbbbbb.mp4"', '#EXTINF:2.500000,', '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:01:00.000+0000', 'bbbbbb-00001.m4s',
        '',
      ].join('\n'),
    );
    expect(() => again.add({ legTag: 'bbbbbb', uri: 'bbbbbb-00005.m4s', sequence: 5, duration: 2, programDateTime: 0 })).toThrow(/does not follow/);
  });
});

describe('a low-latency live transcode through the pool', () => {
  let out: string;
  let first: LiveTranscodeResult;
  const events: LiveTranscodeEvent[] = [];

  beforeAll(async () => {
    out = path.join(tmp, 'session');
    first = await transcode(out, false, events);
  }, 60_000);

  it('ends cleanly and posts one init per rendition with its codecs', () => {
    expect(first).toMatchObject({ reason: 'input-ended', exitCode: 0, restarts: 0, issues: [] });
    const inits = ll(events, 'll_init');
    expect(inits.map((i) => i.rendition)).toEqual(expect.arrayContaining(['source', '480p', '360p']));
    expect(inits).toHaveLength(3);
    expect(new Set(inits.map((i) => i.legTag)).size).toBe(1);
    for (const i of inits) {
      expect(i.bytes.byteLength).toBeGreaterThan(500);
      expect(i.codecs).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
    }
  });

  it('cuts parts of about 0.2 s, numbered from 0 in each segment, the first of each segment independent', () => {
    const parts = ll(events, 'll_part');
    for (const r of ladder) {
      const mine = parts.filter((p) => p.rendition === r.name);
      expect(mine.length).toBeGreaterThan(SECONDS / PART * 0.8);
      expect(mine.every((p) => p.duration > 0 && p.duration <= PART + 0.04)).toBe(true);
      const median = mine.map((p) => p.duration).sort((a, b) => a - b)[Math.floor(mine.length / 2)]!;
      expect(median).toBeGreaterThan(0.15);
      for (const p of mine.filter((x) => x.part === 0)) expect(p.independent).toBe(true);
      for (let k = 1; k < mine.length; k++) {
        const [a, b] = [mine[k - 1]!, mine[k]!];
        expect(b.msn === a.msn ? b.part === a.part + 1 : b.msn === a.msn + 1 && b.part === 0).toBe(true);
      }
    }
  });

  it('closes 2 s segments after a first one of a GOP, aligned across renditions: same sequence numbers, part counts within one part', () => {
    const segs = ll(events, 'll_segment');
    const by = (name: string) => segs.filter((s) => s.rendition === name);
    const source = by('source');
    // The leg's first segment ends at its second keyframe (1 s GOP here): its part grid, shifted by the audio leading
    // at the start, ends there as the segment's last part (origin/llhls/part-segmenter.ts closeFirstAtKeyframe).
    expect(source.map((s) => s.msn)).toEqual([0, 1, 2, 3, 4]);
    expect(source[0]!.duration).toBeCloseTo(1, 1);
    for (const s of source.slice(1, -1)) expect(s.duration).toBeCloseTo(2, 1);
    for (const r of ladder) {
      const mine = by(r.name);
      expect(mine.map((s) => s.msn)).toEqual(source.map((s) => s.msn));
      mine.forEach((s, i) => {
        expect(Math.abs(s.parts - source[i]!.parts)).toBeLessThanOrEqual(1);
        expect(Math.abs(s.duration - source[i]!.duration)).toBeLessThanOrEqual(PART);
        expect(s.programDateTime).toBeGreaterThan(Date.now() - 120_000);
      });
    }
  });

  it('makes every part of every rendition, from the first segment on, ≤ PART-TARGET and ≥ 85 % of it but INDEPENDENT ones and a segment\'s last', () => {
    const partTarget = ll(events, 'll_init')[0]!.partTargetSeconds!;
    expect(partTarget).toBe(PART); // 6 frames at 30 fps
    for (const r of ladder) {
      const partsOf = new Map(ll(events, 'll_segment').filter((s) => s.rendition === r.name).map((s) => [s.msn, s.parts]));
      const parts = ll(events, 'll_part').filter((p) => p.rendition === r.name);
      expect(parts[0]).toMatchObject({ msn: 0, part: 0 });
      const breaches = parts.filter((p) => {
        if (p.duration > partTarget + 5e-6) return true;
        const exempt = p.independent || p.part === partsOf.get(p.msn)! - 1;
        return !exempt && p.duration < 0.85 * partTarget - 1e-6;
      });
      expect(breaches.map((p) => `${p.msn}.${p.part}: ${p.duration}`), r.name).toEqual([]);
    }
  });

  it('posts each ll_segment before the usual segment event of the same segment', () => {
    for (const r of ladder) {
      const order = events.filter((e) => (e.type === 'll_segment' || e.type === 'segment') && e.rendition === r.name);
      const kinds = order.map((e) => (e.type === 'll_segment' ? `L${e.msn}` : e.type === 'segment' ? `S${e.sequence}` : ''));
      for (let n = 0; n < 5; n++) expect(kinds.indexOf(`L${n}`)).toBeLessThan(kinds.indexOf(`S${n}`));
      expect(order.filter((e) => e.type === 'segment').every((e) => e.type === 'segment' && e.uri.endsWith('.m4s') && e.bytes > 0)).toBe(true);
    }
    expect(first.stats.sourceSegments).toBe(5);
    expect(first.stats.transcodedSegments).toBe(10);
  });

  it('writes init, segments and an EVENT playlist that ffprobe plays for the whole duration', async () => {
    for (const r of ladder) {
      const files = await readdir(path.join(out, r.name));
      const { text, pl } = await playlist(out, r.name);
      expect(files.filter((f) => /^init-[0-9a-f]{6}\.mp4$/.test(f))).toHaveLength(1);
      expect(files.filter((f) => f.endsWith('.m4s')).sort()).toEqual(pl.segments.map((s) => s.uri));
      expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
      expect(text).toMatch(/^#EXT-X-VERSION:7$/m);
      expect(text.match(/^#EXT-X-MAP:URI="init-[0-9a-f]{6}\.mp4"$/gm)).toHaveLength(1);
      expect(text.match(/^#EXT-X-PROGRAM-DATE-TIME:/gm)).toHaveLength(pl.segments.length);
      expect(pl).toMatchObject({ playlistType: 'EVENT', endList: false, mediaSequence: 0 });
      expect(await probedDuration(path.join(out, r.name, 'index.m3u8'))).toBeGreaterThan(SECONDS - 0.5);
    }
  });

  it('writes the master with the codecs of the init segments', async () => {
    const text = await readFile(path.join(out, 'master.m3u8'), 'utf8');
    expect(validateMasterPlaylist(text)).toEqual([]);
    const variants = parseMasterPlaylist(text);
    expect(variants.map((v) => v.uri)).toEqual(['source/index.m3u8', '480p/index.m3u8', '360p/index.m3u8']);
    const inits = ll(events, 'll_init');
    for (const v of variants) expect(v.codecs.join(',')).toBe(inits.find((i) => `${i.rendition}/index.m3u8` === v.uri)!.codecs);
  });

  describe('after the encoder reconnects', () => {
    const again: LiveTranscodeEvent[] = [];
    let second: LiveTranscodeResult;

    beforeAll(async () => {
      // The stream was switched to standard meanwhile: the session keeps its fMP4 packaging all the same.
      second = await transcode(out, true, again, 'standard');
    }, 60_000);

    it('opens a new leg: a new init, one DISCONTINUITY, sequence numbers continuing', async () => {
      expect(second).toMatchObject({ reason: 'input-ended', exitCode: 0 });
      const legs = new Set(ll(again, 'll_init').map((i) => i.legTag));
      expect(legs.size).toBe(1);
      const firstLeg = ll(events, 'll_init')[0]!.legTag;
      expect(legs.has(firstLeg)).toBe(false);
      expect(ll(again, 'll_segment').filter((s) => s.rendition === 'source')[0]!.msn).toBe(5);
      for (const r of ladder) {
        const { text, pl } = await playlist(out, r.name);
        expect(pl.segments.map((s) => s.sequence)).toEqual(pl.segments.map((_, i) => i));
        expect(pl.segments.filter((s) => s.discontinuity).map((s) => s.sequence)).toEqual([5]);
        expect(text.match(/^#EXT-X-MAP:URI="init-[0-9a-f]{6}\.mp4"$/gm)).toHaveLength(2);
        expect(pl.segments.slice(5).every((s) => s.uri.startsWith(`${[...legs][0]}-`))).toBe(true);
        expect(await probedDuration(path.join(out, r.name, 'index.m3u8'))).toBeGreaterThan(2 * SECONDS - 1);
      }
    });
  });
});

describe('a crashed low-latency ffmpeg', () => {
  it('is restarted as a new leg: a new init, a DISCONTINUITY, the sequence going on', async () => {
    const out = path.join(tmp, 'crash');
    const events: LiveTranscodeEvent[] = [];
    const r = pool.tryStart({ input: 'flv', outDir: out, renditions: ladder, latencyMode: 'low', partSeconds: PART, pollIntervalMs: 100, restartDelayMs: 100 }, (e) => events.push(e));
    if (!r.ok) throw new Error(`refused: ${r.message}`);
    let killed = false;
    // Paced at 2× real time, so the crash comes mid-stream and the encoder's bytes go on into the next leg.
    const chunk = 16 * 1024;
    for (let i = 0; i < input.length; i += chunk) {
      const started = events.find((e) => e.type === 'started');
      if (!killed && started?.type === 'started' && started.pid && ll(events, 'll_segment').length > 0) {
        killed = true;
        process.kill(started.pid, 'SIGKILL');
      }
      if (!r.transcode.push(input.subarray(i, i + chunk))) break;
      await new Promise((resolve) => setTimeout(resolve, (SECONDS * 1000 * chunk) / input.length / 2));
    }
    r.transcode.end();
    const result = await r.transcode.done;
    expect(killed).toBe(true);
    expect(result.restarts).toBe(1);
    expect(result.issues.map((i) => i.code)).toContain('ffmpeg-restarted');
    const legs = [...new Set(ll(events, 'll_init').map((i) => i.legTag))];
    expect(legs).toHaveLength(2);
    for (const rendition of ladder) {
      const { text, pl } = await playlist(out, rendition.name);
      expect(pl.segments.map((s) => s.sequence)).toEqual(pl.segments.map((_, i) => i));
      expect(pl.segments.filter((s) => s.discontinuity)).toHaveLength(1);
      expect(text.match(/^#EXT-X-MAP:URI="init-[0-9a-f]{6}\.mp4"$/gm)).toHaveLength(2);
    }
  }, 60_000);
});
