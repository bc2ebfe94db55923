// A session's media grant is renewed through the heartbeat before it runs out: an edge stand-in at the HTTP boundary
// (the real signing and grant code: it verifies the origin's signature, mints grants with the master key for the
// sessions it says the origin holds, and refuses media requests whose grant does not cover the key, like
// edge/routes/internal-media.ts). The origin side is real: OriginHeartbeatLoop, DurableMedia, its shipper, EdgeClient.
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { DurableMedia, edgeDurableStore, GRANT_RENEW_RETRY_MS } from '../../../origin/durable/durable-media.ts';
import { OriginHeartbeatLoop, ORIGIN_HEARTBEAT_PATH } from '../../../origin/origin-heartbeat.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER, readMediaGrant, verifyMediaGrant } from '../../../shared/media-grant.ts';
import { verifyRequest } from '../../../shared/request-signing.ts';
import { OriginHeartbeat } from '../../../shared/schemas/origin-heartbeat.ts';
import type { AuthorizeIngestResponse } from '../../../shared/schemas/internal.ts';

const MASTER = 'grant-renewal-master';
const ORIGIN_ID = 'renewal-origin';
const ORIGIN_SECRET = 'renewal-origin-secret-0123456789abcdef';
const DAY_MS = 24 * 3600_000;

let tmp: string;
let server: Server;
let edgeUrl: string;
/** sessions the stand-in's "StreamObject" says this origin holds */
const holds = new Set<string>();
/** renewal requests as the stand-in received them, beat by beat */
const asked: { streamId: string; sessionId: string }[][] = [];
const stored = new Map<string, Buffer>();
const refused: { key: string; reason: string }[] = [];
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'grant-renewal-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const headers = { get: (name: string) => (req.headers[name] as string | undefined) ?? null };
      const signed = await verifyRequest(ORIGIN_SECRET, req.method!, req.url!, req.method === 'GET' ? '' : new Uint8Array(body), headers);
      if (!signed.ok || req.headers['x-riverhead-origin'] !== ORIGIN_ID) return void res.writeHead(401).end('unsigned');
      if (req.url === ORIGIN_HEARTBEAT_PATH) {
        const beat = OriginHeartbeat.parse(JSON.parse(body.toString('utf8')));
        asked.push(beat.renewGrants ?? []);
        const grants = [];
        for (const { streamId, sessionId } of beat.renewGrants ?? []) {
          if (!holds.has(sessionId)) continue;
          grants.push({ streamId, sessionId, mediaGrant: await issueMediaGrant(MASTER, { originId: ORIGIN_ID, prefixes: [`live/${streamId}/${sessionId}/`], expiresAt: Date.now() + DAY_MS }) });
        }
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ heardAt: new Date().toISOString(), srtPassphraseKey: 'ab'.repeat(32), grants }));
      }
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.replace(/^\/internal\/media\//, ''));
      const verdict = await verifyMediaGrant(MASTER, req.headers[MEDIA_GRANT_HEADER] as string | undefined, ORIGIN_ID, key, Date.now());
      if (!verdict.ok) {
        refused.push({ key, reason: verdict.reason });
        return void res.writeHead(403, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ reason: verdict.reason }));
      }
      if (req.method === 'GET') {
        const object = stored.get(key);
        return void (object ? res.writeHead(200, { 'content-length': String(object.length) }).end(object) : res.writeHead(404).end());
      }
      stored.set(key, body);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
  holds.clear();
  asked.length = 0;
  stored.clear();
  refused.length = 0;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A session folder as ffmpeg leaves it: one rendition, `count` 2 s segments. */
async function writeSession(dir: string, streamId: string, sessionId: string, count: number): Promise<void> {
  await mkdir(path.join(dir, 'source'), { recursive: true });
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:EVENT'];
  for (let i = 0; i < count; i++) {
    const uri = `abc123-${String(i).padStart(5, '0')}.ts`;
    await writeFile(path.join(dir, 'source', uri), `segment ${i}`);
    lines.push('#EXTINF:2.000000,', uri);
  }
  await writeFile(path.join(dir, 'source', 'index.m3u8'), `${lines.join('\n')}\n`);
  await writeFile(path.join(dir, 'ladder.json'), JSON.stringify({ renditions: [{ name: 'source' }] }));
  await writeFile(path.join(dir, 'session.json'), JSON.stringify({ streamId, sessionId }));
  await writeFile(path.join(dir, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n');
}

/** DurableMedia holding one session under a grant that lasts `ttlMs`, and the heartbeat wired to it as origin/main.ts does. */
async function originWith(streamId: string, sessionId: string, ttlMs: number) {
  const edge = new EdgeClient(edgeUrl, { originId: ORIGIN_ID, secret: ORIGIN_SECRET });
  const durable = new DurableMedia({ store: edgeDurableStore(edge), emit: async () => undefined });
  cleanup.push(() => durable.close());
  const dir = path.join(tmp, sessionId);
  await writeSession(dir, streamId, sessionId, 2);
  const prefix = `live/${streamId}/${sessionId}/`;
  const shortGrant = await issueMediaGrant(MASTER, { originId: ORIGIN_ID, prefixes: [prefix], expiresAt: Date.now() + ttlMs });
  const authorized = { streamId, sessionId, durablePrefix: prefix, mediaGrant: shortGrant, resumeFrom: null } as Partial<AuthorizeIngestResponse>;
  await durable.prepare(authorized as AuthorizeIngestResponse, dir, false);
  const heartbeat = new OriginHeartbeatLoop({
    edgeUrl,
    credentials: { originId: ORIGIN_ID, secret: ORIGIN_SECRET },
    originUrl: 'http://127.0.0.1:9',
    announce: { region: 'local', ingestHost: '127.0.0.1', ports: { rtmp: 1935, rtmps: null, srt: null }, hlsUrl: 'http://127.0.0.1:9' },
    sessions: () => [{ streamId, sessionId }],
    loadReport: () => ({ capacity: { units: 4 }, load: { units: 1, sessions: 1 }, draining: false }),
    grantRenewal: { due: (max) => durable.grantsDue(Date.now(), max), renewed: (grants) => durable.renewGrants(grants) },
  });
  const kept = async () => JSON.parse(await readFile(path.join(dir, 'durable-grant.json'), 'utf8')) as { prefix: string; grant: string };
  return { edge, durable, dir, prefix, shortGrant, heartbeat, kept };
}

describe('media grant renewal through the heartbeat', () => {
  it('renews a grant running out before it does, keeps it on disk, and uploads after the old one expired go through', async () => {
    holds.add('ses_long');
    const origin = await originWith('str_long', 'ses_long', 2500);
    const expiresAt = readMediaGrant(origin.shortGrant)!.expiresAt;
    expect(await origin.durable.flushAll(10_000)).toBe(true);
    expect(stored.has(`${origin.prefix}source/abc123-00001.ts`)).toBe(true);

    // Less than 6 h left: the next beat asks, the edge answers a day-long grant, which the shipper and the folder take.
    expect(await origin.heartbeat.beat()).toBe(true);
    expect(asked).toEqual([[{ streamId: 'str_long', sessionId: 'ses_long' }]]);
    const kept = await origin.kept();
    expect(kept.prefix).toBe(origin.prefix);
    expect(kept.grant).not.toBe(origin.shortGrant);
    expect(readMediaGrant(kept.grant)!.expiresAt - Date.now()).toBeGreaterThan(DAY_MS - 60_000);
    // A day left: later beats ask nothing.
    expect(await origin.heartbeat.beat()).toBe(true);
    expect(asked[1]).toEqual([]);

    // The first grant is over (the stand-in refuses it, as the edge would), yet the broadcast's next segment is stored.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 100)));
    await expect(origin.edge.putMedia(`${origin.prefix}probe.bin`, new Uint8Array([1]), 'application/octet-stream', origin.shortGrant)).rejects.toThrow(/403/);
    refused.length = 0;
    await writeSession(origin.dir, 'str_long', 'ses_long', 3);
    origin.durable.onTranscodeEvent('ses_long', { type: 'segment', rendition: 'source', source: true, uri: 'abc123-00002.ts', sequence: 2, duration: 2, bytes: 9, closedAt: Date.now() });
    expect(await origin.durable.flushAll(10_000)).toBe(true);
    expect(stored.get(`${origin.prefix}source/abc123-00002.ts`)?.toString()).toBe('segment 2');
    expect(stored.get(`${origin.prefix}source/index.m3u8`)?.toString()).toContain('abc123-00002.ts');
    expect(refused).toEqual([]);
  }, 30_000);

  it('a session the edge no longer gives this origin a grant for keeps its grant, and is asked about again only after a while', async () => {
    const origin = await originWith('str_moved', 'ses_moved', 60_000); // not in `holds`: another origin took it over
    expect(await origin.durable.flushAll(10_000)).toBe(true);
    expect(await origin.heartbeat.beat()).toBe(true);
    expect(await origin.heartbeat.beat()).toBe(true);
    expect(asked).toEqual([[{ streamId: 'str_moved', sessionId: 'ses_moved' }], []]);
    expect((await origin.kept()).grant).toBe(origin.shortGrant);
    expect(origin.durable.grantsDue(Date.now() + GRANT_RENEW_RETRY_MS + 1, 8)).toEqual([{ streamId: 'str_moved', sessionId: 'ses_moved' }]);
  });
});
