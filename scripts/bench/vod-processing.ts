// VOD processing speed (issue 13): a 60 s 720p30 H.264/AAC MP4 uploaded to the real stack (edge in workerd with its
// local R2, one origin) through the one-time upload URL, timed from the upload's completion to the video being ready
// (source pulled from R2, probed, ABR ladder to HLS, fast-start MP4, thumbnail, everything back in R2), as a multiple
// of real time; beside it, in the same run, bare ffmpeg encoding the same ladder from the same file on local disk
// (origin/vod/vod-ladder.ts's own rungs and arguments, with the origin job's encode threads and its nice value, as
// origin/vod/vod-priority.ts sets them for the default one VOD thread). Runs alternate, median.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeSourceVideo } from '../../origin/vod/source-probe.ts';
import { vodEncodeArgs, vodLadder } from '../../origin/vod/vod-ladder.ts';
import { VOD_NICENESS, vodEncodeThreads } from '../../origin/vod/vod-priority.ts';
import { median, round, type Figure } from './figure.ts';
import type { Row } from './report.ts';
import { runTimed } from './support/ffmpeg.ts';
import { input } from './support/inputs.ts';
import { groupCpuSeconds } from './support/proc.ts';
import { until } from './support/processes.ts';
import { benchStack, originPid, type Stack } from './support/stack.ts';

/** An upload as a phone or editor exports it: 720p30 H.264 at 3 Mb/s (2 s GOP), AAC 128 kb/s, 60 s, MP4. */
const VOD_720P_MP4 = {
  file: 'vod-720p30-60s-3M-v1.mp4',
  args: [
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '3000k', '-maxrate', '3300k', '-bufsize', '6000k', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mp4',
  ],
};

/** The encode threads of the origin's VOD job with its defaults (one VOD thread): the baseline gets the same. */
const JOB_THREADS = vodEncodeThreads(os.availableParallelism(), 1);

interface OursRun {
  videoId: string;
  /** ms from the upload's last byte answered to the video ready */
  completeToReadyMs: number;
  /** ms from the upload's creation to its last byte answered (one PUT of the whole file) */
  uploadMs: number;
  /** the origin process group's CPU-seconds meanwhile (Node + ffmpeg) */
  cpuSeconds: number;
  progress: { atMs: number; status: string; value: number | null }[];
  renditions: string[];
  duration: number;
  /** the origin's own account of the job (its vod_job_ready log line): ms from the job's start to ready */
  originJobMs: number | null;
}

interface BareRun {
  wallMs: number;
  cpuSeconds: number;
  renditions: string[];
}

async function ours(stack: Stack, file: string, bytes: Uint8Array): Promise<OursRun> {
  const created = await stack.api('POST', '/videos/uploads', { title: 'bench', size: bytes.length });
  if (created.status !== 201) throw new Error(`creating the upload failed: ${created.status} ${JSON.stringify(created.body)}`);
  const { videoId, uploadUrl } = created.body.data as { videoId: string; uploadUrl: string };
  const pid = originPid(stack);
  const createdAt = Date.now();
  // One body (≤ 100 MiB): the bench times processing, not the part protocol.
  const put = await fetch(uploadUrl, { method: 'PUT', body: bytes, headers: { 'content-type': 'video/mp4' } });
  if (!put.ok) throw new Error(`the upload of ${path.basename(file)} failed: ${put.status} ${await put.text()}`);
  const completedAt = Date.now();
  const cpu0 = groupCpuSeconds(pid);
  const progress: OursRun['progress'] = [];
  const video = await until('the video to be ready', async () => {
    const v = (await stack.api('GET', `/videos/${videoId}`)).body.data;
    if (v?.status === 'failed') throw new Error(`the video failed: ${v.error}`);
    const last = progress.at(-1);
    if (!last || last.status !== v.status || last.value !== v.progress) progress.push({ atMs: Date.now() - completedAt, status: v.status, value: v.progress });
    return v?.status === 'ready' ? v : undefined;
  }, 600_000, 100);
  const readyAt = Date.now();
  const cpuSeconds = groupCpuSeconds(pid) - cpu0;
  const master = await (await fetch(video.hlsUrl)).text();
  const renditions = [...master.matchAll(/RESOLUTION=(\d+x\d+)/g)].map((m) => m[1]!);
  return {
    videoId, completeToReadyMs: readyAt - completedAt, uploadMs: completedAt - createdAt, cpuSeconds, progress, renditions, duration: video.duration,
    originJobMs: originJobMs(stack, videoId),
  };
}

function originJobMs(stack: Stack, videoId: string): number | null {
  for (const line of stack.originLogs) {
    if (!line.includes('"vod_job_ready"') || !line.includes(videoId)) continue;
    try {
      const j = JSON.parse(line) as { ms?: number };
      if (typeof j.ms === 'number') return j.ms;
    } catch {
      // not a JSON line
    }
  }
  return null;
}

async function bare(file: string): Promise<BareRun> {
  const source = await probeSourceVideo(file);
  const rungs = vodLadder(source);
  const hlsDir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-vod-'));
  try {
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      ...vodEncodeArgs({ sourceFile: file, hlsDir, rungs, interlaced: source.interlaced, hasAudio: source.hasAudio, threads: JOB_THREADS })];
    const started = Date.now();
    // At the VOD job's priority, as the origin runs it (the same competition from whatever else the machine runs).
    const run = runTimed('nice', ['-n', String(VOD_NICENESS), 'ffmpeg', ...args]);
    const exit = await run.child.exited;
    const wallMs = Date.now() - started;
    if (exit.code !== 0) throw new Error(`bare ffmpeg failed: ${run.child.stderr().slice(-400)}`);
    for (const r of rungs) {
      if (!readdirSync(path.join(hlsDir, r.name)).some((f) => f.endsWith('.ts'))) throw new Error(`bare ffmpeg wrote no segment for ${r.name}`);
    }
    return { wallMs, cpuSeconds: await run.cpuSeconds, renditions: rungs.map((r) => `${r.width}x${r.height}`) };
  } finally {
    rmSync(hlsDir, { recursive: true, force: true });
  }
}

const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'not logged');

export const vodProcessing: Figure = {
  name: 'vod-processing',
  budgetMs: (quick) => (quick ? 8 * 60_000 : 15 * 60_000),
  async run(ctx) {
    const runs = ctx.quick ? 1 : 3;
    const file = await input(VOD_720P_MP4);
    const bytes = new Uint8Array(readFileSync(file));
    const seconds = (await probeSourceVideo(file)).duration;
    const oursRuns: OursRun[] = [];
    const bareRuns: BareRun[] = [];
    const stack = await benchStack();
    try {
      for (let i = 0; i < runs; i++) {
        const o = await ours(stack, file, bytes);
        oursRuns.push(o);
        ctx.log(`ours ${i + 1}/${runs}: ready ${(o.completeToReadyMs / 1000).toFixed(1)} s after the upload (${(seconds / (o.completeToReadyMs / 1000)).toFixed(2)}× real time), ${o.cpuSeconds.toFixed(1)} CPU-s, ${o.renditions.join(' ')}`);
        const b = await bare(file);
        bareRuns.push(b);
        ctx.log(`bare ffmpeg ${i + 1}/${runs}: ${(b.wallMs / 1000).toFixed(1)} s (${(seconds / (b.wallMs / 1000)).toFixed(2)}× real time), ${b.cpuSeconds.toFixed(1)} CPU-s`);
      }
    } finally {
      await stack.stop();
    }
    const oursMs = median(oursRuns.map((r) => r.completeToReadyMs));
    const bareMs = median(bareRuns.map((r) => r.wallMs));
    const ladder = oursRuns[0]!.renditions.join(' + ');
    const sameLadder = oursRuns.every((r) => r.renditions.join() === bareRuns[0]!.renditions.join());
    const rows: Row[] = [
      {
        figure: 'vod-processing',
        label: `VOD processing speed, ${Math.round(seconds)} s 720p30 upload → ${ladder} HLS + MP4 + thumbnail`,
        ours: { value: round(seconds / (oursMs / 1000), 2), unit: '× real time' },
        baseline: { value: round(seconds / (bareMs / 1000), 2), unit: '× real time', name: `bare ffmpeg, same ladder and args (-threads ${JOB_THREADS}, nice ${VOD_NICENESS})` },
        target: null,
        note:
          `median of ${runs}; the origin's job itself ${fmtMs(median(oursRuns.flatMap((r) => (r.originJobMs === null ? [] : [r.originJobMs]))))}; ours = upload completed → ready (R2 download, probe, ladder, MP4 remux, thumbnail, R2 upload, API polled every 100 ms), ` +
          `${round(median(oursRuns.map((r) => r.cpuSeconds)), 1)} CPU-s of the origin vs ${round(median(bareRuns.map((r) => r.cpuSeconds)), 1)} for bare ffmpeg` +
          (sameLadder ? '' : `; LADDERS DIFFER: bare ${bareRuns[0]!.renditions.join(' + ')}`),
        details: { seconds, ours: oursRuns, bare: bareRuns, oursMedianMs: oursMs, bareMedianMs: bareMs },
      },
    ];
    return rows;
  },
};
