// The deploy guide where it can be checked here: scripts/deploy/haproxy.cfg passes `haproxy -c` and, run as shipped
// (only its addresses moved to loopback), balances TCP to two origins and stops sending new encoders to one whose
// admin /healthz says 503 (draining) while its open connection stays; origin.env.md lists every variable the origin
// reads; the guide's provisioning commands create every D1 database, R2 bucket and Queue wrangler.toml binds.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../origin/http/admin-server.ts';
import { waitFor } from '../support/stack.ts';

const root = path.resolve(import.meta.dirname, '../..');
const deploy = path.join(root, 'scripts/deploy');
const run = promisify(execFile);

describe('haproxy.cfg', () => {
  it('passes haproxy -c', async () => {
    const { stdout, stderr } = await run('haproxy', ['-c', '-f', path.join(deploy, 'haproxy.cfg')]);
    expect(stdout + stderr).toContain('Configuration file is valid');
  });

  describe('run as shipped, on loopback', () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    it('balances encoders over healthy origins and sends none to a draining one, keeping its open connection', async () => {
      // Two origins on their own loopback addresses, so both use one RTMP port and one admin port as deployed ones do.
      const addresses = ['127.0.0.2', '127.0.0.3'];
      const rtmpPort = await portFreeOn(addresses);
      const adminPort = await portFreeOn(addresses);
      const draining = new Map(addresses.map((a) => [a, false]));
      for (const [i, address] of addresses.entries()) {
        const echo = await startEcho(address, rtmpPort, `origin-${i + 1}`);
        cleanup.push(() => new Promise<void>((r) => echo.close(() => r())));
        const admin: AdminServer = await startAdminServer({
          host: address,
          port: adminPort,
          registry: new Registry(),
          health: () => ({ ok: !draining.get(address), draining: draining.get(address) }),
        });
        cleanup.push(() => admin.close());
      }
      const front = { rtmp: await portFreeOn(['127.0.0.1']), rtmps: await portFreeOn(['127.0.0.1']) };
      const shipped = await readFile(path.join(deploy, 'haproxy.cfg'), 'utf8');
      const config = onLoopback(shipped, { front, rtmpPort, adminPort, addresses });
      const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-haproxy-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      await writeFile(path.join(dir, 'haproxy.cfg'), config);
      const haproxy = spawn('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      haproxy.stdout!.on('data', (d) => (output = (output + d).slice(-20_000)));
      haproxy.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
      cleanup.push(() => stop(haproxy));

      // Both origins come up (rise 2 × inter 2 s), then connections spread over both.
      const seen = await waitFor('connections through HAProxy to reach both origins', async () => {
        const names = new Set<string>();
        for (let i = 0; i < 6; i++) names.add(await roundTrip(front.rtmp));
        return names.size === 2 ? names : undefined;
      }, 20_000).catch((error: Error) => {
        throw new Error(`${error.message}\nhaproxy output:\n${output}`);
      });
      expect([...seen].sort()).toEqual(['origin-1', 'origin-2']);

      // An encoder stays connected to origin-1 while it drains.
      const held = await openOn(front.rtmp, 'origin-1');
      cleanup.push(() => void held.destroy());
      draining.set('127.0.0.2', true);
      // fall 2 × fastinter 1 s: marked down within a few seconds; from then on every new encoder goes to origin-2.
      await waitFor('HAProxy to stop choosing the draining origin', async () => {
        for (let i = 0; i < 6; i++) if ((await roundTrip(front.rtmp)) !== 'origin-2') return undefined;
        return true;
      }, 15_000);
      expect(await roundTrip(front.rtmps)).toBe('origin-2');
      // The held connection still carries data both ways.
      expect(await exchange(held, 'still-here')).toBe('origin-1:still-here');
    }, 60_000);
  });
});

describe('origin.env.md', () => {
  it('lists every environment variable the origin reads', async () => {
    const doc = await readFile(path.join(deploy, 'origin.env.md'), 'utf8');
    const read = new Set<string>();
    for (const file of await sourcesUnder(path.join(root, 'origin'))) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]|\((?:env,\s*)?['"]([A-Z][A-Z0-9]*_[A-Z0-9_]+)['"][,)]/g)) {
        read.add((m[1] ?? m[2] ?? m[3])!);
      }
    }
    // The matcher must be finding reads at all (a broken one would pass trivially).
    expect([...read]).toEqual(expect.arrayContaining(['EDGE_URL', 'ORIGIN_ID', 'HTTP_PORT', 'ADMIN_PORT', 'HLS_ALLOW_UNSIGNED', 'MEDIA_MIN_FREE_MB']));
    const missing = [...read].filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('README.md provisioning', () => {
  it('creates every D1 database, R2 bucket and Queue that wrangler.toml binds', async () => {
    const toml = await readFile(path.join(root, 'wrangler.toml'), 'utf8');
    const guide = await readFile(path.join(deploy, 'README.md'), 'utf8');
    const values = (key: string) => [...toml.matchAll(new RegExp(`^${key}\\s*=\\s*"([^"]+)"`, 'gm'))].map((m) => m[1]!);
    const queues = new Set([...values('queue'), ...values('dead_letter_queue')]);
    expect(queues.size).toBeGreaterThanOrEqual(5);
    for (const queue of queues) expect(guide).toContain(`wrangler queues create ${queue}\n`);
    for (const bucket of values('bucket_name')) expect(guide).toContain(`wrangler r2 bucket create ${bucket}\n`);
    for (const database of values('database_name')) expect(guide).toMatch(new RegExp(`wrangler d1 create ${database}\\s`));
    expect(guide).toContain('wrangler d1 migrations apply DB --remote');
  });
});

/** The shipped config with its listen and origin addresses moved to loopback; everything else as shipped. */
function onLoopback(config: string, o: { front: { rtmp: number; rtmps: number }; rtmpPort: number; adminPort: number; addresses: string[] }): string {
  const replaced = config
    .replace(/^(\s*bind ):1935$/m, `$1127.0.0.1:${o.front.rtmp}`)
    .replace(/^(\s*bind ):1936$/m, `$1127.0.0.1:${o.front.rtmps}`)
    .replace(/ check port 8791 /, ` check port ${o.adminPort} `)
    .replace(/^(\s*server origin-(\d) )\S+:193[56]$/gm, (_line, head: string, n: string) => `${head}${o.addresses[Number(n) - 1]}:${o.rtmpPort}`);
  // Every substitution must have happened, or the test would run something else than what ships.
  expect(replaced).toContain(`bind 127.0.0.1:${o.front.rtmp}`);
  expect(replaced).toContain(`bind 127.0.0.1:${o.front.rtmps}`);
  expect(replaced).toContain(`check port ${o.adminPort} `);
  expect(replaced.match(new RegExp(`^\\s*server origin-\\d 127\\.0\\.0\\.[23]:${o.rtmpPort}$`, 'gm'))).toHaveLength(4);
  return replaced;
}

/** A port free for TCP on every one of `addresses`. */
async function portFreeOn(addresses: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(addresses[0]!, 0);
    let free = true;
    for (const address of addresses.slice(1)) free &&= (await listenOnce(address, port).catch(() => 0)) === port;
    if (free) return port;
  }
  throw new Error('no port free on every address');
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A stand-in for an origin's RTMP port: answers each chunk with `name:` and the chunk. */
function startEcho(host: string, port: number, name: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('data', (chunk) => socket.write(`${name}:${chunk.toString()}`));
      socket.on('error', () => socket.destroy());
    });
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** One connection through HAProxy: which origin answered. */
async function roundTrip(port: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    return (await exchange(socket, 'hello')).split(':')[0]!;
  } finally {
    socket.destroy();
  }
}

/** A connection through HAProxy that landed on `origin` (retried until one does). */
async function openOn(port: number, origin: string): Promise<net.Socket> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const socket = net.connect(port, '127.0.0.1');
    if ((await exchange(socket, 'hello').catch(() => '')).startsWith(`${origin}:`)) return socket;
    socket.destroy();
  }
  throw new Error(`no connection landed on ${origin}`);
}

function exchange(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('no answer within 3 s')), 3000);
    const onData = (chunk: Buffer) => done(undefined, chunk.toString());
    const onError = (error: Error) => done(error);
    const done = (error?: Error, answer?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(answer!);
    };
    const onClose = () => done(new Error('connection closed'));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.write(text);
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function sourcesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'native') out.push(...(await sourcesUnder(full)));
    } else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}
