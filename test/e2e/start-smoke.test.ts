// `npm start`'s stack answers: start it on free ports, create a stream with the printed key, stop it with Ctrl-C; with
// `--origins 2` two origins run behind HAProxy.
import { it, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort, freeUdpPort } from '../support/ports.ts';

const root = path.resolve(import.meta.dirname, '../..');

interface Started {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

/** `npm start` (scripts/start.ts) with these arguments and environment, once it printed that it is ready. */
async function startLocalStack(args: string[], env: Record<string, string>, timeoutMs: number): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!out.stdout.includes('Ctrl-C stops everything') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, out, exited };
}

it('starts the local stack, prints a working key and curl, and stops cleanly on SIGINT', async () => {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-start-'));
  const edgePort = await freeTcpPort();
  const originHttpPort = await freeTcpPort();
  const originAdminPort = await freeTcpPort();
  const { child, out, exited } = await startLocalStack([], {
    RIVERHEAD_STATE_DIR: stateDir,
    RIVERHEAD_EDGE_PORT: String(edgePort),
    RIVERHEAD_RTMP_PORT: String(await freeTcpPort()),
    RIVERHEAD_RTMPS_PORT: String(await freeTcpPort()),
    RIVERHEAD_SRT_PORT: String(await freeUdpPort()),
    RIVERHEAD_ORIGIN_HTTP_PORT: String(originHttpPort),
    RIVERHEAD_ORIGIN_ADMIN_PORT: String(originAdminPort),
  }, 90_000);
  try {
    expect(out.stdout, out.stderr.slice(-3000)).toContain('Ctrl-C stops everything');
    const credentials = /Access token:\s+(\S+)/.exec(out.stdout)![1]!;
    const curl = out.stdout.split('\n').find((line) => line.trim().startsWith('curl '))!;
    expect(curl).toContain(`-u ${credentials}`);
    expect(out.stdout).toContain(`http://127.0.0.1:${edgePort}/v1`);

    const response = await fetch(`http://127.0.0.1:${edgePort}/v1/live/streams`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: '{"reconnectWindow": 60}',
    });
    expect(response.status).toBe(201);
    const { data } = (await response.json()) as { data: { streamKey: string } };
    expect(data.streamKey).toMatch(/^sk_/);
    expect(out.stdout + out.stderr).not.toContain(data.streamKey);
  } finally {
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(0);
    await expect(fetch(`http://127.0.0.1:${edgePort}/`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${originAdminPort}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${originHttpPort}/hls/`)).rejects.toThrow();
    await rm(stateDir, { recursive: true, force: true });
  }
});

it('`--origins 2` runs two origins behind HAProxy: prints the HAProxy ingest URL, both origins heard, Ctrl-C stops all', async () => {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-start-'));
  const edgePort = await freeTcpPort();
  const rtmpPort = await freeTcpPort();
  const { child, out, exited } = await startLocalStack(['--origins', '2'], {
    RIVERHEAD_STATE_DIR: stateDir,
    RIVERHEAD_EDGE_PORT: String(edgePort),
    RIVERHEAD_RTMP_PORT: String(rtmpPort),
    RIVERHEAD_RTMPS_PORT: String(await freeTcpPort()),
    RIVERHEAD_SRT_PORT: String(await freeUdpPort()),
    RIVERHEAD_ORIGIN_HTTP_PORT: String(await freeTcpPort()),
    RIVERHEAD_ORIGIN_ADMIN_PORT: String(await freeTcpPort()),
  }, 120_000);
  try {
    expect(out.stdout, out.stderr.slice(-3000)).toContain('Ctrl-C stops everything');
    expect(out.stdout).toContain(`HAProxy ingest URL: rtmp://127.0.0.1:${rtmpPort}/live`);
    const { adminToken } = JSON.parse(await readFile(path.join(stateDir, 'secrets.json'), 'utf8')) as { adminToken: string };
    const heard = async () => {
      const response = await fetch(`http://127.0.0.1:${edgePort}/admin/origins`, { headers: { authorization: `Bearer ${adminToken}` } });
      return ((await response.json()) as { data: { id: string; health: string }[] }).data.filter((o) => o.health === 'healthy').map((o) => o.id).sort();
    };
    const until = Date.now() + 20_000;
    while ((await heard()).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
    expect(await heard()).toEqual(['local-origin', 'local-origin-2']);
    // HAProxy holds the ingest port.
    const connected = await new Promise<string>((resolve) => {
      const socket = net.connect(rtmpPort, '127.0.0.1', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (error) => resolve(error.message));
    });
    expect(connected, out.stderr.split('\n').filter((l) => !l.startsWith('[origin') && !l.startsWith('[local-origin')).slice(-20).join('\n')).toBe('connected');
  } finally {
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(0);
    await expect(fetch(`http://127.0.0.1:${edgePort}/`)).rejects.toThrow();
    await expect(
      new Promise<void>((resolve, reject) => {
        const socket = net.connect(rtmpPort, '127.0.0.1', () => (socket.destroy(), resolve()));
        socket.once('error', reject);
      }),
    ).rejects.toThrow();
    await rm(stateDir, { recursive: true, force: true });
  }
});
