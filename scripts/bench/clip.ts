// Clip: wall time to cut a 30 s clip from a recorded session, keyframe mode and accurate mode, against the
// ffmpeg command line doing the same cut (stream copy from the keyframe before; a full re-encode for accuracy).
// The recording is a finished 60 s 720p30 session laid out as the origin writes it (ladder.json and the source
// rendition's EVENT playlist with ENDLIST, cut by buildHlsCommand's own args). Ours is the clip job's cutClip()
// called directly (origin/jobs/clip.ts, issue 5), which also writes the clip's VOD HLS beside the MP4; when that
// module is not there the row says "not built yet" and only the baseline is measured.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildHlsCommand, commandArgs } from '../../origin/pipeline/hls-command.ts';
import { chooseLadder } from '../../origin/pipeline/ladder.ts';
import { endSession } from '../../origin/pipeline/live-transcode.ts';
import { median, round, type Figure, type FigureContext } from './figure.ts';
import type { Row } from './report.ts';
import { input, root, LIVE_720P } from './support/inputs.ts';
import { start } from './support/processes.ts';

const CLIP_MODULE = path.join(root, 'origin/jobs/clip.ts');
const START = 15.5;
const END = 45.5;

/** The part of origin/jobs/clip.ts this figure calls (imported at run time: the module may not exist yet). */
interface ClipModule {
  cutClip(job: { sessionDir: string; startTime: number; endTime: number; accurate?: boolean; outDir: string; ffmpegPath?: string; ffprobePath?: string }): Promise<{ method: string; duration: number; reencodedFrames: number }>;
}

/**
 * How many ffmpeg and ffprobe processes one cut starts: a separate, untimed run through wrappers that log each
 * start and exec the real tool. Process starts are most of a keyframe cut's time.
 */
async function countTools(mod: ClipModule, sessionDir: string, accurate: boolean, work: string): Promise<{ ffmpeg: number; ffprobe: number }> {
  const dir = mkdtempSync(path.join(work, 'tools-'));
  const logFile = path.join(dir, 'starts.log');
  for (const tool of ['ffmpeg', 'ffprobe']) {
    writeFileSync(path.join(dir, tool), `#!/bin/sh\necho ${tool} >> '${logFile}'\nexec ${tool} "$@"\n`, { mode: 0o755 });
  }
  await mod.cutClip({ sessionDir, startTime: START, endTime: END, accurate, outDir: path.join(dir, 'out'), ffmpegPath: path.join(dir, 'ffmpeg'), ffprobePath: path.join(dir, 'ffprobe') });
  const starts = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
  return { ffmpeg: starts.filter((s) => s === 'ffmpeg').length, ffprobe: starts.filter((s) => s === 'ffprobe').length };
}

async function recording(ctx: FigureContext): Promise<string> {
  const sessionDir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-rec-'));
  // The source rendition is what clips are cut from; the encoded rungs would not change the cut.
  const renditions = chooseLadder({ width: 1280, height: 720, fps: 30, videoBitrate: 3_000_000, audioBitrate: 128_000 }).filter((r) => r.copy);
  for (const r of renditions) mkdirSync(path.join(sessionDir, r.name), { recursive: true });
  writeFileSync(path.join(sessionDir, 'ladder.json'), `${JSON.stringify({ renditions }, null, 2)}\n`);
  const cmd = buildHlsCommand({ input: 'flv', outDir: sessionDir, renditions, hasAudio: true, sourceAudio: 'copy' });
  const ffmpeg = start('ffmpeg', ['-loglevel', 'error', '-nostdin', ...commandArgs(cmd, await input(LIVE_720P))]);
  if ((await ffmpeg.exited).code !== 0) throw new Error(`recording failed: ${ffmpeg.stderr().slice(-300)}`);
  await endSession(sessionDir);
  ctx.log(`recording in ${sessionDir}`);
  return sessionDir;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (performance.now() - t0) / 1000;
}

async function ffmpegCut(sessionDir: string, accurate: boolean, out: string): Promise<void> {
  const codec = accurate ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-c:a', 'aac', '-b:a', '128k'] : ['-c', 'copy'];
  const ffmpeg = start('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-ss', String(START), '-i', path.join(sessionDir, 'source', 'index.m3u8'), '-t', String(END - START),
    '-map', '0:v:0', '-map', '0:a:0', ...codec, '-movflags', '+faststart', '-f', 'mp4', out,
  ]);
  const exit = await ffmpeg.exited;
  if (exit.code !== 0) throw new Error(`ffmpeg cut failed: ${ffmpeg.stderr().slice(-300)}`);
}

export const clip: Figure = {
  name: 'clip',
  budgetMs: (quick) => (quick ? 120_000 : 240_000),
  async run(ctx) {
    const repeats = ctx.quick ? 1 : 3;
    let mod: ClipModule | undefined;
    if (existsSync(CLIP_MODULE)) {
      const specifier: string = CLIP_MODULE;
      mod = (await import(specifier)) as ClipModule;
    }
    const sessionDir = await recording(ctx);
    const work = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-clip-'));
    try {
      const rows: Row[] = [];
      for (const accurate of [false, true]) {
        const mode = accurate ? 'accurate' : 'keyframe';
        const ours: number[] = [];
        const base: number[] = [];
        let method = '';
        for (let i = 0; i < repeats; i++) {
          if (mod) {
            const cutClip = mod.cutClip;
            const outDir = path.join(work, `ours-${mode}-${i}`);
            ours.push(await timed(async () => (method = (await cutClip({ sessionDir, startTime: START, endTime: END, accurate, outDir })).method)));
          }
          base.push(await timed(() => ffmpegCut(sessionDir, accurate, path.join(work, `ffmpeg-${mode}-${i}.mp4`))));
        }
        const tools = mod ? await countTools(mod, sessionDir, accurate, work) : undefined;
        ctx.log(`${mode}: ours ${mod ? `${median(ours).toFixed(2)} s (${method})` : 'not built yet'}, ffmpeg ${median(base).toFixed(2)} s`);
        rows.push({
          figure: 'clip',
          label: `clip, 30 s from a 60 s 720p30 recording, ${mode} mode`,
          ours: mod ? { value: round(median(ours), 2), unit: 's' } : null,
          baseline: { value: round(median(base), 2), unit: 's', name: accurate ? 'ffmpeg -ss … re-encode (x264 veryfast)' : 'ffmpeg -ss … -c copy' },
          target: accurate ? null : { of: 'value', kind: 'max', limit: 1, text: '≤ 1 s' },
          note: mod
            ? `median of ${repeats}; ours ran as ${method}, started ${tools!.ffmpeg} ffmpeg + ${tools!.ffprobe} ffprobe processes (the command line: 1) and also wrote the clip's VOD HLS`
            : 'not built yet (origin/jobs/clip.ts absent)',
          details: { repeats, ours, baseline: base, method, tools },
        });
      }
      return rows;
    } finally {
      rmSync(sessionDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  },
};
