// Transcode capacity: the most concurrent 720p30 broadcasts one machine keeps in real time through the full ladder,
// ramping 1, 2, 3 … until some segment is late by more than 1 s (twice); the baseline ramps bare ffmpeg ladders alike.
// "Late" is measured against real time from the rendition's own first segment (hls.ts `lateness`): a transcode
// that keeps up lists segment k exactly (its end − the first one's end) seconds after the first.
// It calibrates admission: the streams the origin sustained × their ladder's cost in units is this machine's capacity,
// written to .state/bench/capacity.json, which an origin on this machine reads when ORIGIN_CAPACITY_UNITS is unset.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Rendition } from '../../origin/pipeline/ladder.ts';
import { CALIBRATION_FILE, CapacityCalibrationSchema, type CapacityCalibration } from '../../origin/admission/calibration.ts';
import { ladderCost, roundUnits } from '../../origin/admission/cost.ts';
import { mediaPlaylistPath } from '../../origin/pipeline/hls-command.ts';
import { round, type Figure, type FigureContext } from './figure.ts';
import { publishFile } from './support/ffmpeg.ts';
import { PlaylistWatcher, lateness, readText } from './support/hls.ts';
import { input, LIVE_720P, root } from './support/inputs.ts';
import { startBareLadder, ladderOf, type BareLadder } from './support/ladder-run.ts';
import { sleep, until, type Child } from './support/processes.ts';
import { benchStack, logCount, sessionDir, waitLogCount, type Stack } from './support/stack.ts';

const LATE_LIMIT_S = 1;

interface StepResult {
  streams: number;
  ok: boolean;
  /** worst lateness over every rendition of every stream, seconds */
  worstLate: number;
  reason?: string;
}

/** One step of a ramp: n broadcasts running, their playlists watched. */
interface RunningStep {
  watchers: PlaylistWatcher[];
  publishers: Child[];
  stop(): Promise<void>;
}

async function measureStep(n: number, seconds: number, running: RunningStep): Promise<StepResult> {
  const { watchers, publishers } = running;
  const poll = () => Promise.all(watchers.map((w) => w.poll()));
  // Warm-up: every rendition of every stream has listed its first segment.
  const warmUntil = Date.now() + 20_000;
  while (watchers.some((w) => w.sightings.length === 0) && Date.now() < warmUntil) {
    await poll();
    await sleep(100);
  }
  if (watchers.some((w) => w.sightings.length === 0)) return { streams: n, ok: false, worstLate: Infinity, reason: 'a rendition listed no segment within 20 s' };
  const endAt = Date.now() + seconds * 1000;
  while (Date.now() < endAt) {
    const tick = Date.now();
    await poll();
    if (publishers.some((p) => !p.running)) return { streams: n, ok: false, worstLate: Infinity, reason: 'a publisher was dropped' };
    await sleep(Math.max(0, 100 - (Date.now() - tick)));
  }
  const worstLate = Math.max(...watchers.map((w) => Math.max(0, ...lateness(w.sightings))));
  if (watchers.some((w) => w.sightings.length < 2)) return { streams: n, ok: false, worstLate, reason: 'a rendition stopped listing segments' };
  return { streams: n, ok: worstLate <= LATE_LIMIT_S, worstLate: round(worstLate, 2) };
}

interface Side {
  who: string;
  sustained: number;
  done: boolean;
  steps: StepResult[];
  startStep(n: number): Promise<RunningStep>;
}

/**
 * One step of one side: n broadcasts, one retry when a segment comes late. The machine may be shared; a blip
 * from other work should not end a ramp, while a real shortfall fails both tries.
 */
async function step(ctx: FigureContext, side: Side, n: number, seconds: number): Promise<void> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    const running = await side.startStep(n);
    let result: StepResult;
    try {
      result = await measureStep(n, seconds, running);
    } finally {
      await running.stop();
    }
    side.steps.push(result);
    ctx.log(`${side.who}: ${n} stream(s), try ${attempt} → ${Number.isFinite(result.worstLate) ? `worst segment ${result.worstLate.toFixed(2)} s late` : result.reason}`);
    if (result.ok) {
      side.sustained = n;
      return;
    }
  }
  side.done = true;
}

export const transcodeCapacity: Figure = {
  name: 'transcode-capacity',
  budgetMs: (quick) => (quick ? 360_000 : 600_000),
  async run(ctx) {
    const seconds = ctx.quick ? 12 : 20;
    const maxStreams = 8;
    const file = await input(LIVE_720P);
    const publish = (url: string) => publishFile(url, file, { realtime: true, loops: -1, seconds: seconds + 40 });
    let ladder: Rendition[] | undefined;

    const stack: Stack = await benchStack({ capacity: maxStreams });
    const ours: Side = {
      who: 'origin',
      sustained: 0,
      done: false,
      steps: [],
      async startStep(n) {
        const streams = await Promise.all(Array.from({ length: n }, () => stack.createStream()));
        const finishedBefore = logCount(stack, 'transcode_finished');
        const publishers = streams.map((s) => publish(s.ingest.rtmp.url));
        const dirs = await Promise.all(streams.map((s) => sessionDir(stack, s.streamId)));
        // ladder.json is written before ffmpeg starts; under load it can take a moment.
        const ladders = await Promise.all(dirs.map((dir) => until('the ladder of a session', () => (existsSync(path.join(dir, 'ladder.json')) ? ladderOf(dir) : undefined), 20_000, 100)));
        ladder ??= ladders[0];
        const watchers = dirs.flatMap((dir, i) => ladders[i]!.map((r) => new PlaylistWatcher(() => readText(mediaPlaylistPath(dir, r.name)))));
        return {
          watchers,
          publishers,
          async stop() {
            await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
            await waitLogCount(stack, 'transcode_finished', finishedBefore + n, 30_000).catch(() => {});
            await sleep(1000);
          },
        };
      },
    };
    const baseline: Side = {
      who: 'bare ffmpeg',
      sustained: 0,
      done: false,
      steps: [],
      async startStep(n) {
        const renditions = ladder!;
        const dirs = Array.from({ length: n }, () => mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-cap-')));
        const bare: BareLadder[] = [];
        try {
          for (const dir of dirs) bare.push(await startBareLadder(renditions, dir));
        } catch (error) {
          await Promise.all(bare.map((b) => b.child.stop('SIGKILL')));
          for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
          throw error;
        }
        const publishers = bare.map((b) => publish(b.url));
        const watchers = bare.flatMap((b) => renditions.map((r) => new PlaylistWatcher(() => readText(b.playlist(r.name)))));
        return {
          watchers,
          publishers,
          async stop() {
            await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
            await Promise.all(bare.map((b) => Promise.race([b.child.exited, sleep(10_000)])));
            await Promise.all(bare.map((b) => b.child.stop('SIGKILL')));
            for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
            await sleep(1000);
          },
        };
      },
    };

    // Both ramps advance together, ours then the baseline at each size, so load from elsewhere falls on both alike.
    // The stack stays up (idle) during the baseline's steps.
    try {
      for (let n = 1; n <= maxStreams && !(ours.done && baseline.done); n++) {
        if (!ours.done) await step(ctx, ours, n, seconds);
        if (!ladder) throw new Error('the origin never wrote its ladder');
        if (!baseline.done) await step(ctx, baseline, n, seconds);
      }
    } finally {
      await stack.stop();
    }
    const renditions = ladder!;
    const calibration = writeCalibration(ctx, ours.sustained, renditions);

    const cap = (r: Side) => (r.sustained === maxStreams ? ` (the ramp stopped at ${maxStreams})` : '');
    return [
      {
        figure: 'transcode-capacity',
        label: `transcode capacity, concurrent 720p30 → ${renditions.map((r) => `${r.height}p`).join('/')} in real time`,
        ours: { value: ours.sustained, unit: 'streams' },
        baseline: { value: baseline.sustained, unit: 'streams', name: 'bare ffmpeg processes' },
        target: { of: 'ratio', kind: 'min', limit: 0.95, text: '≥ 95% of baseline' },
        note: `${calibration ? `calibrated ${calibration.units} units (${calibration.streams} × ${calibration.ladderUnits}) into ${CALIBRATION_FILE}; ` : 'no calibration written (no stream sustained); '}${os.availableParallelism()} cores; ${seconds} s per step, ours and the baseline alternating; a step fails when any segment is > ${LATE_LIMIT_S} s late in two tries; worst lateness per step: ours ${ours.steps.map((s) => fmtLate(s)).join(', ')}${cap(ours)}; baseline ${baseline.steps.map((s) => fmtLate(s)).join(', ')}${cap(baseline)}`,
        details: { seconds, lateLimit: LATE_LIMIT_S, calibration, ours: { sustained: ours.sustained, steps: ours.steps }, baseline: { sustained: baseline.sustained, steps: baseline.steps } },
      },
    ];
  },
};

/**
 * The admission calibration: capacity units = streams sustained × units of their ladder (origin/admission/cost.ts).
 * A ramp that reached its top gives a floor, which is still the best measure there is. Nothing is written when no
 * stream was sustained: the origin then keeps its default rather than a capacity of zero.
 */
function writeCalibration(ctx: FigureContext, sustained: number, renditions: Rendition[]): CapacityCalibration | null {
  if (sustained < 1) return null;
  const ladderUnits = ladderCost(renditions);
  const calibration = CapacityCalibrationSchema.parse({
    units: roundUnits(sustained * ladderUnits),
    measuredAt: new Date().toISOString(),
    cores: os.availableParallelism(),
    streams: sustained,
    ladder: renditions.map((r) => `${r.name}:${r.width}x${r.height}${r.copy ? ':copy' : ''}`),
    ladderUnits: roundUnits(ladderUnits),
  });
  const file = path.join(root, CALIBRATION_FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  // Written aside and renamed into place: an origin starting meanwhile reads the old file or the new one, whole.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(calibration, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  ctx.log(`capacity calibration: ${calibration.units} units (${sustained} × ${calibration.ladderUnits}) → ${CALIBRATION_FILE}`);
  return calibration;
}

function fmtLate(s: StepResult): string {
  return `${s.streams}: ${Number.isFinite(s.worstLate) ? `${s.worstLate.toFixed(2)} s` : (s.reason ?? 'failed')}`;
}
