// An origin cluster for end-to-end tests: the stack's real edge and its origin (test/support/stack.ts), N − 1 more
// origins on the same edge, each with its own identity (issued through POST /admin/origins), ports, MEDIA_DIR and
// state folder, and Debian's HAProxy in TCP mode in front of all of them (test/support/haproxy.ts). The edge's ingest
// settings point at HAProxy, so the encoder publishes to the load balancer, never to an origin. HAProxy runs the deploy
// guide's config (scripts/deploy/haproxy.cfg) adapted to loopback. Each origin can be
// killed (its process group, ffmpeg children too), terminated (SIGTERM to the origin process alone, as a container
// runtime does) and started again; every log line of every origin and of HAProxy goes through the stack's secret scan.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freeTcpPort, freeUdpPort } from './ports.ts';
import { HAPROXY_SOURCE_ADDRESS, startHaproxy, type Haproxy } from './haproxy.ts';
import { descendants, signal } from './processes.ts';
import { startStack, waitFor, type OriginExit, type Stack, type StackOptions } from './stack.ts';

const root = path.resolve(import.meta.dirname, '../..');

export interface OriginPorts {
  rtmp: number;
  rtmps: number;
  srt: number;
  http: number;
  admin: number;
}

export interface ClusterOrigin {
  id: string;
  ports: OriginPorts;
  /** how the edge reaches its HLS and control routes (ORIGIN_PUBLIC_URL) */
  url: string;
  mediaDir: string;
  stateDir: string;
  logs: string[];
  exits: OriginExit[];
  /** the origin's Node process, null when not running */
  pid(): number | null;
  running(): boolean;
  /** the ffmpeg processes it runs (live transcodes, jobs) */
  ffmpegPids(): number[];
  /** SIGKILL to its whole process group (its ffmpeg too): the machine is gone. Resolves with the exit. */
  kill(): Promise<OriginExit>;
  /** SIGTERM to the origin process alone (a rolling restart); resolves with its exit, SIGKILL after `timeoutMs`. */
  terminate(timeoutMs?: number): Promise<OriginExit>;
  start(): Promise<void>;
}

export interface ClusterOptions extends StackOptions {
  /** how many origins (default 2); the first is the stack's own */
  origins?: number;
  /** HAProxy's health check interval (default 500 ms) */
  checkIntervalMs?: number;
  /** HAProxy's config: the deploy guide's (default; /healthz on the admin port) or a TCP check of the RTMP port */
  haproxyCheck?: 'deploy' | 'rtmp';
}

export interface Cluster {
  stack: Stack;
  origins: ClusterOrigin[];
  haproxy: Haproxy;
  /** where an encoder publishes: HAProxy's RTMP (or RTMPS) frontend */
  ingestUrl(streamKey: string, protocol?: 'rtmp' | 'rtmps'): string;
  origin(id: string): ClusterOrigin;
  /** The origins HAProxy holds an encoder connection to right now. */
  carriers(): Promise<ClusterOrigin[]>;
  /**
   * Waits until the broadcast has ended: STOPPED, or already COMPLETED (a recording made watchable within a moment of
   * STOPPED completes the stream before a poll may see STOPPED).
   */
  waitForEnded(streamId: string, timeoutMs?: number): Promise<any>;
  /** When each origin accepted a publish of this stream, from its own log (event publish_accepted), in time order. */
  publishesAccepted(streamId: string): { originId: string; at: number; resume: boolean }[];
  /** Log lines of any origin that carry a media grant (a credential the edge hands an origin; never to be logged). */
  grantsInLogs(): string[];
  /** Waits until exactly these origins are up in HAProxy and, once the edge lists origins, heard by the edge. */
  waitForOrigins(ids: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The exit that follows `before` exits were recorded. */
function nextExit(exits: OriginExit[], before: number, timeoutMs: number): Promise<OriginExit> {
  return waitFor('the origin to exit', async () => exits[before], timeoutMs);
}

/** The stack's own origin, seen through the same interface as the ones the cluster starts. */
function stackOrigin(stack: Stack): ClusterOrigin {
  const env = stack.originEnv();
  const stateDir = env.ORIGIN_STATE_DIR ?? path.join(stack.dir, 'origin-state');
  return {
    id: stack.originId,
    ports: stack.ports,
    url: stack.originUrl,
    mediaDir: stack.mediaDir,
    stateDir,
    logs: stack.originLogs,
    exits: stack.originExits,
    pid: () => stack.originPid(),
    running: () => stack.originPid() !== null,
    ffmpegPids: () => stack.originFfmpegPids(),
    async kill() {
      const before = stack.originExits.length;
      stack.signalOrigin('SIGKILL');
      return nextExit(stack.originExits, before, 10_000);
    },
    async terminate(timeoutMs = 60_000) {
      const before = stack.originExits.length;
      const pid = stack.originPid();
      if (pid === null) throw new Error('the origin is not running');
      signal(pid, 'SIGTERM');
      const timer = setTimeout(() => stack.signalOrigin('SIGKILL'), timeoutMs);
      try {
        return await nextExit(stack.originExits, before, timeoutMs + 10_000);
      } finally {
        clearTimeout(timer);
      }
    },
    start: () => stack.startOrigin(),
  };
}

/** /healthz lives on the origin's admin listener (loopback), not on its public port. */
async function healthy(origin: { ports: OriginPorts }): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${origin.ports.admin}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

async function startExtraOrigin(stack: Stack, id: string, extraEnv: Record<string, string>): Promise<ClusterOrigin> {
  const ports: OriginPorts = {
    rtmp: await freeTcpPort(),
    rtmps: await freeTcpPort(),
    srt: await freeUdpPort(),
    http: await freeTcpPort(),
    admin: await freeTcpPort(),
  };
  const dir = path.join(stack.dir, 'origins', id);
  const mediaDir = path.join(dir, 'media');
  const stateDir = path.join(dir, 'origin-state');
  await mkdir(mediaDir, { recursive: true });
  const url = `http://127.0.0.1:${ports.http}`;
  // Its own identity, issued through the admin API as an operator would (the secret is shown once).
  const secret = await stack.provisionOrigin(id);
  const logs: string[] = [];
  stack.addLogSource(`origin:${id}`, logs);
  const exits: OriginExit[] = [];
  let child: ChildProcess | null = null;
  let expecting = false;

  const start = async () => {
    const env = {
      ...stack.originEnv(),
      ORIGIN_ID: id,
      ORIGIN_SECRET: secret,
      ORIGIN_PUBLIC_URL: url,
      MEDIA_DIR: mediaDir,
      ORIGIN_STATE_DIR: stateDir,
      RTMP_PORT: String(ports.rtmp),
      RTMPS_PORT: String(ports.rtmps),
      SRT_PORT: String(ports.srt),
      HTTP_PORT: String(ports.http),
      ADMIN_PORT: String(ports.admin),
      ...extraEnv,
    };
    const spawned = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'origin/main.ts')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: kill() takes its ffmpeg children with it
    });
    child = spawned;
    expecting = false;
    const keep = (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean));
    spawned.stdout!.on('data', keep);
    spawned.stderr!.on('data', keep);
    spawned.once('exit', (code, sig) => {
      exits.push({ at: Date.now(), code, signal: sig, expected: expecting });
      if (child === spawned) child = null;
    });
    await waitFor('the origin to answer /healthz', async () => (spawned.exitCode === null && (await healthy({ ports })) ? true : undefined), 30_000).catch(
      (error: Error) => {
        throw new Error(`${id}: ${error.message}\norigin output:\n${logs.slice(-30).join('\n')}`);
      },
    );
  };
  const group = (sig: NodeJS.Signals) => {
    const pid = child?.pid;
    if (pid) signal(-pid, sig);
  };

  await start();
  return {
    id,
    ports,
    url,
    mediaDir,
    stateDir,
    logs,
    exits,
    pid: () => child?.pid ?? null,
    running: () => child !== null,
    ffmpegPids: () => (child?.pid ? descendants(child.pid).filter((p) => p.comm === 'ffmpeg').map((p) => p.pid) : []),
    async kill() {
      const before = exits.length;
      if (!child) throw new Error(`${id} is not running`);
      expecting = true;
      group('SIGKILL');
      return nextExit(exits, before, 10_000);
    },
    async terminate(timeoutMs = 60_000) {
      const before = exits.length;
      if (!child?.pid) throw new Error(`${id} is not running`);
      expecting = true;
      signal(child.pid, 'SIGTERM');
      const timer = setTimeout(() => group('SIGKILL'), timeoutMs);
      try {
        return await nextExit(exits, before, timeoutMs + 10_000);
      } finally {
        clearTimeout(timer);
      }
    },
    start,
  };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.origins ?? 2;
  // HAProxy's ports are chosen first: the edge hands them out as the ingest address.
  const lbPorts = { rtmp: await freeTcpPort(), rtmps: await freeTcpPort() };
  const stack = await startStack({
    ...options,
    // Every origin (the stack's and the extra ones, which take the stack's env) trusts HAProxy's PROXY header.
    originEnv: { PROXY_PROTOCOL_FROM: HAPROXY_SOURCE_ADDRESS, ...options.originEnv },
    edgeVars: { RTMP_PORT: String(lbPorts.rtmp), RTMPS_PORT: String(lbPorts.rtmps), ...options.edgeVars },
  });
  const origins: ClusterOrigin[] = [stackOrigin(stack)];
  let haproxy: Haproxy | null = null;
  const stopAll = async () => {
    for (const origin of origins.slice(1)) {
      if (origin.running()) await origin.terminate(8000).catch(() => undefined);
    }
    await haproxy?.stop();
    // RIVERHEAD_CLUSTER_LOG_DIR keeps every log line of the run (the stack's folder is removed at stop), to look into a
    // failure afterwards. The lines are the ones the secret scan reads.
    const keepDir = process.env.RIVERHEAD_CLUSTER_LOG_DIR;
    if (keepDir) {
      await mkdir(keepDir, { recursive: true });
      const lines = await stack.logLines();
      await writeFile(path.join(keepDir, `cluster-${process.pid}-${Date.now()}.log`), lines.map((l) => `[${l.source}] ${l.text}`).join('\n'));
    }
    await stack.stop();
  };
  try {
    for (let i = 2; i <= count; i++) origins.push(await startExtraOrigin(stack, `${origins[0]!.id}-${i}`, {}));
    haproxy = await startHaproxy({
      servers: origins.map((o) => ({ name: o.id, rtmpPort: o.ports.rtmp, rtmpsPort: o.ports.rtmps, adminPort: o.ports.admin })),
      ...(options.haproxyCheck ? { check: options.haproxyCheck } : {}),
      ports: lbPorts,
      ...(options.checkIntervalMs !== undefined ? { checkIntervalMs: options.checkIntervalMs } : {}),
    });
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
  stack.addLogSource('haproxy', haproxy.logs);
  const lb = haproxy;

  const origin = (id: string) => {
    const found = origins.find((o) => o.id === id);
    if (!found) throw new Error(`no origin ${id} in this cluster`);
    return found;
  };

  const waitForOrigins = async (ids: string[], timeoutMs = 30_000) => {
    await lb.waitForUp(ids, timeoutMs);
    let seen = '';
    await waitFor(
      `the edge to hear ${ids.join(', ')}`,
      async () => {
        const response = await fetch(`${stack.edgeUrl}/admin/origins`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
        if (response.status === 404) return true; // an edge that does not list its origins
        const listed = ((await response.json()) as { data: { id: string; health: string }[] }).data;
        seen = JSON.stringify(listed.map((o) => [o.id, o.health]));
        return ids.every((id) => listed.find((o) => o.id === id)?.health === 'healthy') ? true : undefined;
      },
      timeoutMs,
    ).catch((error: Error) => {
      const tail = origins.flatMap((o) => o.logs.slice(-8).map((l) => `[${o.id}] ${l}`)).join('\n');
      throw new Error(`${error.message}; GET /admin/origins: ${seen}\n${tail}`);
    });
  };
  await waitForOrigins(origins.map((o) => o.id)).catch(async (error) => {
    await stopAll().catch(() => undefined);
    throw error;
  });

  return {
    stack,
    origins,
    haproxy: lb,
    ingestUrl: (streamKey, protocol = 'rtmp') =>
      `${protocol}://127.0.0.1:${protocol === 'rtmp' ? lb.ports.rtmp : lb.ports.rtmps}/live/${streamKey}`,
    origin,
    async carriers() {
      const stats = await lb.stats();
      return stats.filter((s) => s.current > 0).map((s) => origin(s.server));
    },
    waitForOrigins,
    waitForEnded: (streamId, timeoutMs = 20_000) =>
      waitFor(`stream ${streamId} to end (STOPPED or COMPLETED)`, async () => {
        const stream = await stack.getStream(streamId);
        return stream?.status === 'STOPPED' || stream?.status === 'COMPLETED' ? stream : undefined;
      }, timeoutMs),
    publishesAccepted: (streamId) =>
      origins
        .flatMap((o) =>
          o.logs.flatMap((line) => {
            if (!line.includes('"publish_accepted"') || !line.includes(streamId)) return [];
            const entry = JSON.parse(line) as { event: string; time: string; streamId: string; resume?: boolean };
            return entry.event === 'publish_accepted' && entry.streamId === streamId
              ? [{ originId: o.id, at: Date.parse(entry.time), resume: entry.resume === true }]
              : [];
          }),
        )
        .sort((a, b) => a.at - b.at),
    grantsInLogs: () =>
      origins.flatMap((o) => o.logs.filter((line) => /"mediaGrant":"[^"[]/.test(line)).map((line) => `[${o.id}] ${line.slice(0, 160)}...`)),
    stop: stopAll,
  };
}
