// RtmpServer behind a load balancer that speaks the PROXY protocol (PROXY_PROTOCOL_FROM), over real loopback sockets:
// the header's address replaces the balancer's for the per-address limit, the publish hook and the logs, for RTMP
// and for RTMPS (header before TLS); a trusted peer without a valid header is closed; an untrusted peer's header is
// just bad RTMP and cannot choose its address.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PublishRequest, RtmpConnection } from '../../../origin/rtmp/connection.ts';
import { proxyTrustFrom } from '../../../origin/rtmp/proxy-trust.ts';
import { RtmpServer, type RtmpServerOptions } from '../../../origin/rtmp/server.ts';
import { defaultScript, publishStream } from './fixtures.ts';
import { proxyV1, proxyV2 } from './proxy-header-fixtures.ts';

interface LogEntry {
  event: string;
  fields: Record<string, unknown>;
}

const servers: RtmpServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const certDir = mkdtempSync(path.join(os.tmpdir(), 'riverhead-proxy-tls-'));
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

async function start(options: Partial<RtmpServerOptions> & { trust: string }) {
  const logs: LogEntry[] = [];
  const requests: PublishRequest[] = [];
  const connections: RtmpConnection[] = [];
  const { trust, ...rest } = options;
  const server = new RtmpServer({
    port: 0,
    host: '127.0.0.1',
    proxyTrust: proxyTrustFrom(trust),
    log: (event, fields) => logs.push({ event, fields }),
    onPublish: async (request, connection) => {
      requests.push(request);
      connections.push(connection);
      return { ok: true };
    },
    ...rest,
  });
  servers.push(server);
  const addresses = await server.listen();
  return { server, logs, requests, connections, port: addresses.rtmp.port, rtmpsPort: addresses.rtmps?.port };
}

function connect(port: number, first?: Buffer): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    sockets.push(socket);
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, closed });
    });
  });
}

const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const refusals = (logs: LogEntry[]) => logs.filter((l) => l.event === 'rtmp.refused');

describe('RtmpServer with PROXY_PROTOCOL_FROM', () => {
  it('counts the per-address limit on the forwarded address (v1 and v2 through one trusted peer)', async () => {
    const h = await start({ trust: '127.0.0.1' });
    // Five encoders behind the balancer, five addresses: none of them is over its own limit of 4.
    await Promise.all([1, 2, 3, 4, 5].map((i) => connect(h.port, proxyV1(`198.51.100.${i}`, '10.0.0.1', 40000 + i, 1935))));
    await until(() => h.server.connections.size === 5);
    expect(refusals(h.logs)).toEqual([]);
    // Five from one forwarded address (v2): the fifth is refused on that address's count, not the balancer's.
    await Promise.all([1, 2, 3, 4, 5].map((i) => connect(h.port, proxyV2('203.0.113.9', '10.0.0.1', 50000 + i, 1935))));
    await until(() => refusals(h.logs).length === 1 && h.server.connections.size === 9);
    expect(refusals(h.logs)[0]!.fields).toMatchObject({ remoteAddress: '203.0.113.9', reason: 'too many connections from this address' });
    const seen = h.logs.filter((l) => l.event === 'rtmp.connected').map((l) => l.fields.remoteAddress);
    expect(new Set(seen)).toEqual(new Set(['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5', '203.0.113.9']));
  });

  it('hands the forwarded address to the publish hook; RTMP bytes in the same write as the header are kept', async () => {
    const h = await start({ trust: '127.0.0.0/8' });
    await connect(h.port, Buffer.concat([proxyV2('2001:db8::42', '2001:db8::1', 4242, 1935), publishStream({ ...defaultScript, unpublish: false })]));
    await connect(h.port, Buffer.concat([proxyV1('192.0.2.77', '10.0.0.1', 4243, 1935), publishStream({ ...defaultScript, unpublish: false })]));
    await until(() => h.connections.filter((c) => c.published).length === 2);
    expect(h.requests.map((r) => r.remoteAddress).sort()).toEqual(['192.0.2.77', '2001:db8::42']);
    expect(h.requests.every((r) => r.protocol === 'rtmp' && r.streamKey === 'testkey')).toBe(true);
  });

  it('a v2 LOCAL header (the balancer itself) keeps the socket address', async () => {
    const h = await start({ trust: '127.0.0.1' });
    await connect(h.port, Buffer.concat([proxyV2('10.9.9.9', '10.0.0.1', 1, 2, { command: 'LOCAL' }), publishStream({ ...defaultScript, unpublish: false })]));
    await until(() => h.requests.length === 1);
    expect(h.requests[0]!.remoteAddress).toBe('127.0.0.1');
  });

  it('closes a trusted peer that sends RTMP, a malformed header, too many bytes or nothing in time', async () => {
    const h = await start({ trust: '127.0.0.1', limits: { handshakeTimeoutMs: 300 } });
    const plain = await connect(h.port, publishStream(defaultScript));
    const malformed = await connect(h.port, Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1935\r\n'));
    const endless = await connect(h.port, Buffer.concat([Buffer.from('PROXY TCP4 '), Buffer.alloc(96, 0x31)]));
    const silent = await connect(h.port);
    await Promise.all([plain.closed, malformed.closed, endless.closed, silent.closed]);
    const refused = h.logs.filter((l) => l.event === 'rtmp.proxy_header_refused').map((l) => l.fields.reason);
    expect(refused.sort()).toEqual([
      'malformed PROXY header: no PROXY protocol signature',
      'malformed PROXY header: v1 line longer than 107 bytes',
      'malformed PROXY header: v1 ports must be decimal 0-65535',
      'no PROXY header before the handshake deadline',
    ]);
    expect(h.requests).toEqual([]);
    expect(h.logs.some((l) => l.event === 'rtmp.connected')).toBe(false);
  });

  it('an untrusted peer cannot spoof: its PROXY header is bad RTMP and it stays its own address', async () => {
    const h = await start({ trust: '10.0.0.5' });
    const clients = await Promise.all([1, 2, 3].map((i) => connect(h.port, Buffer.concat([proxyV1(`198.51.100.${i}`, '10.0.0.1', 1, 1935), publishStream(defaultScript)]))));
    await Promise.all(clients.map((c) => c.closed));
    expect(h.requests).toEqual([]);
    const addresses = h.logs.flatMap((l) => (typeof l.fields.remoteAddress === 'string' ? [l.fields.remoteAddress] : []));
    expect(addresses.length).toBeGreaterThan(0);
    expect(new Set(addresses)).toEqual(new Set(['127.0.0.1']));
    expect(h.logs.some((l) => l.event === 'rtmp.proxy_header_refused')).toBe(false);
  });

  it('RTMPS: the header comes before TLS and its address is the encoder\'s', async () => {
    const keyPath = path.join(certDir, 'key.pem');
    const certPath = path.join(certDir, 'cert.pem');
    const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', keyPath, '-out', certPath]);
    expect(openssl.status).toBe(0);
    const h = await start({ trust: '127.0.0.1', tls: { port: 0, cert: readFileSync(certPath, 'utf8'), key: keyPath } });
    const publishOverTls = async (header: Buffer) => {
      const raw = await connect(h.rtmpsPort!, header);
      const secure = tls.connect({ socket: raw.socket, rejectUnauthorized: false });
      secure.on('error', () => {});
      await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
      secure.write(publishStream({ ...defaultScript, unpublish: false }));
    };
    await publishOverTls(proxyV2('198.51.100.200', '10.0.0.1', 3000, 1936));
    await publishOverTls(proxyV1('198.51.100.201', '10.0.0.1', 3001, 1936));
    await until(() => h.connections.filter((c) => c.published).length === 2);
    expect(h.requests.map((r) => [r.protocol, r.remoteAddress]).sort()).toEqual([
      ['rtmps', '198.51.100.200'],
      ['rtmps', '198.51.100.201'],
    ]);
    // A failed TLS handshake is logged on the forwarded address too.
    const garbled = await connect(h.rtmpsPort!, Buffer.concat([proxyV1('198.51.100.202', '10.0.0.1', 3002, 1936), Buffer.alloc(64, 0x41)]));
    await garbled.closed;
    await until(() => h.logs.some((l) => l.event === 'rtmp.tls_error'));
    expect(h.logs.find((l) => l.event === 'rtmp.tls_error')!.fields.remoteAddress).toBe('198.51.100.202');
    // Without the header, the TLS ClientHello itself is refused as a malformed header.
    const bare = await connect(h.rtmpsPort!);
    const hello = tls.connect({ socket: bare.socket, rejectUnauthorized: false });
    hello.on('error', () => {});
    await bare.closed;
    expect(h.logs.some((l) => l.event === 'rtmp.proxy_header_refused' && l.fields.protocol === 'rtmps')).toBe(true);
  });
});
