// A viewer in headless Chromium that plays a live HLS stream with hls.js and reads the wall-clock barcode
// (test/support/barcode.ts) of every frame it displays: requestVideoFrameCallback hands each presented frame, the
// band is drawn onto a small canvas and each cell's mean luma is kept with the frame's display time (epoch ms).
// Node drains those samples and decodes them (decodeBarcode is pure and unit-tested; the page only measures).
// The page also keeps hls.js's own `latency` each second, the rendition of each frame, and stalls ('waiting' until
// 'playing' again once playback had started), so rebuffering is waiting time / played time as a viewer lives it.
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { BARCODE_BAND, BARCODE_CELLS, decodeBarcode, stampAge } from './barcode.ts';
import type { HeadlessBrowser } from './browser.ts';

const HLS_JS_PATH = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

/** hls.js as the measurements configure it: LL-HLS on, catch-up up to 1.5× (the player settings). */
export const VIEWER_HLS_CONFIG = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 10 };

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>riverhead glass-to-glass</title></head>
<body style="margin:0;background:#000"><video id="v" muted autoplay playsinline width="640" height="360"></video></body></html>`;

// Plain JavaScript run in the page (not a transpiled function, so nothing of the test's build leaks into it).
const SAMPLER = `
window.__viewer = (function () {
  const CELLS = ${BARCODE_CELLS}, BAND = ${BARCODE_BAND}, CW = 8, CH = 8;
  const video = document.getElementById('v');
  const canvas = document.createElement('canvas');
  canvas.width = CELLS * CW; canvas.height = CH;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const state = { frames: [], latency: [], errors: [], switched: [], playStart: null, stallStart: null, stalledMs: 0, stalls: 0, hls: null, timer: null };
  function onFrame(now, meta) {
    if (state.frames.length < 20000 && video.videoWidth > 0) {
      const shownAt = performance.timeOrigin + meta.expectedDisplayTime;
      ctx.drawImage(video, 0, 0, video.videoWidth, Math.max(1, Math.floor(video.videoHeight * BAND)), 0, 0, canvas.width, canvas.height);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const cells = [];
      for (let c = 0; c < CELLS; c++) {
        let sum = 0, n = 0;
        for (let y = 2; y < CH - 2; y++) for (let x = c * CW + 2; x < c * CW + CW - 2; x++) {
          const i = (y * canvas.width + x) * 4;
          sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]; n++;
        }
        cells.push(Math.round(sum / n));
      }
      state.frames.push({ shownAt, cells, level: state.hls ? state.hls.currentLevel : -1, height: video.videoHeight });
    }
    video.requestVideoFrameCallback(onFrame);
  }
  video.addEventListener('waiting', () => { if (state.playStart !== null && state.stallStart === null) { state.stallStart = performance.now(); state.stalls++; } });
  video.addEventListener('playing', () => {
    const t = performance.now();
    if (state.playStart === null) state.playStart = t;
    if (state.stallStart !== null) { state.stalledMs += t - state.stallStart; state.stallStart = null; }
  });
  return {
    start(url, config) {
      const hls = new Hls(config);
      state.hls = hls;
      hls.on(Hls.Events.ERROR, (_e, d) => { if (state.errors.length < 200) state.errors.push({ at: Date.now(), type: d.type, details: d.details, fatal: !!d.fatal }); });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => state.switched.push({ at: Date.now(), level: d.level }));
      hls.loadSource(url);
      hls.attachMedia(video);
      video.play().catch(() => {});
      video.requestVideoFrameCallback(onFrame);
      state.timer = setInterval(() => {
        if (state.playStart !== null && state.latency.length < 2000) state.latency.push({ at: Date.now(), latency: hls.latency, target: hls.targetLatency, rate: video.playbackRate, level: hls.currentLevel });
      }, 1000);
    },
    drain() {
      const now = performance.now();
      const stalledMs = state.stalledMs + (state.stallStart !== null ? now - state.stallStart : 0);
      const out = {
        frames: state.frames.splice(0), latency: state.latency.splice(0), errors: state.errors.splice(0), switched: state.switched.splice(0),
        playedMs: state.playStart === null ? 0 : now - state.playStart, stalledMs, stalls: state.stalls,
        currentLevel: state.hls ? state.hls.currentLevel : -1, currentTime: video.currentTime,
        levels: state.hls ? state.hls.levels.map((l) => ({ height: l.height, bitrate: l.bitrate })) : [],
      };
      return out;
    },
    setLevel(i) { state.hls.nextLevel = i; },
    stop() { clearInterval(state.timer); if (state.hls) state.hls.destroy(); },
  };
})();
`;

export interface ShownFrame {
  /** display time, epoch ms */
  shownAt: number;
  /** null when the band could not be read */
  stamp: number | null;
  /** shownAt − stamp in ms (mod 2^24), null when unread */
  ageMs: number | null;
  level: number;
  height: number;
}

export interface ViewerDrain {
  frames: ShownFrame[];
  latency: { at: number; latency: number; target: number; rate: number; level: number }[];
  errors: { at: number; type: string; details: string; fatal: boolean }[];
  switched: { at: number; level: number }[];
  playedMs: number;
  stalledMs: number;
  stalls: number;
  currentLevel: number;
  currentTime: number;
  levels: { height: number; bitrate: number }[];
}

export interface BarcodeViewer {
  page: Page;
  /** Everything measured since the last drain (frames decoded here), with the running totals. */
  drain(): Promise<ViewerDrain>;
  /** hls.nextLevel = level: switch rendition at the next fragment boundary. */
  setLevel(level: number): Promise<void>;
  close(): Promise<void>;
}

/** A loopback page server: the viewer's page needs an http origin (the edge answers /hls with CORS `*`). */
function servePage(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') return reject(new Error('page server has no port'));
      resolve({ url: `http://127.0.0.1:${address.port}/`, server });
    });
  });
}

/** Opens a page in `browser` playing `masterUrl` with hls.js (VIEWER_HLS_CONFIG unless `hlsConfig`). */
export async function openBarcodeViewer(browser: HeadlessBrowser, masterUrl: string, hlsConfig: Record<string, unknown> = VIEWER_HLS_CONFIG): Promise<BarcodeViewer> {
  const { url, server } = await servePage();
  const { context, page } = await browser.newPage({ width: 800, height: 450 });
  try {
    await page.goto(url, { timeout: 15_000 });
    await page.addScriptTag({ path: HLS_JS_PATH });
    await page.addScriptTag({ content: SAMPLER });
    const supported = await page.evaluate(() => (globalThis as any).Hls.isSupported() as boolean);
    if (!supported) throw new Error('hls.js reports Media Source Extensions unsupported in this Chromium');
    await page.evaluate(([u, c]) => (globalThis as any).__viewer.start(u, c), [masterUrl, hlsConfig] as const);
  } catch (error) {
    await context.close().catch(() => undefined);
    server.close();
    throw error;
  }
  return {
    page,
    async drain() {
      const raw = await page.evaluate(() => (globalThis as any).__viewer.drain(), undefined, );
      const frames: ShownFrame[] = raw.frames.map((f: { shownAt: number; cells: number[]; level: number; height: number }) => {
        const stamp = decodeBarcode(f.cells);
        return { shownAt: f.shownAt, stamp, ageMs: stamp === null ? null : stampAge(f.shownAt, stamp), level: f.level, height: f.height };
      });
      return { ...raw, frames };
    },
    async setLevel(level) {
      await page.evaluate((l) => (globalThis as any).__viewer.setLevel(l), level);
    },
    async close() {
      await page.evaluate(() => (globalThis as any).__viewer.stop()).catch(() => undefined);
      await context.close().catch(() => undefined);
      server.close();
    },
  };
}

/** Pure: glass-to-glass and rebuffering figures from a run's drains. Ages above `maxAgeMs` count as unread. */
export function summarizeViewing(drains: ViewerDrain[], maxAgeMs = 60_000): {
  frames: number;
  read: number;
  ages: number[];
  hlsLatency: number[];
  playedMs: number;
  stalledMs: number;
  stalls: number;
  rebufferPercent: number;
} {
  const ages: number[] = [];
  let frames = 0;
  const hlsLatency: number[] = [];
  for (const drain of drains) {
    frames += drain.frames.length;
    for (const f of drain.frames) if (f.ageMs !== null && f.ageMs <= maxAgeMs) ages.push(f.ageMs);
    for (const l of drain.latency) if (Number.isFinite(l.latency)) hlsLatency.push(l.latency);
  }
  const last = drains.at(-1);
  const playedMs = last?.playedMs ?? 0;
  const stalledMs = last?.stalledMs ?? 0;
  return { frames, read: ages.length, ages, hlsLatency, playedMs, stalledMs, stalls: last?.stalls ?? 0, rebufferPercent: playedMs > 0 ? (100 * stalledMs) / playedMs : NaN };
}
