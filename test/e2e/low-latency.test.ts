// Low latency end to end (issue 15): a real encoder (ffmpeg, 1 s keyframes, no B-frames, the wall-clock barcode of
// test/support/barcode.ts) publishes a stream created with latencyMode 'low'. Through the edge: every rendition's
// LL-HLS playlist passes the mediastreamvalidator-style checks (test/support/hls-validator.ts) against its siblings,
// with the bytes of the init segment and each segment's first part; a blocking reload for the part the preload hint
// names returns once that part exists (timed); hls.js in headless Chromium plays, is switched to every rendition in
// turn (hls.nextLevel) and shows frames of each; ~20 s of glass-to-glass is read from the displayed barcodes and
// reported (a sanity bound only: the figure is the bench's, scripts/bench/glass-to-glass-browser.ts). A standard
// stream on the same stack still gets its MPEG-TS playlists without parts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type HeadlessBrowser } from '../support/browser.ts';
import { publishBarcode } from '../support/barcode.ts';
import { openBarcodeViewer, summarizeViewing, type ViewerDrain } from '../support/barcode-viewer.ts';
import { Publishers } from '../support/encoder.ts';
import { lastListedPart, parseLlPlaylist, validateLlPlaylist } from '../support/hls-validator.ts';
import { variantsOf } from '../support/live-player.ts';
import { startStack, waitFor, type Stack } from '../support/stack.ts';

let stack: Stack;
let browser: HeadlessBrowser | undefined;
const stops: (() => Promise<void>)[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function text(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.text() };
}

async function bytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

beforeAll(async () => {
  stack = await startStack({ capacity: 2 });
});

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await browser?.close();
  await stack?.stop();
});

describe('low latency: LL-HLS through the edge, played in Chromium', () => {
  let masterUrl = '';
  let variantUrls: string[] = [];

  it('a low-mode stream publishes LL-HLS: parts in every rendition through the edge', async () => {
    const stream = await stack.createStream({ latencyMode: 'low' });
    expect(stream.latencyMode).toBe('low');
    const publisher = publishBarcode(stream.ingest.rtmp.url, { seconds: 150, size: '854x480', rate: 30, videoBitrate: '1500k', keyframeSeconds: 1 });
    stops.push(() => publisher.kill());
    masterUrl = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8`;
    variantUrls = await waitFor('a master playlist at the edge', async () => {
      const master = await text(masterUrl);
      const variants = master.status === 200 ? variantsOf(master.body) : [];
      return variants.length > 0 ? variants.map((v) => new URL(v, masterUrl).toString()) : undefined;
    }, 40_000);
    expect(variantUrls.length).toBeGreaterThanOrEqual(2); // 480p source: copied + encoded rungs
    // Every rendition with parts for at least two closed segments: what a viewer joining now is served, the stream's
    // first segment usually still among them (its start-up parts pass the same rules).
    await waitFor('LL-HLS playlists with two closed segments of parts', async () => {
      const all = await Promise.all(variantUrls.map((u) => text(u)));
      const ready = all.every((p) => {
        const withParts = parseLlPlaylist(p.body).segments.filter((s) => s.parts.length > 0);
        return p.status === 200 && withParts.filter((s) => s.uri !== null).length >= 2;
      });
      return ready ? true : undefined;
    }, 40_000);
  });

  it('every rendition passes the validator against the others, with its init and first parts\' bytes', async () => {
    const playlists = await Promise.all(variantUrls.map(async (url) => ({ url, text: (await text(url)).body })));
    for (const { url, text: body } of playlists) {
      const parsed = parseLlPlaylist(body);
      const media = new Map<string, Uint8Array>();
      const maps = new Set(parsed.segments.flatMap((s) => (s.map ? [s.map] : [])));
      for (const map of maps) media.set(new URL(map, url).toString(), await bytes(new URL(map, url).toString()));
      for (const segment of parsed.segments) {
        const first = segment.parts[0];
        if (first) media.set(new URL(first.uri, url).toString(), await bytes(new URL(first.uri, url).toString()));
      }
      const problems = validateLlPlaylist(body, { url, others: playlists, bytes: media });
      expect(problems, `${url}\n${body}`).toEqual([]);
      expect(media.size).toBeGreaterThan(2);
    }
  });

  it('blocking reloads for the next part return once that part exists', async () => {
    const url = variantUrls[0]!;
    // Playlists are cached at the edge for up to 1 s: the first blocking answer gives a fresh position.
    let last = lastListedPart(parseLlPlaylist((await text(url)).body))!;
    const waits: number[] = [];
    let partTarget = 1;
    let targetDuration = 2;
    for (let i = 0; i < 6; i++) {
      const next = { msn: last.msn, part: last.part + 1 };
      const started = Date.now();
      const held = await text(`${url}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
      const waited = Date.now() - started;
      expect(held.status, held.body).toBe(200);
      const answer = parseLlPlaylist(held.body);
      partTarget = answer.partTarget ?? partTarget;
      targetDuration = answer.targetDuration ?? targetDuration;
      // the answer lists the part asked for (or, when that part index is past the segment's end, the next segment)
      const reached = lastListedPart(answer)!;
      expect(reached.msn > next.msn || (reached.msn === next.msn && reached.part >= next.part), held.body).toBe(true);
      if (i > 0) waits.push(waited); // the first may have been answered at once from where a stale playlist left us
      last = reached;
    }
    const total = waits.reduce((a, b) => a + b, 0);
    console.log(JSON.stringify({ event: 'll_blocking_reload', waitsMs: waits, partTargetMs: partTarget * 1000 }));
    // Each request was held until its part was cut (parts come every ~PART-TARGET: five of them take about five
    // part targets, so the waits add up to at least half that) and none came near the 3-target-duration deadline.
    expect(total).toBeGreaterThan(waits.length * partTarget * 1000 * 0.5);
    for (const w of waits) expect(w).toBeLessThan(3 * targetDuration * 1000);
  });

  it('hls.js plays every rendition in Chromium, switching mid-stream, and shows ~20 s of glass-to-glass', async () => {
    browser = await launchBrowser();
    const viewer = await openBarcodeViewer(browser, masterUrl);
    stops.push(() => viewer.close());
    const drains: ViewerDrain[] = [];
    await waitFor('playback in Chromium', async () => {
      const d = await viewer.drain();
      drains.push(d);
      return d.playedMs > 0 ? true : undefined;
    }, 30_000);
    const levels = drains.at(-1)!.levels;
    expect(levels.length).toBe(variantUrls.length);
    const shown = new Map<number, number>();
    for (let level = levels.length - 1; level >= 0; level--) {
      await viewer.setLevel(level);
      await waitFor(`frames of rendition ${level} (${levels[level]!.height}p)`, async () => {
        const d = await viewer.drain();
        drains.push(d);
        for (const f of d.frames) if (f.level === level && f.height === levels[level]!.height) shown.set(level, (shown.get(level) ?? 0) + 1);
        return (shown.get(level) ?? 0) >= 15 ? true : undefined;
      }, 20_000);
    }
    expect([...shown.keys()].sort()).toEqual(levels.map((_, i) => i));

    // glass-to-glass: ~20 s on whatever rendition hls.js picks after the switches
    await viewer.setLevel(-1);
    const sample: ViewerDrain[] = [];
    const before = await viewer.drain();
    for (let i = 0; i < 4; i++) {
      await sleep(5000);
      sample.push(await viewer.drain());
    }
    const lastDrain = sample.at(-1)!;
    sample[sample.length - 1] = { ...lastDrain, playedMs: lastDrain.playedMs - before.playedMs, stalledMs: lastDrain.stalledMs - before.stalledMs };
    const s = summarizeViewing(sample);
    const sorted = [...s.ages].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    const report = { event: 'll_glass_to_glass', frames: s.frames, read: s.read, p50Ms: p(0.5), p95Ms: p(0.95), hlsLatencyS: s.hlsLatency, rebufferPercent: s.rebufferPercent, errors: sample.flatMap((d) => d.errors) };
    console.log(JSON.stringify(report));
    expect(s.read).toBeGreaterThan(s.frames * 0.8);
    expect(p(0.5)).toBeLessThan(5000);
    expect(drains.concat(sample).flatMap((d) => d.errors).filter((e) => e.fatal)).toEqual([]);
  });

  it('a standard stream on the same stack is unaffected: MPEG-TS segments, no parts', async () => {
    const stream = await stack.createStream();
    expect(stream.latencyMode).toBe('standard');
    const publishers = new Publishers({ size: '640x360', reconnect: true });
    stops.push(() => publishers.stopAll());
    publishers.start(stream.ingest.rtmp.url, { seconds: 60 });
    const master = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8`;
    const media = await waitFor('a standard media playlist with a segment', async () => {
      const m = await text(master);
      const variant = m.status === 200 ? variantsOf(m.body)[0] : undefined;
      if (!variant) return undefined;
      const p = await text(new URL(variant, master).toString());
      return p.status === 200 && /\.ts(\?|$)/m.test(p.body) ? p.body : undefined;
    }, 40_000);
    expect(media).not.toContain('#EXT-X-PART');
    expect(media).not.toContain('#EXT-X-SERVER-CONTROL');
  });
});
