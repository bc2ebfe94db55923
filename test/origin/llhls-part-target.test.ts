// PART-TARGET and TARGETDURATION are constants of a low-mode session (rfc8216bis: neither may change in a playlist),
// checked with real ffmpeg through the pool and the store at 25, 30 and 60 fps: every playlist the origin would answer
// during the run announces PART-TARGET = LL_PART_SECONDS, lists no part longer than it, holds back at least 3 part
// targets, and keeps TARGETDURATION at the segment seconds; an encoder whose keyframes are further apart than a segment
// is the one case where TARGETDURATION grows, and the session's issues say so.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragmentSeconds } from '../../origin/llhls/llhls-command.ts';
import { LowLatencyStore } from '../../origin/llhls/low-latency-store.ts';
import { chooseLadder, type Rendition } from '../../origin/pipeline/ladder.ts';
import type { LiveTranscodeEvent, LiveTranscodeResult } from '../../origin/pipeline/live-transcode.ts';
import { TranscodePool } from '../../origin/pipeline/transcode-pool.ts';

const run = promisify(execFile);
const PART = 0.2;
const SEGMENT = 2;

let tmp: string;
let pool: TranscodePool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'llhls-part-target-'));
  pool = new TranscodePool({ capacity: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** An FLV as an encoder sends it: H.264 at `fps` with a keyframe every `keyframeSeconds`, AAC audio. */
async function makeFlv(name: string, fps: number, seconds: number, keyframeSeconds: number): Promise<Buffer> {
  const file = path.join(tmp, `${name}.flv`);
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=854x480:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${keyframeSeconds})`, '-sc_threshold', '0', '-c:a', 'aac',
    '-t', String(seconds), '-f', 'flv', file,
  ]);
  return readFile(file);
}

interface Served {
  rendition: string;
  text: string;
}

interface RunResult {
  result: LiveTranscodeResult;
  served: Served[];
  events: LiveTranscodeEvent[];
}

/** A low-mode run fed as fast as ffmpeg takes it; after every part and segment, each rendition's playlist is asked for. */
async function lowModeRun(name: string, input: Buffer, renditions: Rendition[]): Promise<RunResult> {
  const store = new LowLatencyStore({ partTargetSeconds: PART, segmentTargetSeconds: SEGMENT });
  const feed = store.feed('stream', name);
  const answers: Promise<Served>[] = [];
  const events: LiveTranscodeEvent[] = [];
  const r = pool.tryStart({ input: 'flv', outDir: path.join(tmp, name), renditions, resume: false, latencyMode: 'low', partSeconds: PART, pollIntervalMs: 200 }, (e) => {
    events.push(e);
    feed.onEvent(e);
    if (e.type !== 'll_part' && e.type !== 'll_segment') return;
    const session = store.find('stream', name)!;
    for (const { name: rendition } of renditions) {
      if (!session.lastPart(rendition)) continue;
      for (const skip of [false, true]) {
        answers.push(session.playlist(rendition, { skip }).then((a) => {
          if (a.status !== 200) throw new Error(`playlist of ${rendition} answered ${String(a.status)}`);
          return { rendition, text: a.body };
        }));
      }
    }
  });
  if (!r.ok) throw new Error(r.message);
  for (let i = 0; i < input.length; i += 64 * 1024) r.transcode.push(input.subarray(i, i + 64 * 1024));
  r.transcode.end();
  const result = await r.transcode.done;
  const served = await Promise.all(answers);
  feed.end();
  return { result, served, events };
}

interface Announced {
  partTarget: number;
  targetDuration: number;
  partHoldBack: number;
  parts: number[];
}

function announced(text: string): Announced {
  const attr = (re: RegExp): number => {
    const m = re.exec(text);
    if (!m) throw new Error(`no ${re.source} in\n${text}`);
    return Number(m[1]);
  };
  return {
    partTarget: attr(/^#EXT-X-PART-INF:PART-TARGET=([\d.]+)$/m),
    targetDuration: attr(/^#EXT-X-TARGETDURATION:(\d+)$/m),
    partHoldBack: attr(/^#EXT-X-SERVER-CONTROL:.*PART-HOLD-BACK=([\d.]+)/m),
    parts: [...text.matchAll(/^#EXT-X-PART:DURATION=([\d.]+),/gm)].map((m) => Number(m[1])),
  };
}

describe('PART-TARGET of a low-mode session', () => {
  for (const fps of [25, 30, 60]) {
    it(`is ${PART} s in every playlist served at ${fps} fps, every part within it and about it`, async () => {
      const input = await makeFlv(`fps${fps}`, fps, 4, 1);
      const renditions = chooseLadder({ width: 854, height: 480, fps });
      expect(renditions.length).toBeGreaterThanOrEqual(2);
      const { result, served } = await lowModeRun(`fps${fps}`, input, renditions);
      expect(result).toMatchObject({ reason: 'input-ended', exitCode: 0, issues: [] });
      expect(served.length).toBeGreaterThan(40);

      const seen = served.map((s) => ({ ...s, ...announced(s.text) }));
      expect(new Set(seen.map((s) => s.partTarget))).toEqual(new Set([PART]));
      expect(new Set(seen.map((s) => s.targetDuration))).toEqual(new Set([SEGMENT]));
      for (const s of seen) {
        expect(s.partHoldBack).toBeGreaterThanOrEqual(3 * s.partTarget - 1e-9);
        for (const d of s.parts) expect(d).toBeLessThanOrEqual(s.partTarget);
      }
      for (const r of renditions) {
        // The last playlist of each rendition lists its last segments' parts: whole frames as close to the target
        // as fit (at these rates a whole number of frames makes 0.2 s; a part cut short by a keyframe may be less).
        const last = seen.filter((s) => s.rendition === r.name).at(-1)!;
        expect(last.parts.length).toBeGreaterThan(10);
        const median = [...last.parts].sort((a, b) => a - b)[Math.floor(last.parts.length / 2)]!;
        expect(median).toBeGreaterThanOrEqual(PART * 0.85);
        const frames = Math.floor(PART * (r.fps / r.fpsDen) + 1e-9);
        expect(fragmentSeconds(PART, r.fps / r.fpsDen)).toBeCloseTo(frames / (r.fps / r.fpsDen) - 0.0015, 6);
      }
    }, 90_000);
  }
});

describe('TARGETDURATION of a low-mode session', () => {
  it('stays the segment seconds unless the encoder keyframes less often; then it grows once and the issues say why', async () => {
    const input = await makeFlv('long-gop', 30, 7, 3);
    const renditions = chooseLadder({ width: 854, height: 480, fps: 30 });
    const { result, served, events } = await lowModeRun('long-gop', input, renditions);
    expect(result.reason).toBe('input-ended');
    const seen = served.map((s) => ({ ...s, ...announced(s.text) }));
    // Each rendition's playlists announce 2 until its first 3 s segment closes, and 3 from then on, never back.
    for (const r of renditions) {
      const targets = seen.filter((s) => s.rendition === r.name).map((s) => s.targetDuration);
      expect(targets[0]).toBe(SEGMENT);
      expect(targets.at(-1)).toBe(3);
      expect(targets.filter((t, i) => i > 0 && t !== targets[i - 1])).toEqual([3]);
    }
    expect(new Set(seen.map((s) => s.partTarget))).toEqual(new Set([PART]));
    const issue = result.issues.find((i) => i.code === 'keyframe-interval-too-long');
    expect(issue?.message).toMatch(/TARGETDURATION from 2 to 3 s/);
    expect(events.some((e) => e.type === 'issue' && e.issue.code === 'keyframe-interval-too-long')).toBe(true);
  }, 90_000);
});
