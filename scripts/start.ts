// `npm start`: the whole local stack — the edge under `wrangler dev` (local persistence in one state folder) and one
// origin — plus a local workspace and API key, printed with a copy-paste curl and the encoder settings. Ctrl-C stops all.
// `npm start -- --origins N` (N ≥ 2) runs N origins behind Debian's HAProxy (TCP, the deploy guide's haproxy.cfg on
// loopback), which takes the ingest ports, to try failover and draining by hand: an origin that exits then leaves the
// others running.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HAPROXY_SOURCE_ADDRESS, fromDeployTemplate } from '../test/support/haproxy.ts';

const root = path.resolve(import.meta.dirname, '..');
const stateDir = path.resolve(process.env.RIVERHEAD_STATE_DIR ?? path.join(root, '.state'));
const edgePort = Number(process.env.RIVERHEAD_EDGE_PORT ?? 8787);
const ports = {
  rtmp: Number(process.env.RIVERHEAD_RTMP_PORT ?? 1935),
  rtmps: Number(process.env.RIVERHEAD_RTMPS_PORT ?? 1936),
  srt: Number(process.env.RIVERHEAD_SRT_PORT ?? 9000),
  http: Number(process.env.RIVERHEAD_ORIGIN_HTTP_PORT ?? 8790),
  /** the origin's admin listener (/healthz, /metrics), on loopback */
  admin: Number(process.env.RIVERHEAD_ORIGIN_ADMIN_PORT ?? 8791),
};
const ingestHost = process.env.RIVERHEAD_INGEST_HOST ?? '127.0.0.1';
const originCount = Number(parseArgs({ options: { origins: { type: 'string', default: '1' } } }).values.origins);
if (!Number.isInteger(originCount) || originCount < 1 || originCount > 9) throw new Error('--origins must be 1..9');
/**
 * The ports of origin k (0-based). One origin takes the ingest ports itself; behind HAProxy (which then holds them)
 * origin k listens on RTMP/RTMPS 1000 + 10k above them, SRT k above (not balanced: HAProxy here is TCP only, so SRT
 * reaches the first origin directly), HTTP/admin 2k above.
 */
const originPorts = (k: number) =>
  originCount === 1
    ? ports
    : { rtmp: ports.rtmp + 1000 + 10 * k, rtmps: ports.rtmps + 1000 + 10 * k, srt: ports.srt + k, http: ports.http + 2 * k, admin: ports.admin + 2 * k };
const apiUrl = `http://127.0.0.1:${edgePort}`;
/** scripts/bootstrap.sh makes this self-signed pair for local RTMPS. */
const tlsDir = path.join(root, '.state/tls');

// Offline and quiet: no telemetry, no update checks, no calls to Cloudflare.
const quietEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  XDG_CONFIG_HOME: path.join(stateDir, 'xdg'),
};

interface LocalSecrets {
  adminToken: string;
  /** The edge's master key (its ORIGIN_SECRET): origins get their own secrets derived from it. */
  originSecret: string;
}
interface LocalWorkspace {
  workspaceId: string;
  accessTokenId: string;
  secret: string;
}

function readJson<T>(file: string): T | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
}

function localSecrets(): LocalSecrets {
  const file = path.join(stateDir, 'secrets.json');
  const existing = readJson<LocalSecrets>(file);
  if (existing) return existing;
  const secrets = { adminToken: randomBytes(24).toString('hex'), originSecret: randomBytes(32).toString('hex') };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

const children: ChildProcess[] = [];
let stopping = false;

/** `fatal: false`: its exit is reported and the rest keeps running (an origin of a cluster, killed to try failover). */
function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; prefix: string; fatal?: boolean }): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: options.env ?? quietEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`[${options.prefix}] ${line}\n`);
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  child.on('exit', (code, signal) => {
    if (!stopping && options.fatal === false) {
      process.stderr.write(`[start] ${options.prefix} exited (${signal ?? code}); the rest keeps running\n`);
    } else if (!stopping) {
      process.stderr.write(`[start] ${options.prefix} exited (${signal ?? code}); stopping the stack\n`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

/** Resolves once something accepts TCP connections on the port; throws when `owner` exits first or the deadline passes. */
async function untilListening(port: number, owner: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner.exitCode !== null || owner.signalCode !== null) throw new Error(`haproxy exited before it listened on ${port}`);
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (listening) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`haproxy did not listen on ${port} within ${timeoutMs / 1000} s`);
}

function runToEnd(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env: quietEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed:\n${output}`))));
  });
}

async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM'); // the whole group: wrangler's workerd, origin's ffmpegs
    } catch {
      // already gone
    }
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            try {
              if (child.pid) process.kill(-child.pid, 'SIGKILL');
            } catch {
              // already gone
            }
            resolve();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  process.exit(code);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

async function ensureWorkspace(secrets: LocalSecrets): Promise<LocalWorkspace> {
  const file = path.join(stateDir, 'workspace.json');
  const existing = readJson<LocalWorkspace>(file);
  if (existing) {
    const check = await fetch(`${apiUrl}/v1/live/streams?limit=1`, {
      headers: { authorization: `Basic ${Buffer.from(`${existing.accessTokenId}:${existing.secret}`).toString('base64')}` },
    });
    if (check.ok) return existing;
  }
  const response = await fetch(`${apiUrl}/admin/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secrets.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'local' }),
  });
  if (response.status !== 201) throw new Error(`creating the local workspace failed: ${response.status} ${await response.text()}`);
  const { data } = (await response.json()) as { data: { workspace: { id: string }; accessToken: { id: string; secret: string } } };
  const workspace = { workspaceId: data.workspace.id, accessTokenId: data.accessToken.id, secret: data.accessToken.secret };
  writeFileSync(file, JSON.stringify(workspace, null, 2), { mode: 0o600 });
  return workspace;
}

/**
 * A local origin's own secret, issued by the edge (POST /admin/origins; the edge's master key is never handed out).
 * Known already from an earlier run: a fresh secret (rotate-secret, which also enables it again), so none is kept on disk.
 */
async function provisionLocalOrigin(secrets: LocalSecrets, originId: string, region = 'local'): Promise<string> {
  const admin = (route: string, body: unknown) =>
    fetch(`${apiUrl}/admin${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  let response = await admin('/origins', { id: originId, region });
  if (response.status === 409) response = await admin(`/origins/${originId}/rotate-secret`, {});
  if (!response.ok) throw new Error(`provisioning origin ${originId} failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { data: { secret: string } }).data.secret;
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const secrets = localSecrets();
  const envFile = path.join(stateDir, 'edge.env');
  writeFileSync(envFile, `ADMIN_TOKEN=${secrets.adminToken}\nORIGIN_SECRET=${secrets.originSecret}\n`, { mode: 0o600 });

  const wrangler = path.join(root, 'node_modules/.bin/wrangler');
  const persist = path.join(stateDir, 'wrangler');
  await runToEnd(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist]);
  run(
    wrangler,
    [
      'dev',
      '--ip', '127.0.0.1',
      '--port', String(edgePort),
      '--persist-to', persist,
      '--env-file', envFile,
      '--show-interactive-dev-session=false',
      '--live-reload=false',
      '--log-level', 'warn',
      '--var', `INGEST_HOST:${ingestHost}`,
      '--var', `RTMP_PORT:${ports.rtmp}`,
      '--var', `RTMPS_PORT:${ports.rtmps}`,
      '--var', `SRT_PORT:${originPorts(0).srt}`,
      '--var', `PUBLIC_BASE_URL:${apiUrl}`,
    ],
    { prefix: 'edge' },
  );
  await waitForHttp(`${apiUrl}/`, 60_000);

  const origins: { id: string; ports: ReturnType<typeof originPorts>; pid: number | undefined }[] = [];
  for (let k = 0; k < originCount; k++) {
    const originId = k === 0 ? 'local-origin' : `local-origin-${k + 1}`;
    const own = originPorts(k);
    const originSecret = await provisionLocalOrigin(secrets, originId);
    const child = run(process.execPath, ['--import', 'tsx', 'origin/main.ts'], {
      prefix: k === 0 ? 'origin' : originId,
      fatal: originCount === 1,
      env: {
        ...quietEnv,
        EDGE_URL: apiUrl,
        ORIGIN_SECRET: originSecret,
        ORIGIN_ID: originId,
        ORIGIN_REGION: 'local',
        INGEST_HOST: ingestHost,
        MEDIA_DIR: path.join(stateDir, k === 0 ? 'media' : `media-${originId}`),
        ...(k === 0 ? {} : { ORIGIN_STATE_DIR: path.join(stateDir, `origin-state-${originId}`) }),
        ORIGIN_PUBLIC_URL: `http://127.0.0.1:${own.http}`,
        RTMP_PORT: String(own.rtmp),
        RTMPS_PORT: String(own.rtmps),
        SRT_PORT: String(own.srt),
        HTTP_PORT: String(own.http),
        ADMIN_PORT: String(own.admin),
        TLS_CERT: path.join(tlsDir, 'cert.pem'),
        TLS_KEY: path.join(tlsDir, 'key.pem'),
        // Behind HAProxy (--origins N), which sends a PROXY header from this address: the encoder's address is the one counted.
        ...(originCount > 1 ? { PROXY_PROTOCOL_FROM: HAPROXY_SOURCE_ADDRESS } : {}),
      },
    });
    await waitForHttp(`http://127.0.0.1:${own.admin}/healthz`, 30_000);
    origins.push({ id: originId, ports: own, pid: child.pid });
  }
  if (originCount > 1) {
    // HAProxy takes the ingest ports and spreads encoders over the origins: the deploy guide's config on loopback, so
    // an origin is checked on its admin listener's /healthz (503 while it drains).
    const dir = path.join(stateDir, 'haproxy');
    mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, 'haproxy.cfg');
    writeFileSync(
      configFile,
      fromDeployTemplate(readFileSync(path.join(root, 'scripts/deploy/haproxy.cfg'), 'utf8'), {
        ports: { rtmp: ports.rtmp, rtmps: ports.rtmps },
        servers: origins.map((o) => ({ name: o.id, rtmpPort: o.ports.rtmp, rtmpsPort: o.ports.rtmps, adminPort: o.ports.admin })),
        statsSocket: path.join(dir, 'admin.sock'),
        checkIntervalMs: 1000,
      }),
    );
    await runToEnd('haproxy', ['-c', '-q', '-f', configFile]);
    const haproxy = run('haproxy', ['-db', '-f', configFile], { prefix: 'haproxy' });
    // The ingest URL is printed only once HAProxy holds the port: on a busy machine it can take a moment to bind.
    await untilListening(ports.rtmp, haproxy, 15_000);
  }

  const workspace = await ensureWorkspace(secrets);
  const credentials = `${workspace.accessTokenId}:${workspace.secret}`;
  process.stdout.write(
    [
      '',
      'Riverhead is running.',
      '',
      `  API URL:       ${apiUrl}/v1   (docs: ${apiUrl}/v1/docs)`,
      `  Access token:  ${credentials}`,
      `  Dashboard:     ${apiUrl}/dashboard   (sign in with the token's id and secret, the two halves above)`,
      '',
      'Create a live stream:',
      `  curl -s -u ${credentials} -H 'content-type: application/json' -d '{"reconnectWindow": 60}' ${apiUrl}/v1/live/streams`,
      '',
      'Publish to it (use the streamKey from the response):',
      `  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -preset veryfast -g 60 -c:a aac -f flv rtmp://${ingestHost}:${ports.rtmp}/live/<streamKey>`,
      `  OBS: Settings → Stream → Custom: Server rtmp://${ingestHost}:${ports.rtmp}/live  Stream Key <streamKey>`,
      `       (RTMPS: rtmps://${ingestHost}:${ports.rtmps}/live, self-signed certificate in ${tlsDir})`,
      `       keyframe interval 2 s, x264, AAC 48 kHz`,
      '',
      `Watch: ${apiUrl}/embed/<playbackId>   (in a browser; the HLS itself: ${apiUrl}/hls/<playbackId>/master.m3u8)`,
      '',
      ...(originCount > 1
        ? [
            `Cluster: ${originCount} origins behind HAProxy (TCP; config in ${path.join(stateDir, 'haproxy/haproxy.cfg')})`,
            `  HAProxy ingest URL: rtmp://${ingestHost}:${ports.rtmp}/live   (RTMPS: rtmps://${ingestHost}:${ports.rtmps}/live)`,
            ...origins.map((o) => `  ${o.id.padEnd(16)} pid ${o.pid}  rtmp ${o.ports.rtmp}  http ${o.ports.http}  admin http://127.0.0.1:${o.ports.admin}/healthz`),
            `  SRT is not balanced here: srt://${ingestHost}:${origins[0]!.ports.srt} reaches ${origins[0]!.id} directly.`,
            '  Try failover: publish with reconnects (OBS), then kill -9 -<pid> one origin (its ffmpeg too) or kill -TERM <pid> to drain it.',
            '',
          ]
        : []),
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`[start] ${error instanceof Error ? error.message : String(error)}\n`);
  void stop(1);
});
