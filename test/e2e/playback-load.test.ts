// 200 concurrent players polling one live stream's playlists and segments through the edge for about ten seconds:
// the origin sees at most one request per object per cache period (1 s for playlists, once for a segment).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, type Publisher } from '../support/encoder.ts';

const PLAYERS = 200;
const DURATION_MS = 10_000;
/** The edge caches playlists for this long (edge/routes/playback.ts). */
const PLAYLIST_CACHE_SECONDS = 1;

let stack: Stack;
let publisher: Publisher;
let playbackId: string;

const uris = (playlist: string) => playlist.split('\n').filter((l) => l && !l.startsWith('#'));

beforeAll(async () => {
  stack = await startStack();
  // A light ladder (source at 300 kb/s and a 360p rung at 250 kb/s): the load is in requests, not in bytes, which the
  // local dev proxy in front of the Worker moves at a few tens of MB/s only.
  const stream = await stack.createStream({
    profiles: [{ name: '360p', width: 640, height: 360, bitrate: 250_000, fps: 30 }],
  });
  playbackId = stream.playbackIds[0].id;
  publisher = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, { size: '854x480', videoBitrate: '300k' });
  await stack.waitForStatus(stream.streamId, 'STREAMING');
  await waitFor('three segments in every rendition', async () => {
    const master = await fetch(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8`);
    if (!master.ok) return undefined;
    const variants = uris(await master.text());
    if (variants.length < 2) return undefined;
    for (const v of variants) {
      const media = await fetch(`${stack.edgeUrl}/hls/${playbackId}/${v}`);
      if (!media.ok || ((await media.text()).match(/#EXTINF/g)?.length ?? 0) < 3) return undefined;
    }
    return true;
  }, 40_000);
});

afterAll(async () => {
  await publisher?.kill();
  await stack?.stop();
});

interface Tally {
  requests: number;
  retried: number;
  failures: string[];
  bytes: number;
  playlists: Set<string>;
  segments: Set<string>;
}

/** One player: the master once, then its rendition's playlist about every second and each new segment, like hls.js. */
async function player(index: number, until: number, tally: Tally): Promise<void> {
  const base = `${stack.edgeUrl}/hls/${playbackId}/`;
  // Like hls.js, a request that fails at the network level is tried again (wrangler's local dev proxy drops a few
  // connections under this load); an HTTP error is a failure.
  const get = async (path: string): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      tally.requests += 1;
      try {
        const response = await fetch(base + path);
        const body = new Uint8Array(await response.arrayBuffer());
        if (response.status !== 200) tally.failures.push(`${response.status} ${path}`);
        tally.bytes += body.length;
        return new TextDecoder().decode(body);
      } catch (error) {
        if (attempt === 3) {
          tally.failures.push(`${path}: ${String((error as Error).cause ?? error)}`);
          return '';
        }
        tally.retried += 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  tally.playlists.add('master.m3u8');
  const variants = uris(await get('master.m3u8'));
  const variant = variants[index % variants.length]!;
  const folder = variant.slice(0, variant.lastIndexOf('/') + 1);
  tally.playlists.add(variant);
  const fetched = new Set<string>();
  // Start at a random moment within the first second so the players do not poll in lockstep.
  await new Promise((r) => setTimeout(r, Math.random() * 1000));
  while (Date.now() < until) {
    const started = Date.now();
    const segments = uris(await get(variant)).slice(-3);
    for (const segment of segments) {
      if (fetched.has(segment)) continue;
      fetched.add(segment);
      tally.segments.add(folder + segment);
      await get(folder + segment);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
  }
}

describe('many players, one origin fetch per object', () => {
  it(`${PLAYERS} players for ${DURATION_MS / 1000} s`, async () => {
    const tally: Tally = { requests: 0, retried: 0, failures: [], bytes: 0, playlists: new Set(), segments: new Set() };
    const before = await stack.originMetric('riverhead_origin_http_requests_total', { route: 'hls' });
    const started = Date.now();
    await Promise.all(Array.from({ length: PLAYERS }, (_, i) => player(i, started + DURATION_MS, tally)));
    const seconds = (Date.now() - started) / 1000;
    const originRequests = (await stack.originMetric('riverhead_origin_http_requests_total', { route: 'hls' })) - before;

    // Each playlist at most once per cache period (plus the period in progress), each segment once.
    const periods = Math.ceil(seconds / PLAYLIST_CACHE_SECONDS) + 1;
    const bound = tally.playlists.size * periods + tally.segments.size;
    console.log(
      `${PLAYERS} players, ${seconds.toFixed(1)} s: ${tally.requests} requests (${(tally.requests / seconds).toFixed(0)}/s, ` +
        `${(tally.bytes / 1e6).toFixed(1)} MB, ${tally.retried} retried after a dropped connection) through the edge; origin saw ${originRequests} for ${tally.playlists.size} playlists ` +
        `and ${tally.segments.size} segments (bound ${bound})`,
    );
    expect(tally.failures).toEqual([]);
    expect(tally.retried).toBeLessThan(tally.requests * 0.05);
    expect(tally.requests).toBeGreaterThan(PLAYERS * 3);
    expect(tally.requests).toBeGreaterThan(originRequests * 10);
    expect(originRequests).toBeGreaterThanOrEqual(tally.segments.size);
    expect(originRequests).toBeLessThanOrEqual(bound);
  });
});
