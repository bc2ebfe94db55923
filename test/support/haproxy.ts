// Debian's HAProxy as the cluster's L4 load balancer in tests: TCP mode on loopback, one RTMP frontend (and an RTMPS
// one, passed through: the origins terminate TLS) in front of N origins. By default the config is the deploy guide's
// own (scripts/deploy/haproxy.cfg: health = GET /healthz on each origin's admin listener, 503 while it drains) with
// loopback addresses, test ports and short check intervals put in; `check: 'rtmp'` generates a plain one whose health
// check is a TCP connect to the RTMP port instead. The config is written to a temp folder, haproxy runs in the
// foreground (-db) as our child, its log lines are kept (they go through the secret scan with everything else), and
// stop() ends it. A stats socket lets a test see which origin holds a connection and which ones HAProxy thinks are up.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeTcpPort } from './ports.ts';

const run = promisify(execFile);
const DEPLOY_TEMPLATE = path.resolve(import.meta.dirname, '../../scripts/deploy/haproxy.cfg');

/**
 * HAProxy connects to the origins from this loopback address (`source` on each server line), and the origins it
 * fronts trust it for the PROXY header it sends (PROXY_PROTOCOL_FROM). Not 127.0.0.1: a test's own direct connection
 * to an origin's port stays plain RTMP from an untrusted peer, as an encoder's would.
 */
export const HAPROXY_SOURCE_ADDRESS = '127.0.0.2';

export interface HaproxyServer {
  /** the server's name in the config (the origin id) */
  name: string;
  rtmpPort: number;
  rtmpsPort: number | null;
  /** the origin's admin listener (GET /healthz), checked by the deploy template's config */
  adminPort: number;
}

export interface HaproxyPorts {
  rtmp: number;
  rtmps: number | null;
}

export interface HaproxyConfigOptions {
  ports: HaproxyPorts;
  servers: HaproxyServer[];
  statsSocket: string;
  /** health check interval; a server is down after `fall` failed checks */
  checkIntervalMs?: number;
  fall?: number;
  rise?: number;
}

/**
 * Pure: the haproxy.cfg for `servers` on loopback. TCP mode end to end (RTMP is not HTTP, RTMPS is passed through);
 * `option redispatch` + `retries` send a connection whose chosen server refuses the connect to another one, which
 * covers the second or so before the health check marks a killed origin down. Client/server timeouts are long: an
 * encoder's connection is one long stream whose quiet moments must not cut it.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const inter = options.checkIntervalMs ?? 500;
  const fall = options.fall ?? 2;
  const rise = options.rise ?? 2;
  const backend = (name: string, port: (s: HaproxyServer) => number | null) => [
    `backend ${name}`,
    '  balance leastconn',
    `  default-server inter ${inter}ms fastinter ${inter}ms downinter ${inter}ms fall ${fall} rise ${rise}`,
    ...options.servers.flatMap((s) => {
      const p = port(s);
      // check on the RTMP port for both: an origin whose RTMP listener is gone takes no RTMPS either.
      // send-proxy-v2 as the deploy guide's config does; the TCP check itself sends no header.
      return p === null ? [] : [`  server ${s.name} 127.0.0.1:${p} check port ${s.rtmpPort} send-proxy-v2 source ${HAPROXY_SOURCE_ADDRESS}`];
    }),
    '',
  ];
  return [
    '# written by test/support/haproxy.ts for one test run',
    'global',
    '  maxconn 512',
    `  stats socket ${options.statsSocket} mode 600 level admin`,
    '  log stdout format raw local0 info',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  option redispatch',
    '  retries 2',
    '  timeout connect 1s',
    '  timeout check 1s',
    '  timeout client 120s',
    '  timeout server 120s',
    '',
    'frontend rtmp_in',
    `  bind 127.0.0.1:${options.ports.rtmp}`,
    '  default_backend origins_rtmp',
    '',
    ...(options.ports.rtmps !== null ? ['frontend rtmps_in', `  bind 127.0.0.1:${options.ports.rtmps}`, '  default_backend origins_rtmps', ''] : []),
    ...backend('origins_rtmp', (s) => s.rtmpPort),
    ...(options.ports.rtmps !== null ? backend('origins_rtmps', (s) => s.rtmpsPort) : []),
  ].join('\n');
}

/**
 * Pure: the deploy guide's haproxy.cfg made to run here: binds on loopback at the test's ports, its example servers
 * replaced by ours (checked on their own admin port, connected to from HAPROXY_SOURCE_ADDRESS, which the origins trust
 * for the template's send-proxy-v2), a stats socket added, check intervals shortened. Everything else
 * (balance, timeouts, redispatch, the /healthz check) is the template's, so the test runs what an operator deploys.
 */
export function fromDeployTemplate(template: string, options: HaproxyConfigOptions): string {
  const inter = options.checkIntervalMs ?? 500;
  const replaceOnce = (text: string, pattern: RegExp, replacement: string) => {
    if (!pattern.test(text)) throw new Error(`scripts/deploy/haproxy.cfg changed: no line matches ${pattern} (test/support/haproxy.ts adapts it)`);
    return text.replace(pattern, replacement);
  };
  let config = template;
  config = replaceOnce(config, /^global\n/m, `global\n  stats socket ${options.statsSocket} mode 600 level admin\n`);
  config = replaceOnce(config, /^(\s*default-server .*?)inter \S+ fastinter \S+ downinter \S+/m, `$1inter ${inter}ms fastinter ${inter}ms downinter ${inter}ms`);
  config = replaceOnce(config, /^(\s*default-server .*?) port \d+/m, '$1');
  config = replaceOnce(config, /^(\s*bind) :1935$/m, `$1 127.0.0.1:${options.ports.rtmp}`);
  if (options.ports.rtmps !== null) config = replaceOnce(config, /^(\s*bind) :1936$/m, `$1 127.0.0.1:${options.ports.rtmps}`);
  const servers = (port: (s: HaproxyServer) => number | null) =>
    options.servers
      .flatMap((s) => (port(s) === null ? [] : [`  server ${s.name} 127.0.0.1:${port(s)} port ${s.adminPort} source ${HAPROXY_SOURCE_ADDRESS}`]))
      .join('\n');
  const withoutServers = config.replace(/^\s*server .*\n?/gm, '');
  config = replaceOnce(withoutServers, /^(backend origins_rtmp\n(?:(?!backend ).*\n)*)/m, `$1${servers((s) => s.rtmpPort)}\n\n`);
  config = replaceOnce(config, /^(backend origins_rtmps\n(?:(?!backend ).*\n?)*)/m, `$1${servers((s) => s.rtmpsPort)}\n`);
  return `# scripts/deploy/haproxy.cfg adapted by test/support/haproxy.ts for one test run\n${config}`;
}

export interface ServerStat {
  backend: string;
  server: string;
  /** 'UP', 'DOWN', 'UP 1/2', 'no check', 'MAINT'... as HAProxy says it */
  status: string;
  /** connections open through HAProxy to this server right now */
  current: number;
  /** connections ever sent to it */
  total: number;
}

export interface Haproxy {
  ports: HaproxyPorts;
  configFile: string;
  config: string;
  /** HAProxy's own log lines (one per TCP connection, plus health changes) */
  logs: string[];
  pid: number;
  /** `show stat` for the servers of every backend */
  stats(): Promise<ServerStat[]>;
  /** Waits until HAProxy sees exactly these servers up in the RTMP backend (others down). */
  waitForUp(servers: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** One command on the admin socket; HAProxy answers and closes. */
function socketCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`haproxy socket: no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (d) => (out += d));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Pure: the server rows of `show stat` (CSV whose header line starts with "# "). */
export function parseStat(csv: string): ServerStat[] {
  const lines = csv.split('\n').filter(Boolean);
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string) => header.indexOf(name);
  return lines
    .slice(1)
    .map((line) => line.split(','))
    .filter((row) => row[col('svname')] !== 'FRONTEND' && row[col('svname')] !== 'BACKEND')
    .map((row) => ({
      backend: row[col('pxname')] ?? '',
      server: row[col('svname')] ?? '',
      status: row[col('status')] ?? '',
      current: Number(row[col('scur')] ?? 0),
      total: Number(row[col('stot')] ?? 0),
    }));
}

export async function startHaproxy(options: {
  servers: HaproxyServer[];
  ports?: Partial<HaproxyPorts>;
  rtmps?: boolean;
  checkIntervalMs?: number;
  /** 'deploy' (default): the deploy guide's config, /healthz on the admin port; 'rtmp': a TCP connect to the RTMP port */
  check?: 'deploy' | 'rtmp';
}): Promise<Haproxy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-haproxy-'));
  const ports: HaproxyPorts = {
    rtmp: options.ports?.rtmp ?? (await freeTcpPort()),
    rtmps: options.rtmps === false ? null : (options.ports?.rtmps ?? (await freeTcpPort())),
  };
  const statsSocket = path.join(dir, 'admin.sock');
  const configOptions: HaproxyConfigOptions = {
    ports,
    servers: options.servers,
    statsSocket,
    ...(options.checkIntervalMs !== undefined ? { checkIntervalMs: options.checkIntervalMs } : {}),
  };
  const config =
    (options.check ?? 'deploy') === 'deploy'
      ? fromDeployTemplate(await readFile(DEPLOY_TEMPLATE, 'utf8'), configOptions)
      : haproxyConfig(configOptions);
  const configFile = path.join(dir, 'haproxy.cfg');
  await writeFile(configFile, config);
  // A config HAProxy refuses fails here with its own words, not as a process that exits at once.
  await run('haproxy', ['-c', '-q', '-f', configFile]).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`haproxy -c refused the generated config: ${error.stderr ?? error.message}\n${config}`);
  });
  const logs: string[] = [];
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    logs.push(...chunk.toString().split('\n').filter(Boolean));
    if (logs.length > 20_000) logs.splice(0, 5_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stats = async () => parseStat(await socketCommand(statsSocket, 'show stat'));
  // Up once the stats socket answers (the listeners are bound before it is).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited at start (${child.exitCode}):\n${logs.join('\n')}`);
    try {
      await stats();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`haproxy did not open its stats socket: ${String(error)}\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    ports,
    configFile,
    config,
    logs,
    pid: child.pid!,
    stats,
    async waitForUp(servers, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last: ServerStat[] = [];
      while (Date.now() < until) {
        last = (await stats()).filter((s) => s.backend === 'origins_rtmp');
        const up = last.filter((s) => s.status.startsWith('UP') && !s.status.includes('/')).map((s) => s.server);
        if (up.length === servers.length && servers.every((s) => up.includes(s))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`haproxy: waited for up=[${servers.join(', ')}], saw ${JSON.stringify(last.map((s) => [s.server, s.status]))}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
