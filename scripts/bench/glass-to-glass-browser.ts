// Glass-to-glass as a person sees it: the publisher stamps its wall clock into every frame (a 24-bit barcode,
// test/support/barcode.ts), headless Chromium plays the stream through the edge with hls.js (lowLatencyMode, catch-up
// up to 1.5×), and each displayed frame's barcode is compared with the clock at its display time
// (test/support/barcode-viewer.ts). Same machine, same clock: no clock sync enters the figure. Per latency mode:
// p50/p95 glass-to-glass, rebuffering (waiting time ÷ played time), and hls.js's own `latency` beside it.
// The first 10 s of playback are left out (the player's start-up and first catch-up), the rest is measured.
//
// In `npm run bench` (120 s per mode, 30 s with --quick), or alone:
//   node --import tsx scripts/bench/glass-to-glass-browser.ts [--seconds 120] [--modes standard,low]
import './support/offline-env.ts';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { launchBrowser, type HeadlessBrowser } from '../../test/support/browser.ts';
import { publishBarcode } from '../../test/support/barcode.ts';
import { openBarcodeViewer, summarizeViewing, type ViewerDrain } from '../../test/support/barcode-viewer.ts';
import { median, percentile, round, type Figure, type FigureContext } from './figure.ts';
import type { Row } from './report.ts';
import { fetchText, variantUris } from './support/hls.ts';
import { sleep, until } from './support/processes.ts';
import { benchStack, type Stack } from './support/stack.ts';

export type LatencyMode = 'standard' | 'low';

const WARM_UP_MS = 10_000;
const DRAIN_EVERY_MS = 5_000;

/** The targets for low mode; standard mode is measured and stated. */
const LOW_TARGETS = { p50: 1.5, p95: 2.5, rebufferPercent: 1 };

export interface ModeResult {
  mode: LatencyMode;
  /** null when the stack refused the mode (its API does not know it yet) */
  refused: string | null;
  renditions: number;
  /** the first media playlist had EXT-X-PART-INF (LL-HLS parts), as low mode should */
  llHls: boolean;
  /** the machine's 1-minute load average, mean over the measured seconds (other work skews every figure) */
  load: number;
  frames: number;
  read: number;
  p50: number;
  p95: number;
  max: number;
  hlsLatencyP50: number;
  hlsLatencyP95: number;
  rebufferPercent: number;
  stalls: number;
  playedSeconds: number;
  errors: { type: string; details: string; fatal: boolean }[];
  /** every 5 s: glass-to-glass p50 (s), hls.js latency (s) and stalled ms of that window — where a figure came from */
  timeline: { at: number; p50: number; hlsLatency: number; stalledMs: number; load: number }[];
}

/** One mode on a running stack: a fresh stream, the barcode publisher, one Chromium viewer for `seconds`. */
export async function measureMode(stack: Stack, browser: HeadlessBrowser, mode: LatencyMode, seconds: number, log: (m: string) => void): Promise<ModeResult> {
  const created = await stack.api('POST', '/live/streams', mode === 'standard' ? {} : { latencyMode: mode });
  const empty = { mode, renditions: 0, llHls: false, load: NaN, timeline: [], frames: 0, read: 0, p50: NaN, p95: NaN, max: NaN, hlsLatencyP50: NaN, hlsLatencyP95: NaN, rebufferPercent: NaN, stalls: 0, playedSeconds: 0, errors: [] };
  if (created.status !== 201) return { ...empty, refused: `create with latencyMode ${mode}: ${created.status} ${JSON.stringify(created.body).slice(0, 200)}` };
  const stream = created.body.data;
  if (mode !== 'standard' && stream.latencyMode !== mode) return { ...empty, refused: `the API ignored latencyMode (answered ${String(stream.latencyMode)})` };
  const masterUrl = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8`;
  const publisher = publishBarcode(stream.ingest.rtmp.url, { seconds: seconds + 90, size: '1280x720', rate: 30, keyframeSeconds: 1 });
  try {
    const variants = await until('a master playlist at the edge', async () => {
      const master = await fetchText(masterUrl);
      const uris = master ? variantUris(master) : [];
      return uris.length > 0 ? uris : undefined;
    }, 40_000, 200);
    const media = await fetchText(new URL(variants[variants.length - 1]!, masterUrl).toString());
    const llHls = media?.includes('#EXT-X-PART-INF') ?? false;
    if (mode === 'low' && !llHls) log('low: the origin served no LL-HLS parts (standard playlists): measuring what it serves');
    const viewer = await openBarcodeViewer(browser, masterUrl);
    try {
      await until('playback to start in Chromium', async () => ((await viewer.drain()).playedMs > 0 ? true : undefined), 40_000, 500);
      await sleep(WARM_UP_MS);
      const warm = await viewer.drain();
      const base = { playedMs: warm.playedMs, stalledMs: warm.stalledMs, stalls: warm.stalls };
      const drains: ViewerDrain[] = [];
      const loads: number[] = [];
      const stopAt = Date.now() + seconds * 1000;
      while (Date.now() < stopAt) {
        await sleep(Math.min(DRAIN_EVERY_MS, Math.max(0, stopAt - Date.now())));
        drains.push(await viewer.drain());
        loads.push(os.loadavg()[0]!);
      }
      const t0 = Date.now() - seconds * 1000;
      let stalledBefore = base.stalledMs;
      const timeline = drains.map((d, i) => {
        const ages = d.frames.flatMap((f) => (f.ageMs === null ? [] : [f.ageMs]));
        const point = { at: round((d.frames[0]?.shownAt ?? t0) / 1000 - t0 / 1000, 1), p50: round(median(ages) / 1000, 3), hlsLatency: round(median(d.latency.map((l) => l.latency)), 3), stalledMs: Math.round(d.stalledMs - stalledBefore), load: round(loads[i]!, 2) };
        stalledBefore = d.stalledMs;
        return point;
      });
      // totals since the end of the warm-up
      const last = drains.at(-1)!;
      drains[drains.length - 1] = { ...last, playedMs: last.playedMs - base.playedMs, stalledMs: last.stalledMs - base.stalledMs, stalls: last.stalls - base.stalls };
      const s = summarizeViewing(drains);
      const errors = drains.flatMap((d) => d.errors).map(({ type, details, fatal }) => ({ type, details, fatal }));
      const result: ModeResult = {
        mode,
        refused: null,
        renditions: variants.length,
        llHls,
        load: round(loads.reduce((a, b) => a + b, 0) / loads.length, 2),
        frames: s.frames,
        read: s.read,
        p50: round(median(s.ages) / 1000, 3),
        p95: round(percentile(s.ages, 95) / 1000, 3),
        max: round(Math.max(...s.ages) / 1000, 3),
        hlsLatencyP50: round(median(s.hlsLatency), 3),
        hlsLatencyP95: round(percentile(s.hlsLatency, 95), 3),
        rebufferPercent: round(s.rebufferPercent, 3),
        stalls: s.stalls,
        playedSeconds: round(s.playedMs / 1000, 1),
        errors,
        timeline,
      };
      log(`${mode}: p50 ${result.p50} s, p95 ${result.p95} s, max ${result.max} s over ${s.read}/${s.frames} frames read; hls.js latency p50 ${result.hlsLatencyP50} s; rebuffering ${result.rebufferPercent}% (${result.stalls} stalls in ${result.playedSeconds} s); ${errors.length} hls.js errors; LL-HLS ${llHls}; machine load ${result.load} on ${os.availableParallelism()} cores`);
      return result;
    } finally {
      await viewer.close();
    }
  } finally {
    await publisher.kill('SIGKILL');
  }
}

function rows(results: ModeResult[], seconds: number): Row[] {
  const out: Row[] = [];
  for (const r of results) {
    const label = `glass-to-glass in Chromium (hls.js), ${r.mode} mode`;
    if (r.refused) {
      out.push({ figure: 'glass-to-glass-browser', label, ours: null, baseline: null, target: null, note: `not measured: ${r.refused}` });
      continue;
    }
    const low = r.mode === 'low';
    const detail = `${r.read} of ${r.frames} displayed frames read over ${seconds} s after a 10 s warm-up, 720p30 source, ${r.renditions} renditions${r.llHls ? ' (LL-HLS)' : ' (no LL-HLS parts served)'}; hls.js latency p50 ${r.hlsLatencyP50} s (p95 ${r.hlsLatencyP95} s); machine load ${r.load} on ${os.availableParallelism()} cores`;
    out.push({
      figure: 'glass-to-glass-browser',
      label: `${label}, p50`,
      ours: { value: r.p50, unit: 's' },
      baseline: null,
      target: low ? { of: 'value', kind: 'max', limit: LOW_TARGETS.p50, text: `≤ ${LOW_TARGETS.p50} s` } : null,
      note: `${detail}; max ${r.max} s`,
      details: { ...r },
    });
    out.push({
      figure: 'glass-to-glass-browser',
      label: `${label}, p95`,
      ours: { value: r.p95, unit: 's' },
      baseline: null,
      target: low ? { of: 'value', kind: 'max', limit: LOW_TARGETS.p95, text: `≤ ${LOW_TARGETS.p95} s` } : null,
    });
    out.push({
      figure: 'glass-to-glass-browser',
      label: `${label}, rebuffering`,
      ours: { value: r.rebufferPercent, unit: '%' },
      baseline: null,
      target: low ? { of: 'value', kind: 'max', limit: LOW_TARGETS.rebufferPercent, text: `< ${LOW_TARGETS.rebufferPercent} %` } : null,
      note: `${r.stalls} stalls in ${r.playedSeconds} s played; ${r.errors.length} hls.js errors (${r.errors.filter((e) => e.fatal).length} fatal)`,
    });
  }
  return out;
}

/** Both modes on one stack, one after the other (never at once: each would skew the other's CPU). */
export async function runGlassToGlassBrowser(seconds: number, modes: LatencyMode[], log: (m: string) => void): Promise<Row[]> {
  const stack = await benchStack({ capacity: 2 });
  try {
    const browser = await launchBrowser();
    try {
      const results: ModeResult[] = [];
      for (const mode of modes) {
        results.push(await measureMode(stack, browser, mode, seconds, log));
        if (results.at(-1)!.refused) log(`${mode}: ${results.at(-1)!.refused}`);
      }
      return rows(results, seconds);
    } finally {
      await browser.close();
    }
  } finally {
    await stack.stop();
  }
}

export const glassToGlassBrowser: Figure = {
  name: 'glass-to-glass-browser',
  budgetMs: (quick) => (quick ? 240_000 : 480_000),
  run: (ctx: FigureContext) => runGlassToGlassBrowser(ctx.quick ? 30 : 120, ['standard', 'low'], ctx.log),
};

function parseArgs(argv: string[]): { seconds: number; modes: LatencyMode[] } {
  let seconds = 120;
  let modes: LatencyMode[] = ['standard', 'low'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--seconds') seconds = Number(argv[++i]);
    else if (arg === '--modes') modes = (argv[++i] ?? '').split(',').map((m) => m.trim()) as LatencyMode[];
    else throw new Error(`unknown argument ${arg}; usage: glass-to-glass-browser.ts [--seconds 120] [--modes standard,low]`);
  }
  if (!Number.isFinite(seconds) || seconds < 5 || seconds > 3600) throw new Error('--seconds must be 5–3600');
  if (modes.length === 0 || modes.some((m) => m !== 'standard' && m !== 'low')) throw new Error('--modes takes standard and/or low');
  return { seconds, modes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { seconds, modes } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (m: string) => console.error(`[glass-to-glass-browser +${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);
  const budget = setTimeout(() => {
    console.error('over budget (modes × (seconds + 150 s)); exiting');
    process.exit(1);
  }, modes.length * (seconds + 150) * 1000);
  runGlassToGlassBrowser(seconds, modes, log)
    .then((result) => {
      console.log(JSON.stringify(result, null, 2));
      clearTimeout(budget);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
