// HLS serving: wrk against the origin's uWS HLS server and against nginx (Debian) serving the same files from
// the same folder on loopback, for a segment and for a media playlist. Our server is one Node thread, so the
// baseline is nginx with one worker; nginx with a worker per core is measured too and reported beside it.
// The server's CPU during each run is reported: a server below one core was held back by the client, not by itself.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from '../../test/support/ports.ts';
import type { Figure, FigureContext } from './figure.ts';
import type { Row } from './report.ts';
import { input, LIVE_720P } from './support/inputs.ts';
import { nextMessage, startHelper } from './support/ipc.ts';
import { groupCpuSeconds, isListening } from './support/proc.ts';
import { start, until, type Child } from './support/processes.ts';

interface Load {
  rps: number;
  mbPerSecond: number;
  /** cores the server process group kept busy */
  serverCores: number;
}

function nginxConfig(dir: string, mediaRoot: string, port: number, workers: string): string {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=20s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:${port};
    location /hls/ { alias ${mediaRoot}/; }
  }
}
`;
}

async function startNginx(workers: string, mediaRoot: string): Promise<{ child: Child; port: number; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-nginx-'));
  const port = await freeTcpPort();
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, mediaRoot, port, workers));
  const nginx = existsOnPath('nginx') ? 'nginx' : '/usr/sbin/nginx';
  const child = start(nginx, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')]);
  await until('nginx to listen', () => (isListening(port) ? true : child.running ? undefined : false), 10_000, 20);
  if (!child.running) throw new Error(`nginx did not start: ${child.stderr().slice(-400)}`);
  return { child, port, dir };
}

function existsOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      return statSync(path.join(dir, command)).isFile();
    } catch {
      return false;
    }
  });
}

async function wrk(url: string, seconds: number, serverPid: number): Promise<Load> {
  // A short warm-up (connections, page cache, JIT), then the measured run.
  await start('wrk', ['-t2', '-c64', '-d1s', url]).exited;
  const before = groupCpuSeconds(serverPid);
  const run = start('wrk', ['-t2', '-c64', `-d${seconds}s`, url]);
  const timer = setTimeout(() => void run.stop('SIGKILL'), (seconds + 15) * 1000);
  await run.exited;
  clearTimeout(timer);
  const cores = (groupCpuSeconds(serverPid) - before) / seconds;
  const out = run.stdout();
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(out);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  if (!rps) throw new Error(`wrk gave no result: ${out.slice(-300)} ${run.stderr().slice(-300)}`);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses from ${url}`);
  const scale = { B: 1e-6, KB: 1024 / 1e6, MB: 1024 ** 2 / 1e6, GB: 1024 ** 3 / 1e6 }[transfer?.[2] ?? 'B'] ?? 0;
  return { rps: Number(rps[1]), mbPerSecond: Number(transfer?.[1] ?? 0) * scale, serverCores: cores };
}

/** A recorded session laid out as the origin lays it out: {root}/{stream}/{session}/source/index.m3u8 + segments. */
async function mediaFixture(ctx: FigureContext): Promise<{ root: string; playlist: string; segment: string; segmentBytes: number; playlistBytes: number }> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'riverhead-bench-hls-'));
  const dir = path.join(root, 'ls_bench', 'ses_bench', 'source');
  mkdirSync(dir, { recursive: true });
  const file = await input(LIVE_720P);
  const ffmpeg = start('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-c', 'copy', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'event', '-hls_segment_filename', path.join(dir, 'seg_%05d.ts'), path.join(dir, 'index.m3u8')]);
  if ((await ffmpeg.exited).code !== 0) throw new Error(`segmenting failed: ${ffmpeg.stderr().slice(-300)}`);
  const segments = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
  const segment = segments[Math.floor(segments.length / 2)]!;
  ctx.log(`${segments.length} segments in ${root}`);
  return {
    root,
    playlist: 'ls_bench/ses_bench/source/index.m3u8',
    segment: `ls_bench/ses_bench/source/${segment}`,
    segmentBytes: statSync(path.join(dir, segment)).size,
    playlistBytes: statSync(path.join(dir, 'index.m3u8')).size,
  };
}

async function sameBody(a: string, b: string): Promise<void> {
  const [x, y] = await Promise.all([fetch(a).then((r) => r.arrayBuffer()), fetch(b).then((r) => r.arrayBuffer())]);
  if (x.byteLength !== y.byteLength || Buffer.compare(Buffer.from(x), Buffer.from(y)) !== 0) throw new Error(`${a} and ${b} serve different bytes`);
}

export const hlsServing: Figure = {
  name: 'hls-serving',
  budgetMs: (quick) => (quick ? 120_000 : 240_000),
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10;
    const rounds = ctx.quick ? 1 : 2;
    const media = await mediaFixture(ctx);
    const children: Child[] = [];
    const dirs: string[] = [media.root];
    try {
      const ours = startHelper('hls-host.ts', { MEDIA_ROOT: media.root });
      children.push(ours);
      const { port } = await nextMessage<{ type: 'ready'; port: number }>(ours, 'ready', 20_000);
      const nginx1 = await startNginx('1', media.root);
      const nginxAll = await startNginx('auto', media.root);
      children.push(nginx1.child, nginxAll.child);
      dirs.push(nginx1.dir, nginxAll.dir);
      const servers = [
        { name: 'ours', pid: ours.pid, base: `http://127.0.0.1:${port}/hls/` },
        { name: 'nginx', pid: nginx1.child.pid, base: `http://127.0.0.1:${nginx1.port}/hls/` },
        { name: 'nginxAll', pid: nginxAll.child.pid, base: `http://127.0.0.1:${nginxAll.port}/hls/` },
      ];
      const rows: Row[] = [];
      for (const [what, file, bytes] of [['segment', media.segment, media.segmentBytes], ['playlist', media.playlist, media.playlistBytes]] as const) {
        await sameBody(servers[0]!.base + file, servers[1]!.base + file);
        // Rounds alternate the servers; each keeps its best round, since load from elsewhere only ever slows one down.
        const loads: Record<string, Load> = {};
        for (let round = 0; round < rounds; round++) {
          for (const s of servers) {
            const load = await wrk(s.base + file, seconds, s.pid);
            ctx.log(`${what} from ${s.name}: ${Math.round(load.rps)} req/s, server at ${load.serverCores.toFixed(2)} cores`);
            if (!loads[s.name] || load.rps > loads[s.name]!.rps) loads[s.name] = load;
          }
        }
        const o = loads.ours!;
        const n = loads.nginx!;
        const a = loads.nginxAll!;
        rows.push({
          figure: 'hls-serving',
          label: `HLS serving, ${what} (${(bytes / 1024).toFixed(bytes > 10_240 ? 0 : 1)} KiB), wrk 2 threads × 64 connections`,
          ours: { value: Math.round(o.rps), unit: 'req/s' },
          baseline: { value: Math.round(n.rps), unit: 'req/s', name: 'nginx, 1 worker' },
          target: { of: 'ratio', kind: 'min', limit: 1, text: '≥ 1.0×' },
          note: `best of ${rounds} × ${seconds} s runs, alternating; server busy: ours ${o.serverCores.toFixed(2)} cores, nginx ${n.serverCores.toFixed(2)}; nginx with a worker per core (${os.availableParallelism()}): ${Math.round(a.rps)} req/s at ${a.serverCores.toFixed(2)} cores (ours ${(o.rps / a.rps).toFixed(2)}× of it); ${what === 'segment' ? `ours moved ${o.mbPerSecond.toFixed(0)} MB/s` : 'an EVENT playlist of a 60 s session'}`,
          details: { seconds, bytes, loads },
        });
      }
      return rows;
    } finally {
      await Promise.all(children.map((c) => c.stop('SIGTERM', 3000)));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  },
};
