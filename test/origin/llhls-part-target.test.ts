// PART-TARGET and TARGETDURATION are constants of a low-mode session (rfc8216bis: neither may change in a playlist),
// checked with real ffmpeg through the pool and the store at 24, 25, 29.97, 30 and 60 fps: every playlist the origin
// would answer during the run announces PART-TARGET = LL_PART_SECONDS as whole frames of the source (0.2 s; 0.167 s at
// 24 fps, 0.201 s at 29.97), lists no part longer than it, holds back at least 3 part targets, and keeps TARGETDURATION
// at the segment seconds; every part the run made, from the stream's first segment on and in every rendition, is at
// least 85 % of PART-TARGET but INDEPENDENT ones and a segment's last (rfc8216bis). An encoder whose keyframes are
// further apart than a segment is the one case where TARGETDURATION grows, and the session's issues say so.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fragmentSeconds, partTargetSeconds } from '../../origin/llhls/llhls-command.ts';
import { LowLatencyStore } from '../../origin/llhls/low-latency-store.ts';
import { PartSegmenter } from '../../origin/llhls/part-segmenter.ts';
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
async function makeFlv(name: string, fps: number | string, seconds: number, keyframeSeconds: number): Promise<Buffer> {
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
  // The store's default is LL_PART_SECONDS; the session takes the run's whole-frame PART-TARGET from its first ll_init.
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

type PartEvent = Extract<LiveTranscodeEvent, { type: 'll_part' }>;
type SegmentEvent = Extract<LiveTranscodeEvent, { type: 'll_segment' }>;

/**
 * rfc8216bis's two rules on every part a rendition made, its first segment included: ≤ PART-TARGET, and ≥ 85 % of it
 * unless INDEPENDENT or its segment's last. Returns the breaches (empty: a pass).
 */
function partRuleBreaches(events: LiveTranscodeEvent[], rendition: string, partTarget: number): string[] {
  const parts = events.filter((e): e is PartEvent => e.type === 'll_part' && e.rendition === rendition);
  const partsOf = new Map(events.filter((e): e is SegmentEvent => e.type === 'll_segment' && e.rendition === rendition).map((e) => [e.msn, e.parts]));
  const breaches: string[] = [];
  for (const p of parts) {
    const name = `${rendition} ${p.msn}.${p.part} (${p.duration.toFixed(4)} s${p.independent ? ', independent' : ''})`;
    const count = partsOf.get(p.msn);
    if (count === undefined) breaches.push(`${name}: its segment never closed`);
    if (p.duration > partTarget + 5e-6) breaches.push(`${name} > PART-TARGET ${partTarget}`);
    const exempt = p.independent || p.part === (count ?? 0) - 1;
    if (!exempt && p.duration < 0.85 * partTarget - 1e-6) breaches.push(`${name} < 85 % of PART-TARGET ${partTarget}`);
  }
  return breaches;
}

describe('whole-frame part targets and the first segment (pure)', () => {
  it('counts PART-TARGET in frames dividing a second, nearest the setting, rounded up to the millisecond', () => {
    const at = (seconds: number, rate: number) => partTargetSeconds(seconds, rate);
    expect([at(0.2, 24), at(0.2, 25), at(0.2, 30000 / 1001), at(0.2, 30), at(0.2, 60000 / 1001), at(0.2, 60)]).toEqual([0.167, 0.2, 0.201, 0.2, 0.201, 0.2]);
    expect([at(0.5, 24), at(0.5, 30), at(1, 25), at(0.33, 30)]).toEqual([0.5, 0.5, 1, 0.334]); // 10 frames of 30: 333 or 334 ms
    // every rung of the ladder fits its whole frames in it: 6 frames of 29.97 (RTMP ms: 200 or 201 ms) in 0.201
    expect(fragmentSeconds(at(0.2, 30000 / 1001), 30000 / 1001)).toBeCloseTo(6 * 1001 / 30000 - 0.0015, 6);
    expect(fragmentSeconds(at(0.2, 24), 24)).toBeCloseTo(4 / 24 - 0.0015, 6);
  });

  it('closes a leg\'s first segment at its second keyframe when asked, later ones at the segment seconds', () => {
    const frag = (independent: boolean, duration = 0.2) => ({ bytes: new Uint8Array([1]), duration, independent });
    const segmenter = new PartSegmenter({ segmentSeconds: 2, firstMsn: 7, closeFirstAtKeyframe: true });
    // a short start (the audio led), a shifted grid, a sliver before the keyframe at 1 s
    const gop = (first: number) => [frag(true, first), ...Array.from({ length: 4 }, () => frag(false)), frag(false, 1 - first - 0.8)];
    const out = [...gop(0.1), ...gop(0.2), ...gop(0.2), frag(true)].flatMap((f) => segmenter.push(f));
    expect(out.filter((o) => o.type === 'segment').map((o) => [o.msn, o.parts, Number(o.duration.toFixed(3))])).toEqual([[7, 6, 1], [8, 12, 2]]);
    const plain = new PartSegmenter({ segmentSeconds: 2, firstMsn: 0 });
    expect([...gop(0.1), ...gop(0.2), frag(true)].flatMap((f) => plain.push(f)).filter((o) => o.type === 'segment').map((o) => o.parts)).toEqual([12]);
  });
});

describe('PART-TARGET of a low-mode session', () => {
  const rates = [
    { label: '24', fps: 24, target: 1 / 6 },
    { label: '25', fps: 25, target: PART },
    { label: '29.97', fps: 30000 / 1001, target: 0.2 * 1.001 },
    { label: '30', fps: 30, target: PART },
    { label: '60', fps: 60, target: PART },
  ];
  for (const { label, fps, target } of rates) {
    it(`is whole frames about ${PART} s in every playlist served at ${label} fps, every part within it and ≥ 85 % of it from the first segment on`, async () => {
      const partTarget = partTargetSeconds(PART, fps);
      // whole frames of the source, rounded up to the millisecond of RTMP timestamps
      expect(partTarget).toBeGreaterThanOrEqual(target - 1e-9);
      expect(partTarget).toBeLessThan(target + 0.001);
      const input = await makeFlv(`fps${label}`, fps === 30000 / 1001 ? '30000/1001' : fps, 4, 1);
      const renditions = chooseLadder({ width: 854, height: 480, fps });
      expect(renditions.length).toBeGreaterThanOrEqual(2);
      const { result, served, events } = await lowModeRun(`fps${label}`, input, renditions);
      expect(result).toMatchObject({ reason: 'input-ended', exitCode: 0, issues: [] });
      expect(served.length).toBeGreaterThan(40);

      for (const r of renditions) {
        expect(events.some((e) => e.type === 'll_segment' && e.rendition === r.name && e.msn === 0)).toBe(true);
        expect(partRuleBreaches(events, r.name, partTarget), r.name).toEqual([]);
      }
      const seen = served.map((s) => ({ ...s, ...announced(s.text) }));
      expect(new Set(seen.map((s) => s.partTarget))).toEqual(new Set([partTarget]));
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
        expect(median).toBeGreaterThanOrEqual(partTarget * 0.85);
        const frames = Math.floor(partTarget * (r.fps / r.fpsDen) + 1e-9);
        expect(fragmentSeconds(partTarget, r.fps / r.fpsDen)).toBeCloseTo(frames / (r.fps / r.fpsDen) - 0.0015, 6);
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
