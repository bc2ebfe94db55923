// The origin's admin listener: /healthz and /metrics on loopback by default, nothing else.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../../origin/http/admin-server.ts';
import { configFromEnv } from '../../../origin/config.ts';

let healthy = true;
let admin: AdminServer;
const registry = new Registry();

beforeAll(async () => {
  admin = await startAdminServer({ port: 0, registry, health: () => ({ ok: healthy, liveStreams: 2 }) });
});

afterAll(async () => {
  await admin?.close();
});

describe('admin listener', () => {
  it('binds 127.0.0.1 unless told otherwise', () => {
    expect(admin.host).toBe('127.0.0.1');
  });

  it('/healthz follows the health callback', async () => {
    const ok = await fetch(`http://127.0.0.1:${admin.port}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', ok: true, liveStreams: 2 });
    healthy = false;
    const bad = await fetch(`http://127.0.0.1:${admin.port}/healthz`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toMatchObject({ status: 'unhealthy' });
    healthy = true;
  });

  it('/metrics returns the registry text, with the request counter', async () => {
    await (await fetch(`http://127.0.0.1:${admin.port}/healthz`)).text();
    const r = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(await r.text()).toMatch(/riverhead_origin_http_requests_total\{route="healthz",status="200"\} [1-9]/);
  });

  it('answers 404 elsewhere and 405 to writes', async () => {
    const other = await fetch(`http://127.0.0.1:${admin.port}/hls/x/master.m3u8`);
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(`http://127.0.0.1:${admin.port}/healthz`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    await post.text();
  });

  it('is not reachable on another loopback address when bound to 127.0.0.1', async () => {
    await expect(fetch(`http://127.0.0.2:${admin.port}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});

describe('admin listener settings', () => {
  const base = { EDGE_URL: 'http://127.0.0.1:8787', ORIGIN_SECRET: 'ors_0123456789abcdef0123456789abcdef', ORIGIN_ID: 'origin-a' };

  it('defaults to 127.0.0.1:8791, HLS signed', () => {
    const config = configFromEnv(base);
    expect(config).toMatchObject({ adminHost: '127.0.0.1', adminPort: 8791, hlsAllowUnsigned: false });
  });

  it('reads ADMIN_BIND_HOST, ADMIN_PORT and HLS_ALLOW_UNSIGNED=1', () => {
    const config = configFromEnv({ ...base, ADMIN_BIND_HOST: '10.0.0.5', ADMIN_PORT: '9100', HLS_ALLOW_UNSIGNED: '1' });
    expect(config).toMatchObject({ adminHost: '10.0.0.5', adminPort: 9100, hlsAllowUnsigned: true });
  });

  it('only the exact value 1 opens HLS', () => {
    for (const value of ['true', 'yes', '0', '']) expect(configFromEnv({ ...base, HLS_ALLOW_UNSIGNED: value }).hlsAllowUnsigned).toBe(false);
  });
});
