// The whole stack for end-to-end tests and the fault suite: the real edge in workerd (unstable_startWorker) and a
// real origin process, both on loopback, with a fresh workspace. Faults can be injected into it: the origin killed,
// frozen, restarted under a skewed clock (faketime) or on a small tmpfs; the edge frozen (SIGSTOP of workerd); the
// origin's path to the edge cut through a FaultProxy. Every log line of both is kept and scanned at stop() for every
// secret the stack saw in an API answer (defect 12). Everything is torn down by stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeTcpPort, freeUdpPort } from './ports.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { descendants, signal } from './processes.ts';
import { describeFindings, recordForRunScan, scanForSecrets, secretsInAnswer, type LogLine, type Secret, type SecretKind } from './log-secrets.ts';
import { createRiverheadClient, type RiverheadClient, type components } from '../../shared/client/index.ts';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

// wrangler appends every message, including each console.log of the Worker, to its debug log file; pointing that file
// somewhere of ours (before wrangler is loaded: it reads the path once) is how the edge's log lines are collected.
if (!process.env.WRANGLER_LOG_PATH?.endsWith('.log')) {
  process.env.WRANGLER_LOG_PATH = path.join(os.tmpdir(), 'riverhead-edge-logs', `wrangler-${process.pid}.log`);
}
const EDGE_LOG = process.env.WRANGLER_LOG_PATH;
const { unstable_startWorker } = await import('wrangler');

const ADMIN_TOKEN = 'e2e-admin-token';
/** The edge's master key: it derives each origin's own secret, and is never handed to an origin. */
const ORIGIN_SECRET = 'e2e-origin-secret-0123456789abcdef';
/** The stack's origin, provisioned through POST /admin/origins like any. */
const ORIGIN_ID = 'e2e-origin';

const quietEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
};

export interface StackOptions {
  /** Live streams at once (MAX_LIVE_STREAMS, formerly TRANSCODE_CAPACITY); default 2. */
  capacity?: number;
  /** ORIGIN_CAPACITY_UNITS (origin/admission); default 16, so 2 ladders of any size fit, independent of any calibration. */
  capacityUnits?: number;
  /** Extra environment for the origin process. */
  originEnv?: Record<string, string>;
  /** Extra plain-text vars for the edge Worker (e.g. WEBHOOK_RETRY_BASE_SECONDS). */
  edgeVars?: Record<string, string>;
  /** Run the origin under Debian's faketime with this offset, e.g. '+30s' or '-30s'. */
  faketime?: string;
  /** Put MEDIA_DIR on a tmpfs of this many bytes (needs root), so the disk can be filled. */
  mediaTmpfsBytes?: number;
  /** Route the origin's calls to the edge through a FaultProxy (stack.edgeProxy), so they can be cut. */
  edgeProxy?: boolean;
  /** Do not fail stop() when a secret is found in a log line (the fault suite reports it as a violation instead). */
  reportSecretsOnly?: boolean;
}

export interface OriginExit {
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the test asked for it (stopOrigin / killOrigin) */
  expected: boolean;
}

export interface Stack {
  edgeUrl: string;
  /** the operator's secrets this stack was started with (the admin API's token, the origin's own issued secret) */
  adminToken: string;
  originSecret: string;
  /** The stack's origin's id (ORIGIN_ID), provisioned through POST /admin/origins. */
  originId: string;
  /** Provisions another origin (POST /admin/origins) and gives its secret, kept with the stack's secrets. */
  provisionOrigin(originId: string, region?: string): Promise<string>;
  originUrl: string;
  /** The origin's admin listener (/healthz, /metrics); its public port serves neither. */
  originAdminUrl: string;
  ports: { rtmp: number; rtmps: number; srt: number; http: number; admin: number };
  dir: string;
  mediaDir: string;
  auth: string;
  originLogs: string[];
  /** The edge's log lines so far (the Worker's console output and workerd's messages). */
  edgeLogs(): Promise<string[]>;
  /** Every log line of both processes so far, with its source. */
  logLines(): Promise<LogLine[]>;
  /** Every secret the stack saw in an API answer or was told about. */
  secrets: Secret[];
  addSecret(kind: SecretKind, value: string): void;
  /** Every status the edge answered to the test's own calls (api(), edgeFetch()). */
  edgeStatuses: { at: number; path: string; status: number; detail?: string }[];
  /** A fetch of an edge URL whose status is kept in edgeStatuses. */
  edgeFetch(url: string | Request, init?: RequestInit): Promise<Response>;
  /** The proxy between origin and edge, when started with edgeProxy. */
  edgeProxy: FaultProxy | null;
  /** Every exit of an origin process, and whether the test caused it. */
  originExits: OriginExit[];
  /** The origin's Node process (under faketime it is faketime's child), null when not running. */
  originPid(): number | null;
  /** The ffmpeg processes the origin runs (live transcodes, jobs). */
  originFfmpegPids(): number[];
  /** Signals the origin's whole process group (its ffmpeg children too); SIGKILL counts as an expected exit. */
  signalOrigin(sig: NodeJS.Signals): void;
  /** The workerd processes of this stack's edge. */
  edgePids: number[];
  /** SIGSTOP every workerd of the edge for `ms`, then SIGCONT. */
  freezeEdge(ms: number): Promise<void>;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The typed API client (shared/client) with the workspace's token, over edgeFetch; createStream and getStream use it. */
  client: RiverheadClient;
  createStream(body?: unknown): Promise<any>;
  getStream(streamId: string): Promise<any>;
  waitForStatus(streamId: string, status: string, timeoutMs?: number): Promise<any>;
  /** The summed value of one Prometheus metric of the origin (all label sets, or those matching `labels`). */
  originMetric(name: string, labels?: Record<string, string>): Promise<number>;
  startOrigin(overrides?: { faketime?: string | null }): Promise<void>;
  /** The environment the origin was last started with (test/support/cluster.ts starts more origins from it). */
  originEnv(): Record<string, string | undefined>;
  /** Log lines of another process of this test (more origins, HAProxy), scanned for secrets with the stack's own. */
  addLogSource(source: string, lines: string[]): void;
  stopOrigin(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** The lines wrangler appended to its debug log since `offset`: entries are "--- <time> <level>", message, "---". */
async function edgeLogSince(offset: number): Promise<string[]> {
  let handle;
  try {
    handle = await open(EDGE_LOG, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return [];
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '' && line !== '---' && !/^--- \d{4}-\d\d-\d\dT[\d:.]+Z \w+$/.test(line));
  } finally {
    await handle.close();
  }
}

const workerdPids = () => descendants(process.pid).filter((p) => p.comm === 'workerd').map((p) => p.pid);

/**
 * Applies the D1 migrations to a fresh local database. Under a load of 8+ on 2 cores wrangler's local D1 once failed
 * the first migration with a bare workerd assertion ("false == true") on an empty database — a fault of the tool that
 * passes: a failed attempt drops the half-made database and tries again (3 attempts, 1 s then 2 s apart), and the
 * last error is thrown unchanged.
 */
async function applyMigrations(persist: string, xdg: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(path.join(root, 'node_modules/.bin/wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
        cwd: root,
        env: { ...quietEnv, XDG_CONFIG_HOME: xdg },
      });
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await rm(persist, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-e2e-'));
  const persist = path.join(dir, 'wrangler');
  const mediaDir = path.join(dir, 'media');
  const ports = { rtmp: await freeTcpPort(), rtmps: await freeTcpPort(), srt: await freeUdpPort(), http: await freeTcpPort(), admin: await freeTcpPort() };
  await mkdir(path.dirname(EDGE_LOG), { recursive: true });
  const edgeLogOffset = await stat(EDGE_LOG).then((s) => s.size, () => 0);
  let tmpfs = false;
  if (options.mediaTmpfsBytes) {
    await mkdir(mediaDir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${options.mediaTmpfsBytes}`, 'tmpfs', mediaDir]);
    tmpfs = true;
  }

  await applyMigrations(persist, path.join(dir, 'xdg'));
  const text = (value: string) => ({ type: 'plain_text' as const, value });
  // Secrets as secret_text, as `wrangler secret put` would make them: wrangler's dev output then shows "(hidden)".
  const secret = (value: string) => ({ type: 'secret_text' as const, value });
  // The edge runs from a bundle made now, not from edge/ itself: wrangler's bundler watches the sources whatever
  // dev.watch says, so an edit anywhere in the checkout reloaded a running stack (workerd restarted mid-test: local
  // Queues lost their delayed webhook retries, Durable Objects were reset).
  const bundleDir = path.join(dir, 'edge-bundle');
  await run(path.join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', bundleDir], {
    cwd: root,
    env: { ...quietEnv, XDG_CONFIG_HOME: path.join(dir, 'xdg') },
  });
  const workerdBefore = new Set(workerdPids());
  const worker = await unstable_startWorker({
    config: path.join(root, 'wrangler.toml'),
    entrypoint: path.join(bundleDir, 'index.js'),
    build: { bundle: false },
    bindings: {
      ADMIN_TOKEN: secret(ADMIN_TOKEN),
      ORIGIN_SECRET: secret(ORIGIN_SECRET),
      INGEST_HOST: text('127.0.0.1'),
      RTMP_PORT: text(String(ports.rtmp)),
      RTMPS_PORT: text(String(ports.rtmps)),
      SRT_PORT: text(String(ports.srt)),
      ...Object.fromEntries(Object.entries(options.edgeVars ?? {}).map(([name, value]) => [name, text(value)])),
    },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      persist,
      watch: false,
      // RIVERHEAD_EDGE_LOG_LEVEL=debug shows what workerd says about each request when a test needs looking into.
      // (Whatever the level, every line also goes to wrangler's debug log file, which is where edgeLogs() reads.)
      logLevel: (process.env.RIVERHEAD_EDGE_LOG_LEVEL as 'debug' | 'info' | 'warn' | undefined) ?? 'warn',
    },
  });
  const edgeUrl = (await worker.url).toString().replace(/\/$/, '');
  const edgePids = workerdPids().filter((pid) => !workerdBefore.has(pid));
  const originUrl = `http://127.0.0.1:${ports.http}`;
  const originAdminUrl = `http://127.0.0.1:${ports.admin}`;
  const edgeProxy = options.edgeProxy ? await startFaultProxy(edgeUrl) : null;

  const originLogs: string[] = [];
  const originExits: OriginExit[] = [];
  const secrets: Secret[] = [
    { kind: 'operator-secret', value: ORIGIN_SECRET },
    { kind: 'operator-secret', value: ADMIN_TOKEN },
  ];
  const known = new Set<string>(secrets.map((s) => s.value));
  const addSecret = (kind: SecretKind, value: string) => {
    if (known.has(value)) return;
    known.add(value);
    secrets.push({ kind, value });
  };
  let origin: ChildProcess | null = null;
  let expectingExit = false;
  let faketime = options.faketime ?? null;
  let originEnv: Record<string, string | undefined> = {};
  const logSources: { source: string; lines: string[] }[] = [];

  const startOrigin = async (overrides: { faketime?: string | null } = {}) => {
    if (overrides.faketime !== undefined) faketime = overrides.faketime;
    const node = [process.execPath, '--import', 'tsx', path.join(root, 'origin/main.ts')];
    const [command, ...args] = faketime ? ['faketime', '-f', faketime, ...node] : node;
    const child = spawn(command!, args, {
      cwd: root,
      env: (originEnv = {
        ...process.env,
        EDGE_URL: edgeProxy?.url ?? edgeUrl,
        ORIGIN_SECRET: originSecret,
        ORIGIN_ID,
        ORIGIN_PUBLIC_URL: originUrl,
        MEDIA_DIR: mediaDir,
        ORIGIN_STATE_DIR: path.join(dir, 'origin-state'),
        RTMP_PORT: String(ports.rtmp),
        RTMPS_PORT: String(ports.rtmps),
        SRT_PORT: String(ports.srt),
        HTTP_PORT: String(ports.http),
        ADMIN_PORT: String(ports.admin),
        TLS_CERT: path.join(root, '.state/tls/cert.pem'),
        TLS_KEY: path.join(root, '.state/tls/key.pem'),
        MAX_LIVE_STREAMS: String(options.capacity ?? 2),
        ORIGIN_CAPACITY_UNITS: String(options.capacityUnits ?? 16),
        // SIGTERM ends the test's origin at once, as before draining existed; drain tests set their own deadline.
        DRAIN_TIMEOUT_SECONDS: '0',
        ...options.originEnv,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    origin = child;
    expectingExit = false;
    const keep = (chunk: Buffer) => originLogs.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, sig) => {
      originExits.push({ at: Date.now(), code, signal: sig, expected: expectingExit });
      if (origin === child) origin = null;
    });
    await waitFor('the origin to answer /healthz', async () => ((await fetch(`${originAdminUrl}/healthz`)).ok ? true : undefined), 30_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\norigin output:\n${originLogs.slice(-30).join('\n')}`);
      },
    );
  };

  const signalGroup = (child: ChildProcess, sig: NodeJS.Signals) => signal(-child.pid!, sig);

  const stopOrigin = async (sig: NodeJS.Signals = 'SIGTERM') => {
    const child = origin;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(child, 'SIGCONT'); // a frozen origin cannot act on SIGTERM
    signalGroup(child, sig); // its ffmpeg children too
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
    if (origin === child) origin = null;
  };

  const originPid = () => {
    const child = origin;
    if (!child?.pid) return null;
    if (!faketime) return child.pid;
    return descendants(child.pid).find((p) => p.comm === 'node')?.pid ?? null;
  };

  const provisionOrigin = async (originId: string, region = 'local'): Promise<string> => {
    const response = await fetch(`${edgeUrl}/admin/origins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: originId, region }),
    });
    if (response.status !== 201) throw new Error(`provisioning origin ${originId} failed: ${response.status} ${await response.text()}`);
    const { data } = (await response.json()) as { data: { secret: string } };
    addSecret('operator-secret', data.secret);
    return data.secret;
  };
  const originSecret = await provisionOrigin(ORIGIN_ID);
  await startOrigin();

  const edgeStatuses: Stack['edgeStatuses'] = [];
  const edgeFetch = async (url: string | Request, init?: RequestInit) => {
    const response = await fetch(url, init);
    // A 5xx keeps the start of its body (the problem's type and detail), so a report says which failure it was.
    const detail = response.status >= 500 ? (await response.clone().text().catch(() => '')).slice(0, 300) : undefined;
    edgeStatuses.push({ at: Date.now(), path: new URL(typeof url === 'string' ? url : url.url).pathname, status: response.status, ...(detail !== undefined ? { detail } : {}) });
    if (edgeStatuses.length > 50_000) edgeStatuses.splice(0, 10_000);
    return response;
  };

  const workspaceResponse = await edgeFetch(`${edgeUrl}/admin/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e' }),
  });
  const workspace = (await workspaceResponse.json()) as { data: { accessToken: { id: string; secret: string } } };
  for (const secret of secretsInAnswer(workspace)) addSecret(secret.kind, secret.value);
  const { data } = workspace;
  const auth = `Basic ${Buffer.from(`${data.accessToken.id}:${data.accessToken.secret}`).toString('base64')}`;
  addSecret('access-token-secret', Buffer.from(`${data.accessToken.id}:${data.accessToken.secret}`).toString('base64'));

  const api = async <T = any>(method: string, apiPath: string, body?: unknown) => {
    const response = await edgeFetch(`${edgeUrl}/v1${apiPath}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const textBody = await response.text();
    const parsed = (textBody ? JSON.parse(textBody) : null) as T;
    for (const secret of secretsInAnswer(parsed)) addSecret(secret.kind, secret.value);
    return { status: response.status, body: parsed };
  };

  // The typed client the README shows: every answer it gets is read for secrets too, as api()'s are.
  const client = createRiverheadClient({
    baseUrl: edgeUrl,
    auth: { id: data.accessToken.id, secret: data.accessToken.secret },
    fetch: async (request) => {
      const response = await edgeFetch(request);
      if (/json/.test(response.headers.get('content-type') ?? '')) {
        for (const secret of secretsInAnswer(await response.clone().json().catch(() => null))) addSecret(secret.kind, secret.value);
      }
      return response;
    },
  });
  // undefined when the stream is not there (waitForStatus polls through a 404 as it did before)
  const getStream = async (streamId: string): Promise<any> =>
    (await client.GET('/v1/live/streams/{streamId}', { params: { path: { streamId } } })).data?.data;
  const edgeLogs = () => edgeLogSince(edgeLogOffset);
  const logLines = async (): Promise<LogLine[]> => [
    ...(await edgeLogs()).map((text) => ({ source: 'edge', text })),
    ...originLogs.map((text) => ({ source: 'origin', text })),
    ...logSources.flatMap(({ source, lines }) => lines.map((text) => ({ source, text }))),
  ];

  return {
    edgeUrl,
    adminToken: ADMIN_TOKEN,
    originSecret,
    originId: ORIGIN_ID,
    provisionOrigin,
    originUrl,
    originAdminUrl,
    ports,
    dir,
    mediaDir,
    auth,
    originLogs,
    edgeLogs,
    logLines,
    secrets,
    addSecret,
    edgeStatuses,
    edgeFetch,
    edgeProxy,
    originExits,
    originPid,
    originFfmpegPids() {
      const child = origin;
      return child?.pid ? descendants(child.pid).filter((p) => p.comm === 'ffmpeg').map((p) => p.pid) : [];
    },
    signalOrigin(sig) {
      const child = origin;
      if (!child) return;
      if (sig === 'SIGKILL' || sig === 'SIGTERM') expectingExit = true;
      signalGroup(child, sig);
    },
    edgePids,
    async freezeEdge(ms) {
      for (const pid of edgePids) signal(pid, 'SIGSTOP');
      try {
        await new Promise((r) => setTimeout(r, ms));
      } finally {
        for (const pid of edgePids) signal(pid, 'SIGCONT');
      }
    },
    api,
    client,
    async createStream(body = {}) {
      const created = await client.POST('/v1/live/streams', { body: body as components['schemas']['CreateLiveStreamRequest'] });
      if (created.response.status !== 201 || !created.data) {
        throw new Error(`create failed: ${created.response.status} ${JSON.stringify(created.error)}`);
      }
      return created.data.data;
    },
    getStream,
    async originMetric(name, labels = {}) {
      const text = await (await fetch(`${originAdminUrl}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const labelText = match[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(match[3]);
      }
      return sum;
    },
    waitForStatus: async (streamId, status, timeoutMs = 20_000) => {
      const since = Date.now();
      let last: any;
      try {
        return await waitFor(
          `stream ${streamId} to be ${status}`,
          async () => {
            const stream = (last = await getStream(streamId));
            if (stream?.status === status) return stream;
            // A status the stream only passed through between two polls counts too (STOPPED lasts well under a second
            // once the recording is watchable): its activity says it was entered after the wait began.
            const entered = (stream?.activities ?? []).some((a: any) => a.streamStatus === status && Date.parse(a.timestamp) >= since - 50);
            return entered ? stream : undefined;
          },
          timeoutMs,
        );
      } catch (error) {
        // Why it did not get there: what the edge says of the stream, and what the origin and the edge logged.
        const why = await statusWaitReport(streamId, last, since, originLogs, edgeLogs).catch((e: unknown) => `(no report: ${String(e)})`);
        throw new Error(`${(error as Error).message}\n${why}`);
      }
    },
    startOrigin,
    stopOrigin,
    originEnv: () => ({ ...originEnv }),
    addLogSource(source, lines) {
      logSources.push({ source, lines });
    },
    async stop() {
      for (const pid of edgePids) signal(pid, 'SIGCONT'); // never leave a frozen workerd behind
      await stopOrigin();
      await edgeProxy?.close();
      await worker.dispose();
      // wrangler appends to its log file asynchronously: give the last lines a moment to land.
      await new Promise((r) => setTimeout(r, 200));
      const lines = await logLines();
      if (tmpfs) await run('umount', ['-l', mediaDir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await recordForRunScan(secrets, lines);
      const findings = scanForSecrets(lines, secrets);
      if (findings.length > 0 && !options.reportSecretsOnly) {
        throw new Error(`${findings.length} log line(s) of this stack carry a secret:\n${describeFindings(findings)}`);
      }
    },
  };
}

/**
 * What a failed waitForStatus says besides "timed out": the stream's last status and activities as the edge answered
 * them, the origin's lines about the stream (its id) and its ingest lines since the stream was created (a refusal is
 * logged before the origin knows which stream a key is for), and the edge's lines naming the stream. Log lines carry no
 * stream keys (the origin redacts them, and every line is scanned for secrets at stop()); the stream's own answer is
 * reduced to its status and activities, so its key is never quoted here.
 */
async function statusWaitReport(
  streamId: string,
  stream: any,
  since: number,
  originLogs: string[],
  edgeLogs: () => Promise<string[]>,
): Promise<string> {
  const activities = ((stream?.activities ?? []) as any[])
    .slice(-6)
    .map((a) => `${a.timestamp} ${a.event} → ${a.streamStatus}${a.reason ? ` (${a.reason})` : ''}`.trim());
  const lineTime = (line: string) => Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '');
  const ingestEvent = /"event":"(rtmp\.(publish_\w+|closed|closing|connected|socket_error|protocol_error)|publish_refused|authorize_\w+|srt\.\w+)"/;
  // An encoder can only have come for the stream once it existed: its first activity (CREATED), else the wait's start.
  const from = Date.parse(stream?.activities?.[0]?.timestamp ?? '') || since;
  const aboutStream = originLogs.filter((line) => line.includes(streamId)).slice(-12);
  const ingest = originLogs.filter((line) => !line.includes(streamId) && ingestEvent.test(line) && !(lineTime(line) < from - 1000)).slice(-12);
  const edge = (await edgeLogs()).filter((line) => line.includes(streamId)).slice(-8);
  const section = (title: string, lines: string[]) =>
    `${title}:${lines.length ? `\n  ${lines.map((line) => line.slice(0, 500)).join('\n  ')}` : ' none'}`;
  return [
    `its status: ${stream ? stream.status : '(not found)'}`,
    section('its last activities', activities),
    section('origin lines naming it', aboutStream),
    section('origin ingest lines since it was created', ingest),
    section('edge lines naming it', edge),
  ].join('\n');
}

export { waitFor };
