// The origin's simulive runner with the real ingest (LiveIngest, transcode pool, outbox, EdgeClient) against an edge
// stand-in at the HTTP boundary (signatures and media grants checked with the real code): the source is read through
// /internal/media, authorize gets the ticket and no key, the source plays in real time into HLS playlists with
// program date-times, and the broadcast ends with publish_done 'simulive_source_ended'. A refused ticket leaves nothing
// behind; an unreadable source is an `error` and a publish_done saying why; a second command is 409, or a new ticket.
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient } from '../../origin/edge-client.ts';
import { EventOutbox } from '../../origin/event-outbox.ts';
import { LiveIngest } from '../../origin/ingest/live-ingest.ts';
import { createMetrics } from '../../origin/metrics.ts';
import { TranscodePool } from '../../origin/pipeline/transcode-pool.ts';
import { SimuliveRunner, SOURCE_ENDED, SOURCE_FOLDER } from '../../origin/simulive/simulive-runner.ts';
import { downloadSource } from '../../origin/simulive/source-download.ts';
import { issueMediaGrant, MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../shared/media-grant.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import type { SimuliveCommand } from '../../shared/schemas/internal.ts';

const run = promisify(execFile);
const MASTER = 'simulive-runner-master';
const ORIGIN_ID = 'simulive-runner-origin';
const ORIGIN_SECRET = 'simulive-runner-secret-0123456789abcdef';
const GOOD_TICKET = 'slt_good-ticket-0123456789';
const SOURCE_SECONDS = 4;

let tmp: string;
let mediaDir: string;
let server: Server;
let edgeUrl: string;
let pool: TranscodePool;
let outbox: EventOutbox;
let runner: SimuliveRunner;
const objects = new Map<string, Buffer>();
const authorizeBodies: any[] = [];
const events: any[] = [];
let sessions = 0;

const waitFor = async <T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'simulive-runner-'));
  mediaDir = path.join(tmp, 'media');
  const source = path.join(tmp, 'source.mp4');
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(SOURCE_SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
  ]);
  objects.set('recordings/rec_src/recording.mp4', await readFile(source));

  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = req.url ?? '';
      const text = Buffer.concat(chunks).toString('utf8');
      const signed = await verifyRequest(ORIGIN_SECRET, req.method ?? 'GET', url, text, { get: (name) => (req.headers[name.toLowerCase()] as string | undefined) ?? null });
      if (!signed.ok) return void res.writeHead(401).end();
      if (url.startsWith('/internal/media/')) {
        const key = decodeURIComponent(url.slice('/internal/media/'.length));
        const grant = await verifyMediaGrant(MASTER, req.headers[MEDIA_GRANT_HEADER] as string | undefined, ORIGIN_ID, key, Date.now());
        if (!grant.ok) return void res.writeHead(403).end(grant.reason);
        const body = objects.get(key);
        if (!body) return void res.writeHead(404).end();
        return void res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      }
      const body = JSON.parse(text);
      if (url === '/internal/ingest/authorize') {
        authorizeBodies.push(body);
        if (body.simuliveTicket !== GOOD_TICKET) {
          return void res.writeHead(403, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ reason: 'simulive_ticket_invalid', detail: 'no live simulive ticket' }));
        }
        sessions += 1;
        const sessionId = `ses_${sessions}`;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          streamId: body.streamId, sessionId, resume: false, profiles: null, maxResolution: '1080p', record: false, reconnectWindow: 1,
          simulcast: [], srtLatency: 120, mediaGrant: 'unused', durablePrefix: `live/${body.streamId}/${sessionId}`, resumeFrom: null,
        }));
      }
      if (url === '/internal/events') {
        events.push(...body.events);
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: body.events.map((e: any) => ({ id: e.id, outcome: 'applied' })) }));
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  edgeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const credentials = { originId: ORIGIN_ID, secret: ORIGIN_SECRET };
  const edge = new EdgeClient(edgeUrl, credentials, 3000);
  outbox = await EventOutbox.open(path.join(tmp, 'outbox'), edge);
  pool = new TranscodePool({ capacity: 2, warmThreads: 0 });
  const ingest = new LiveIngest({
    originId: ORIGIN_ID, publicUrl: 'http://127.0.0.1:9', mediaDir, statsIntervalMs: 1000, edge, outbox, pool,
    metrics: createMetrics({ liveStreams: () => 0, outboxDepth: () => 0 }),
  });
  runner = new SimuliveRunner({
    ingest, mediaDir, emit: (event) => outbox.enqueue(event),
    download: (order, file, signal) => downloadSource({ edgeUrl, credentials, key: order.source.key, grant: order.grant, file, signal, attempts: 2 }),
  });
});

afterAll(async () => {
  runner?.close();
  outbox?.close();
  await pool?.close();
  server?.closeAllConnections();
  server?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function command(streamId: string, recordingId: string, ticket = GOOD_TICKET): Promise<SimuliveCommand> {
  const grant = await issueMediaGrant(MASTER, { originId: ORIGIN_ID, prefixes: [`recordings/${recordingId}/`], expiresAt: Date.now() + 60_000 });
  return { streamId, ticket, source: { recordingId, key: `recordings/${recordingId}/recording.mp4` }, grant };
}
const eventsOf = (streamId: string) => events.filter((e) => e.streamId === streamId);

describe('SimuliveRunner', () => {
  it('plays the source in real time into the live pipeline and ends with simulive_source_ended', async () => {
    const started = Date.now();
    expect(runner.start(await command('str_play', 'rec_src'))).toEqual({ ok: true });
    // A second command once it broadcasts: 409 (the ticket was used; the edge's retry finds it running).
    await waitFor('the broadcast to be published', () => eventsOf('str_play').find((e) => e.type === 'publish'), 10_000);
    const again = runner.start(await command('str_play', 'rec_src'));
    expect(again).toMatchObject({ ok: false, status: 409 });

    const done = await waitFor('publish_done', () => eventsOf('str_play').find((e) => e.type === 'publish_done'), 30_000);
    const elapsed = Date.now() - started;
    expect(done.data.reason).toBe(SOURCE_ENDED);
    expect(elapsed).toBeGreaterThan((SOURCE_SECONDS - 0.5) * 1000); // -re: no faster than the source plays
    const authorize = authorizeBodies.find((b) => b.streamId === 'str_play');
    expect(authorize).toMatchObject({ protocol: 'simulive', simuliveTicket: GOOD_TICKET, originId: ORIGIN_ID });
    expect(authorize.streamKey).toBeUndefined();
    expect(eventsOf('str_play').find((e) => e.type === 'publish')?.data.protocol).toBe('simulive');

    // The session's source playlist: the whole source, segment by segment, each with its program date-time.
    await waitFor('the runner to finish', () => (runner.running.includes('str_play') ? undefined : true), 10_000);
    const playlist = await readFile(path.join(mediaDir, 'str_play', 'ses_1', 'source', 'index.m3u8'), 'utf8');
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(Math.abs(durations.reduce((a, b) => a + b, 0) - SOURCE_SECONDS)).toBeLessThan(0.3);
    expect(playlist.match(/#EXT-X-PROGRAM-DATE-TIME:/g)).toHaveLength(durations.length);
    expect(await readdir(path.join(mediaDir, SOURCE_FOLDER))).toEqual([]); // the downloaded source is gone
  }, 60_000);

  it('leaves nothing behind when the edge refuses the ticket', async () => {
    expect(runner.start(await command('str_refused', 'rec_src', 'slt_stale-ticket-0123456789'))).toEqual({ ok: true });
    await waitFor('the runner to give up', () => (runner.running.includes('str_refused') ? undefined : true), 10_000);
    expect(authorizeBodies.filter((b) => b.streamId === 'str_refused')).toHaveLength(1);
    expect(eventsOf('str_refused')).toEqual([]);
    expect(await readdir(path.join(mediaDir, SOURCE_FOLDER))).toEqual([]);
  }, 20_000);

  it('reports a source it cannot read: an error event, then publish_done saying why', async () => {
    expect(runner.start(await command('str_missing', 'rec_gone'))).toEqual({ ok: true });
    const done = await waitFor('publish_done', () => eventsOf('str_missing').find((e) => e.type === 'publish_done'), 20_000);
    expect(done.data.reason).toMatch(/^simulive_failed: the source could not be read: .*404/);
    const error = eventsOf('str_missing').find((e) => e.type === 'error');
    expect(error?.data.reason).toMatch(/^simulive failed: the source could not be read/);
    expect(eventsOf('str_missing').map((e) => e.type).indexOf('error')).toBeLessThan(eventsOf('str_missing').map((e) => e.type).indexOf('publish_done'));
  }, 30_000);
});
