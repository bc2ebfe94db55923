// recording ready: how long after a recorded broadcast is STOPPED its recording is watchable (its VOD plays from the
// session's durable playlists in R2) and exportable (its MP4 built from R2 by an origin job), for a 10-minute broadcast
// and, in the same run, a 40 s one (issue 11 measured the old local build at 7.6 s and 60 s). The real stack: the edge
// in workerd with its local R2, one origin. The encoder (ffmpeg, testsrc2 720p30 at 2.5 Mb/s) publishes faster than
// real time (-readrate 4): the origin is given a capacity below one ladder so it takes the broadcast source-only
// (copied, no ladder encode), which is what lets the pipeline take media at 4×; the recording and its MP4 are the
// source rendition either way, and the durable upload runs at four times a real broadcast's rate.
import { median, round, type Figure } from './figure.ts';
import type { Row } from './report.ts';
import { start, until } from './support/processes.ts';
import { benchStack, type Stack } from './support/stack.ts';

const READRATE = 4;

interface Run {
  seconds: number;
  /** ms from the encoder's exit to the stream's STOPPED (the reconnect window and its grace) */
  encoderToStoppedMs: number;
  stoppedToWatchableMs: number;
  stoppedToExportableMs: number;
  /** the export's progress figures as the API showed them, with ms after STOPPED */
  progress: { atMs: number; value: number }[];
  duration: number | null;
  size: number | null;
  /** the origin's own account of the export (recording_exported): download / mux / upload */
  export: Record<string, unknown> | null;
}

function publishFast(url: string, seconds: number) {
  return start('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-readrate', String(READRATE), '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-readrate', String(READRATE), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-keyint_min', '60', '-pix_fmt', 'yuv420p',
    '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k',
    '-c:a', 'aac', '-b:a', '96k',
    '-f', 'flv', url,
  ]);
}

async function recordingOf(stack: Stack, streamId: string): Promise<any> {
  return ((await stack.api('GET', `/live/streams/${streamId}/recordings`)).body.data as any[])[0] ?? null;
}

function exportLog(stack: Stack, recordingId: string): Record<string, unknown> | null {
  for (const line of stack.originLogs) {
    if (!line.includes('"recording_exported"')) continue;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (j.recordingId === recordingId) return j;
    } catch {
      // not a JSON line
    }
  }
  return null;
}

async function once(stack: Stack, seconds: number, log: (m: string) => void): Promise<Run> {
  const stream = await stack.createStream({ record: true, reconnectWindow: 1 });
  const sendStarted = Date.now();
  const encoder = publishFast(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, seconds);
  const exit = await encoder.exited;
  if (exit.code !== 0) {
    const origin = stack.originLogs.filter((l) => /refus|dropped|encoder_|publish/.test(l)).slice(-3).join(' | ');
    throw new Error(`the encoder exited with ${exit.code ?? exit.signal}: ${encoder.stderr().trim().slice(-300)} (origin: ${origin.slice(0, 600)})`);
  }
  const encoderDone = Date.now();
  log(`${seconds} s broadcast sent in ${Math.round((encoderDone - sendStarted) / 1000)} s`);
  const stoppedAt = await until('the stream to stop', async () => {
    const s = (await stack.api('GET', `/live/streams/${stream.streamId}`)).body.data;
    return s?.status === 'STOPPED' || s?.status === 'COMPLETED' ? Date.now() : undefined;
  }, 120_000, 50);
  let watchableAt: number | undefined;
  const progress: { atMs: number; value: number }[] = [];
  const exported = await until('the recording to be exportable', async () => {
    const r = await recordingOf(stack, stream.streamId);
    if (r?.recordingStatus === 'failed') throw new Error(`the recording failed: ${r.error}`);
    const now = Date.now();
    if (r?.watchable && watchableAt === undefined) watchableAt = now;
    if (typeof r?.exportProgress === 'number' && progress.at(-1)?.value !== r.exportProgress) progress.push({ atMs: now - stoppedAt, value: r.exportProgress });
    return r?.exportable ? { r, at: now } : undefined;
  }, 600_000, 100);
  watchableAt ??= exported.at;
  return {
    seconds,
    encoderToStoppedMs: stoppedAt - encoderDone,
    stoppedToWatchableMs: watchableAt - stoppedAt,
    stoppedToExportableMs: exported.at - stoppedAt,
    progress,
    duration: exported.r.duration ?? null,
    size: exported.r.size ?? null,
    export: exportLog(stack, exported.r.id),
  };
}

export const recordingReady: Figure = {
  name: 'recording-ready',
  budgetMs: (quick) => (quick ? 6 * 60_000 : 20 * 60_000),
  async run(ctx) {
    const long = ctx.quick ? 120 : 600;
    // Room for a copied source (0.05 units) but not a 720p ladder: the broadcast is taken source-only (see the file's head).
    const stack = await benchStack({ capacityUnits: 0.06 });
    try {
      const short = await once(stack, 40, ctx.log);
      ctx.log(`40 s: watchable ${short.stoppedToWatchableMs} ms, exportable ${short.stoppedToExportableMs} ms after STOPPED`);
      const big = await once(stack, long, ctx.log);
      ctx.log(`${long} s: watchable ${big.stoppedToWatchableMs} ms, exportable ${big.stoppedToExportableMs} ms after STOPPED`);
      const note = `encoder at -readrate ${READRATE} (source-only, no ladder); STOPPED seen by polling the API every 50 ms, the recording every 100 ms`;
      const rows: Row[] = [
        {
          figure: 'recording-ready',
          label: `recording watchable after STOPPED, ${long} s broadcast`,
          ours: { value: round(big.stoppedToWatchableMs / 1000, 2), unit: 's' },
          baseline: { value: round(short.stoppedToWatchableMs / 1000, 2), unit: 's', name: '40 s broadcast' },
          target: { of: 'value', kind: 'max', limit: 10, text: '≤ 10 s (for 1 h)' },
          note,
          details: { long: big, short },
        },
        {
          figure: 'recording-ready',
          label: `recording exportable (MP4 from R2) after STOPPED, ${long} s broadcast`,
          ours: { value: round(big.stoppedToExportableMs / 1000, 2), unit: 's' },
          baseline: { value: round(short.stoppedToExportableMs / 1000, 2), unit: 's', name: '40 s broadcast' },
          target: null,
          note: `${note}; before issue 11 a 600 s recording was ready 60 s after STOPPED (local VOD + MP4 build)`,
          details: { medianProgressStepMs: median(big.progress.slice(1).map((p, i) => p.atMs - big.progress[i]!.atMs)) },
        },
      ];
      return rows;
    } finally {
      await stack.stop();
    }
  },
};
