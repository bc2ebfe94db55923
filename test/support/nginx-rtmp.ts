// A real RTMP server for simulcast tests: nginx with Debian's RTMP module (libnginx-mod-rtmp) on loopback, run as a
// non-daemon child with a temporary config. Application `live` records every publish (`record all`, one file per
// publish) and asks a small HTTP server of this test on publish and publish end (on_publish / on_publish_done), so a
// test sees when a remote stream began or ended, and can refuse stream names the way a platform refuses a bad key.
// It can be stopped and started again on the same port (an outage of "YouTube").
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { freeTcpPort } from './ports.ts';

export const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export interface RtmpNotification {
  call: 'publish' | 'publish_done';
  app: string;
  name: string;
  at: number;
}

export interface NginxRtmp {
  port: number;
  /** The publish URL of `name` in application `app` (default live). */
  url(name: string, app?: string): string;
  /** Every on_publish / on_publish_done nginx made, in order. */
  notifications: RtmpNotification[];
  /** The recordings of `name` (one file per publish), oldest first. */
  recordings(name: string): Promise<string[]>;
  /** nginx's own output (error log lines), for failures. */
  output(): string;
  running(): boolean;
  /** Stops nginx (its connections drop); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startNginxRtmp(dir: string, options: { refuse?: string[] } = {}): Promise<NginxRtmp> {
  await mkdir(path.join(dir, 'rec'), { recursive: true });
  const refuse = new Set(options.refuse ?? []);
  const notifications: RtmpNotification[] = [];
  // on_publish: a 2xx lets the publish go on, anything else makes nginx drop the publisher (a refused key).
  const hooks = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const call = form.get('call') === 'publish_done' ? 'publish_done' : 'publish';
      const name = form.get('name') ?? '';
      notifications.push({ call, app: form.get('app') ?? '', name, at: Date.now() });
      res.statusCode = call === 'publish' && refuse.has(name) ? 403 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const hooksPort = (hooks.address() as { port: number }).port;
  const port = await freeTcpPort();
  const config = path.join(dir, 'nginx.conf');
  await writeFile(
    config,
    `load_module ${RTMP_MODULE};
daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} info;
events { worker_connections 128; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live {
      live on;
      record all;
      record_path ${path.join(dir, 'rec')};
      record_unique on;
      on_publish http://127.0.0.1:${hooksPort}/publish;
      on_publish_done http://127.0.0.1:${hooksPort}/publish_done;
    }
  }
}
`,
  );
  let child: ChildProcess | null = null;
  let out = '';

  const start = async () => {
    const proc = spawn('nginx', ['-c', config, '-p', dir, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
    proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    // Up when its port takes connections.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!child) throw new Error(`nginx exited at start: ${out}`);
      const open = await new Promise<boolean>((resolve) => {
        const socket = new net.Socket();
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
        socket.connect(port, '127.0.0.1');
      });
      if (open) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nginx did not listen on ${port}: ${out}`);
  };

  const stop = async () => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: (name, app = 'live') => `rtmp://127.0.0.1:${port}/${app}/${name}`,
    notifications,
    async recordings(name) {
      const files = (await readdir(path.join(dir, 'rec'))).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.flv')).sort();
      return files.map((f) => path.join(dir, 'rec', f));
    },
    output: () => out,
    running: () => child !== null,
    stop,
    start,
    async close() {
      await stop();
      await new Promise<void>((resolve) => hooks.close(() => resolve()));
    },
  };
}
