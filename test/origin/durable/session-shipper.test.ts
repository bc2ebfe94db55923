// A session's shipper against a local edge stand-in (real EdgeClient and uploader): segments are stored before any
// playlist lists them, the master waits for every rendition's playlist, a storage outage makes the origin list closed
// segments after 3 s while R2 lists none, stored segments leave the disk outside the live window, and the end closes
// the playlists with ENDLIST — unless R2 shows another origin went on with the session.
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { edgeDurableStore } from '../../../origin/durable/durable-media.ts';
import { SessionShipper } from '../../../origin/durable/session-shipper.ts';
import { restoreTimeline } from '../../../origin/durable/timeline-restore.ts';
import { UploadLanes } from '../../../origin/durable/upload-lanes.ts';
import { parseMediaPlaylist } from '../../../origin/pipeline/playlists.ts';

let tmp: string;
let server: Server;
let edgeUrl: string;
let downUntil = 0;
const stored = new Map<string, Buffer>();
/** keys in the order the stand-in stored them */
const order: string[] = [];
const shippers: SessionShipper[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'shipper-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.replace(/^\/internal\/media\//, ''));
      if (Date.now() < downUntil) return void res.writeHead(503).end('storage unavailable');
      if (req.headers['x-riverhead-media-grant'] !== 'grant-1') return void res.writeHead(403).end('no grant');
      if (req.method === 'GET') {
        const body = stored.get(key);
        return void (body ? res.writeHead(200, { 'content-length': String(body.length) }).end(body) : res.writeHead(404).end());
      }
      stored.set(key, Buffer.concat(chunks));
      order.push(key);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const s of shippers.splice(0)) s.close();
  stored.clear();
  order.length = 0;
  downUntil = 0;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const PREFIX = 'live/str/ses/';

/** A session folder as ffmpeg leaves it: per rendition its playlist and `count` 2 s segments. */
async function session(name: string, renditions: string[], count: number) {
  const dir = path.join(tmp, name);
  for (const r of renditions) {
    await mkdir(path.join(dir, r), { recursive: true });
    await writePlaylist(dir, r, count);
  }
  await writeFile(path.join(dir, 'ladder.json'), JSON.stringify({ renditions: renditions.map((n) => ({ name: n })) }));
  await writeFile(path.join(dir, 'session.json'), '{"streamId":"str","sessionId":"ses"}');
  await writeFile(path.join(dir, 'master.m3u8'), `#EXTM3U\n${renditions.map((r) => `#EXT-X-STREAM-INF:BANDWIDTH=1\n${r}/index.m3u8`).join('\n')}\n`);
  return dir;
}

async function writePlaylist(dir: string, rendition: string, count: number) {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT'];
  for (let i = 0; i < count; i++) {
    const uri = `abc123-${String(i).padStart(5, '0')}.ts`;
    if (!existsSync(path.join(dir, rendition, uri))) await writeFile(path.join(dir, rendition, uri), `${rendition} segment ${i}`);
    lines.push('#EXTINF:2.000000,', uri);
  }
  await writeFile(path.join(dir, rendition, 'index.m3u8'), `${lines.join('\n')}\n`);
}

function shipper(dir: string) {
  const edge = new EdgeClient(edgeUrl, { originId: 'origin-test', secret: 'test-origin-secret-0123456789abcdef' });
  const s = new SessionShipper({ streamId: 'str', sessionId: 'ses', outDir: dir, prefix: PREFIX, grant: 'grant-1', store: edgeDurableStore(edge), lanes: new UploadLanes(4) });
  shippers.push(s);
  return s;
}

const r2Playlist = (rendition: string) => parseMediaPlaylist(stored.get(`${PREFIX}${rendition}/index.m3u8`)!.toString('utf8'));

describe('SessionShipper', () => {
  it('stores each segment before any playlist lists it, and the master once every rendition has its playlist', async () => {
    const dir = await session('order', ['source', '360p'], 3);
    const s = shipper(dir);
    await s.start();
    expect(await s.flush(10_000)).toBe(true);
    for (const r of ['source', '360p']) {
      expect(r2Playlist(r).segments.map((x) => x.uri)).toEqual(['abc123-00000.ts', 'abc123-00001.ts', 'abc123-00002.ts']);
      const playlistAt = order.indexOf(`${PREFIX}${r}/index.m3u8`);
      for (const x of r2Playlist(r).segments) expect(order.indexOf(`${PREFIX}${r}/${x.uri}`)).toBeLessThan(playlistAt);
    }
    const masterAt = order.indexOf(`${PREFIX}master.m3u8`);
    expect(masterAt).toBeGreaterThan(Math.max(order.indexOf(`${PREFIX}source/index.m3u8`), order.indexOf(`${PREFIX}360p/index.m3u8`)));
    expect(stored.has(`${PREFIX}ladder.json`) && stored.has(`${PREFIX}session.json`)).toBe(true);

    // A new segment event: stored, then listed; the local durable playlist follows.
    await writePlaylist(dir, 'source', 4);
    s.onSegment('source', 'abc123-00003.ts', 3, Date.now());
    await s.flush(10_000);
    expect(r2Playlist('source').segments).toHaveLength(4);
    expect(parseMediaPlaylist(await readFile(path.join(dir, 'source', 'durable.m3u8'), 'utf8')).segments).toHaveLength(4);
    expect(s.figures()).toEqual({ renditions: 2, segments: 7, duration: 8 });
  });

  it('lists a closed segment locally after 3 s of storage outage while R2 lists none, then stores it', async () => {
    const dir = await session('degraded', ['source'], 1);
    const s = shipper(dir);
    await s.start();
    await s.flush(10_000);
    downUntil = Date.now() + 5000;
    await writePlaylist(dir, 'source', 2);
    const closedAt = Date.now();
    s.onSegment('source', 'abc123-00001.ts', 1, closedAt);
    const local = () => readFile(path.join(dir, 'source', 'durable.m3u8'), 'utf8').then((t) => parseMediaPlaylist(t).segments.length);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await local()).toBe(1);
    await new Promise((r) => setTimeout(r, 2200));
    expect(await local()).toBe(2); // degraded: listed by the origin
    expect(r2Playlist('source').segments).toHaveLength(1); // never by R2 before it is stored
    expect(await s.flush(20_000)).toBe(true);
    expect(r2Playlist('source').segments).toHaveLength(2);
    expect(stored.has(`${PREFIX}source/abc123-00001.ts`)).toBe(true);
  });

  it('frees stored segments that are more than 60 s behind the end, keeping the live window', async () => {
    const dir = await session('retention', ['source'], 40);
    const s = shipper(dir);
    await s.start();
    expect(await s.flush(20_000)).toBe(true);
    const kept = (i: number) => existsSync(path.join(dir, 'source', `abc123-${String(i).padStart(5, '0')}.ts`));
    expect([0, 9].map(kept)).toEqual([false, false]);
    expect([10, 39].map(kept)).toEqual([true, true]);
  });

  it('closes the playlists with ENDLIST at the end, and leaves them to the origin that went on with the session', async () => {
    const dir = await session('final', ['source'], 2);
    const s = shipper(dir);
    await s.start();
    expect(await s.finalize(10_000)).toBe('final');
    expect(r2Playlist('source').endList).toBe(true);
    expect(await readFile(path.join(dir, 'source', 'durable.m3u8'), 'utf8')).toMatch(/#EXT-X-ENDLIST\n$/);

    const moved = await session('moved', ['source'], 2);
    const t = shipper(moved);
    await t.start();
    await t.flush(10_000);
    // another origin resumed the session and stored more
    stored.set(`${PREFIX}source/index.m3u8`, Buffer.from('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nc-00002.ts\n'));
    expect(await t.finalize(10_000)).toBe('moved');
    expect(r2Playlist('source').endList).toBe(false);
  });

  it('lists each leg with PDTs from its anchor: anchors stored before the playlist, kept by a restarted shipper and by an origin restoring from R2', async () => {
    const dir = await session('anchors', ['source'], 2);
    const s = shipper(dir);
    const anchor = Date.UTC(2026, 10, 28, 14, 0, 0, 250);
    s.setLegAnchor('abc123', anchor);
    s.setLegAnchor('abc123', anchor + 5000); // later news for a leg never moves it
    await s.start();
    expect(await s.flush(10_000)).toBe(true);
    const pdts = (text: string) => [...text.matchAll(/^#EXTINF:[^\n]*\n#EXT-X-PROGRAM-DATE-TIME:(\S+)$/gm)].map((m) => m[1]);
    const expected = ['2026-11-28T14:00:00.250+0000', '2026-11-28T14:00:02.250+0000'];
    const inR2 = stored.get(`${PREFIX}source/index.m3u8`)!.toString('utf8');
    expect(pdts(inR2)).toEqual(expected);
    expect(pdts(await readFile(path.join(dir, 'source', 'durable.m3u8'), 'utf8'))).toEqual(expected);
    expect(order.indexOf(`${PREFIX}pdt-anchors.json`)).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(`${PREFIX}pdt-anchors.json`)).toBeLessThan(order.indexOf(`${PREFIX}source/index.m3u8`));
    s.close();

    // The same origin restarted: the anchors come back from the folder, the next segment follows on.
    await writePlaylist(dir, 'source', 3);
    const again = shipper(dir);
    await again.start();
    expect(await again.flush(10_000)).toBe(true);
    expect(pdts(stored.get(`${PREFIX}source/index.m3u8`)!.toString('utf8'))).toEqual([...expected, '2026-11-28T14:00:04.250+0000']);

    // Another origin takes the session over from R2 alone: its durable playlist says the same.
    const elsewhere = path.join(tmp, 'anchors-elsewhere');
    await restoreTimeline({ read: async (key) => stored.get(key) ?? null, prefix: PREFIX, outDir: elsewhere });
    const other = shipper(elsewhere);
    await other.start();
    expect(await other.finalize(10_000)).toBe('final');
    expect(pdts(stored.get(`${PREFIX}source/index.m3u8`)!.toString('utf8'))).toEqual([...expected, '2026-11-28T14:00:04.250+0000']);
  });
});
