// The whole stack for end-to-end tests: the real edge in workerd (unstable_startWorker) and a real origin process,
// both on loopback, with a fresh workspace. Everything is torn down by stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unstable_startWorker } from 'wrangler';
import { freeTcpPort, freeUdpPort } from './ports.ts';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

const ADMIN_TOKEN = 'e2e-admin-token';
const ORIGIN_SECRET = 'e2e-origin-secret-0123456789abcdef';

const quietEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
};

export interface StackOptions {
  capacity?: number;
  /** Extra environment for the origin process. */
  originEnv?: Record<string, string>;
  /** Extra plain-text vars for the edge Worker (e.g. WEBHOOK_RETRY_BASE_SECONDS). */
  edgeVars?: Record<string, string>;
}

export interface Stack {
  edgeUrl: string;
  originUrl: string;
  ports: { rtmp: number; rtmps: number; srt: number; http: number };
  dir: string;
  mediaDir: string;
  auth: string;
  originLogs: string[];
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  createStream(body?: unknown): Promise<any>;
  getStream(streamId: string): Promise<any>;
  waitForStatus(streamId: string, status: string, timeoutMs?: number): Promise<any>;
  /** The summed value of one Prometheus metric of the origin (all label sets, or those matching `labels`). */
  originMetric(name: string, labels?: Record<string, string>): Promise<number>;
  startOrigin(): Promise<void>;
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

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-e2e-'));
  const persist = path.join(dir, 'wrangler');
  const mediaDir = path.join(dir, 'media');
  const ports = { rtmp: await freeTcpPort(), rtmps: await freeTcpPort(), srt: await freeUdpPort(), http: await freeTcpPort() };

  await run(path.join(root, 'node_modules/.bin/wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: root,
    env: { ...quietEnv, XDG_CONFIG_HOME: path.join(dir, 'xdg') },
  });
  const text = (value: string) => ({ type: 'plain_text' as const, value });
  const worker = await unstable_startWorker({
    config: path.join(root, 'wrangler.toml'),
    bindings: {
      ADMIN_TOKEN: text(ADMIN_TOKEN),
      ORIGIN_SECRET: text(ORIGIN_SECRET),
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
      logLevel: (process.env.RIVERHEAD_EDGE_LOG_LEVEL as 'debug' | 'info' | 'warn' | undefined) ?? 'warn',
    },
  });
  const edgeUrl = (await worker.url).toString().replace(/\/$/, '');
  const originUrl = `http://127.0.0.1:${ports.http}`;

  const originLogs: string[] = [];
  let origin: ChildProcess | null = null;

  const startOrigin = async () => {
    origin = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'origin/main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        EDGE_URL: edgeUrl,
        ORIGIN_SECRET,
        ORIGIN_ID: 'e2e-origin',
        ORIGIN_PUBLIC_URL: originUrl,
        MEDIA_DIR: mediaDir,
        ORIGIN_STATE_DIR: path.join(dir, 'origin-state'),
        RTMP_PORT: String(ports.rtmp),
        RTMPS_PORT: String(ports.rtmps),
        SRT_PORT: String(ports.srt),
        HTTP_PORT: String(ports.http),
        TLS_CERT: path.join(root, '.state/tls/cert.pem'),
        TLS_KEY: path.join(root, '.state/tls/key.pem'),
        TRANSCODE_CAPACITY: String(options.capacity ?? 2),
        ...options.originEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const keep = (chunk: Buffer) => originLogs.push(...chunk.toString().split('\n').filter(Boolean));
    origin.stdout!.on('data', keep);
    origin.stderr!.on('data', keep);
    await waitFor('the origin to answer /healthz', async () => ((await fetch(`${originUrl}/healthz`)).ok ? true : undefined), 30_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\norigin output:\n${originLogs.slice(-30).join('\n')}`);
      },
    );
  };

  const stopOrigin = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const child = origin;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid!, signal); // its ffmpeg children too
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 8000);
    await exited;
    clearTimeout(timer);
    origin = null;
  };

  await startOrigin();

  const workspaceResponse = await fetch(`${edgeUrl}/admin/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e' }),
  });
  const { data } = (await workspaceResponse.json()) as { data: { accessToken: { id: string; secret: string } } };
  const auth = `Basic ${Buffer.from(`${data.accessToken.id}:${data.accessToken.secret}`).toString('base64')}`;

  const api = async <T = any>(method: string, apiPath: string, body?: unknown) => {
    const response = await fetch(`${edgeUrl}/v1${apiPath}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const textBody = await response.text();
    return { status: response.status, body: (textBody ? JSON.parse(textBody) : null) as T };
  };

  const getStream = async (streamId: string) => (await api(`GET`, `/live/streams/${streamId}`)).body.data;

  return {
    edgeUrl,
    originUrl,
    ports,
    dir,
    mediaDir,
    auth,
    originLogs,
    api,
    async createStream(body = {}) {
      const response = await api('POST', '/live/streams', body);
      if (response.status !== 201) throw new Error(`create failed: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body.data;
    },
    getStream,
    async originMetric(name, labels = {}) {
      const text = await (await fetch(`${originUrl}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const labelText = match[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(match[3]);
      }
      return sum;
    },
    waitForStatus: (streamId, status, timeoutMs = 20_000) =>
      waitFor(
        `stream ${streamId} to be ${status}`,
        async () => {
          const stream = await getStream(streamId);
          return stream?.status === status ? stream : undefined;
        },
        timeoutMs,
      ),
    startOrigin,
    stopOrigin,
    async stop() {
      await stopOrigin();
      await worker.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { waitFor };
