// The origin as it is deployed: the repository's tracked files copied to a fresh folder, installed there by
// scripts/deploy/install-origin.sh (npm ci --omit=dev from the npm cache, the SRT addon built with cc, the origin
// compiled to JavaScript), then started with `npm run origin:compiled` — no tsx, no TypeScript installed — against the
// real edge: it answers health on its loopback admin port, heartbeats (the edge lists it healthy), serves SRT (its
// addon loaded), takes an RTMP broadcast (its transcode worker thread runs compiled) that plays through the edge
// (signed HLS fetches), refuses unsigned HLS, and stops cleanly on SIGTERM.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publish, type Publisher } from '../support/encoder.ts';
import { freeTcpPort, freeUdpPort } from '../support/ports.ts';
import { startStack, waitFor, type Stack } from '../support/stack.ts';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const ORIGIN_ID = 'compiled-origin';

let dir: string;
let app: string;
let stack: Stack | undefined;
let origin: ChildProcess | undefined;
let publisher: Publisher | undefined;
const logs: string[] = [];

/**
 * The repository's files as a checkout of the working tree would hold them: tracked ones, and new ones not ignored
 * (in CI the two are the same; locally a new source file is then tested before its commit). Nothing ignored comes
 * along: no node_modules, no build output, no addon.
 */
async function copyTrackedFiles(to: string): Promise<number> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const files = [...new Set(stdout.split('\0'))].filter((f) => f !== '' && existsSync(path.join(root, f)));
  for (const file of files) {
    await mkdir(path.dirname(path.join(to, file)), { recursive: true });
    await cp(path.join(root, file), path.join(to, file), { preserveTimestamps: true });
  }
  return files.length;
}

/** Runs the install script in the copy, with no trace of the development checkout in its environment. */
async function install(): Promise<string> {
  const { stdout, stderr } = await run('bash', ['scripts/deploy/install-origin.sh'], {
    cwd: app,
    env: { PATH: cleanPath(), HOME: os.homedir(), NPM_FLAGS: '--offline' },
    timeout: 150_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout + stderr;
}

/** PATH without any node_modules/.bin (vitest puts the checkout's first), so nothing of it can be picked up. */
function cleanPath(): string {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').filter((p) => !p.includes('node_modules')).join(':');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-deployable-'));
  app = path.join(dir, 'app');
  await mkdir(app);
  const copied = await copyTrackedFiles(app);
  expect(copied).toBeGreaterThan(100);
  // The edge starts meanwhile: both take tens of seconds on a small machine.
  const [installLog, started] = await Promise.all([install(), startStack()]);
  stack = started;
  logs.push(...installLog.split('\n'));
}, 170_000);

afterAll(async () => {
  await publisher?.kill();
  if (origin?.pid && origin.exitCode === null && origin.signalCode === null) process.kill(-origin.pid, 'SIGKILL');
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('installs with npm ci --omit=dev, runs compiled with no tsx, heartbeats to the edge and stops on SIGTERM', async () => {
  // What the install left: production packages only, the SRT addon, the compiled origin.
  for (const devOnly of ['tsx', 'typescript', 'vitest', 'wrangler', 'node-gyp']) expect(existsSync(path.join(app, 'node_modules', devOnly)), devOnly).toBe(false);
  expect(existsSync(path.join(app, 'node_modules/uWebSockets.js'))).toBe(true);
  expect(existsSync(path.join(app, 'origin/srt/native/build/Release/riverhead_srt.node'))).toBe(true);
  expect(existsSync(path.join(app, 'origin/dist/origin/main.js'))).toBe(true);

  const s = stack!;
  const secret = await s.provisionOrigin(ORIGIN_ID);
  const ports = { rtmp: await freeTcpPort(), srt: await freeUdpPort(), http: await freeTcpPort(), admin: await freeTcpPort() };
  origin = spawn('npm', ['run', '--silent', 'origin:compiled'], {
    cwd: app,
    env: {
      PATH: cleanPath(),
      HOME: os.homedir(),
      EDGE_URL: s.edgeUrl,
      ORIGIN_ID,
      ORIGIN_SECRET: secret,
      ORIGIN_PUBLIC_URL: `http://127.0.0.1:${ports.http}`,
      MEDIA_DIR: path.join(dir, 'media'),
      ORIGIN_STATE_DIR: path.join(dir, 'origin-state'),
      RTMP_PORT: String(ports.rtmp),
      SRT_PORT: String(ports.srt),
      HTTP_PORT: String(ports.http),
      ADMIN_PORT: String(ports.admin),
      ORIGIN_CAPACITY_UNITS: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean));
  origin.stdout!.on('data', keep);
  origin.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    origin!.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const failWithLogs = (error: Error) => {
    throw new Error(`${error.message}\ncompiled origin output:\n${logs.slice(-40).join('\n')}`);
  };

  // Health on the admin port, bound to loopback only.
  const health = await waitFor('the compiled origin to answer /healthz on its admin port', async () => {
    const r = await fetch(`http://127.0.0.1:${ports.admin}/healthz`);
    return r.ok ? ((await r.json()) as { status: string }) : undefined;
  }, 60_000).catch(failWithLogs);
  expect(health.status).toBe('ok');
  await expect(fetch(`http://127.0.0.2:${ports.admin}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();

  // Its heartbeats reach the edge: listed healthy, announcing its ports.
  const listed = await waitFor('the edge to list the compiled origin as healthy', async () => {
    const r = await fetch(`${s.edgeUrl}/admin/origins`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    const { data } = (await r.json()) as { data: { id: string; health: string; ports: { rtmp: number; srt: number | null } | null }[] };
    const mine = data.find((o) => o.id === ORIGIN_ID);
    return mine?.health === 'healthy' ? mine : undefined;
  }, 30_000).catch(failWithLogs);
  expect(listed.ports?.rtmp).toBe(ports.rtmp);

  // The SRT listener is bound, so the addon built by the install loaded in the compiled worker thread.
  await waitFor('the SRT listener', async () => ((await run('ss', ['-Huln', `sport = :${ports.srt}`])).stdout.trim() !== '' ? true : undefined), 20_000).catch(failWithLogs);

  // A closed origin: its public port refuses unsigned HLS and serves no metrics.
  const unsigned = await fetch(`http://127.0.0.1:${ports.http}/hls/ls_x/ses_x/master.m3u8`);
  expect(unsigned.status).toBe(401);
  await unsigned.text();
  const metrics = await fetch(`http://127.0.0.1:${ports.http}/metrics`);
  expect(metrics.status).toBe(404);
  await metrics.text();

  // A broadcast: the compiled transcode worker thread makes the ladder, and the edge plays it with signed fetches.
  const stream = await s.createStream();
  const ingestUrl = String(stream.ingest.rtmp.url).replace(`:${s.ports.rtmp}/`, `:${ports.rtmp}/`);
  expect(ingestUrl).toContain(`:${ports.rtmp}/`);
  publisher = publish(ingestUrl, { size: '640x360', seconds: 60 });
  await s.waitForStatus(stream.streamId, 'STREAMING', 30_000).catch(failWithLogs);
  const playbackId = stream.playbackIds[0].id as string;
  const master = await waitFor('the master playlist through the edge', async () => {
    const r = await fetch(`${s.edgeUrl}/hls/${playbackId}/master.m3u8`);
    const text = await r.text();
    return r.status === 200 && text.includes('#EXT-X-STREAM-INF') ? text : undefined;
  }, 30_000).catch(failWithLogs);
  const variant = master.split('\n').find((l) => l && !l.startsWith('#'))!;
  await waitFor('a segment listed in a rendition through the edge', async () => {
    const r = await fetch(`${s.edgeUrl}/hls/${playbackId}/${variant}`);
    const text = await r.text();
    return r.status === 200 && /#EXTINF/.test(text) ? true : undefined;
  }, 30_000).catch(failWithLogs);
  await publisher.kill();
  // Those playlists came from this origin, through its signature check.
  const served = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
  expect(served).toMatch(/riverhead_origin_http_requests_total\{route="hls",status="200"\} [1-9]/);

  // Nothing ran through tsx: the origin is plain node on the compiled main.js.
  const group = (await run('pgrep', ['-a', '-g', String(origin.pid)])).stdout.split('\n');
  const originProcess = group.find((line) => /^\d+ node .*origin\/dist\/origin\/main\.js/.test(line));
  expect(originProcess, group.join('\n')).toBeDefined();
  expect(group.join('\n')).not.toContain('tsx');

  // SIGTERM to the origin itself (npm and its sh, its parents, then exit with its code).
  process.kill(Number(originProcess!.split(' ')[0]), 'SIGTERM');
  const exit = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  expect(exit, logs.slice(-20).join('\n')).toEqual({ code: 0, signal: null });
  expect(logs.join('\n')).not.toContain(secret);
});
