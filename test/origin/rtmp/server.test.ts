// RtmpServer and RtmpConnection over loopback sockets with a scripted client: hook decisions, media
// held while the hook runs, limits, timeouts, malformed input, logging without stream keys, close().
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HANDSHAKE_CLIENT_BYTES } from '../../../origin/rtmp/handshake.ts';
import { MessageAssembler } from '../../../origin/rtmp/message-assembler.ts';
import { command, decodeMessage } from '../../../origin/rtmp/messages.ts';
import type { RtmpMessage } from '../../../origin/rtmp/messages.ts';
import { RtmpServer } from '../../../origin/rtmp/server.ts';
import type { RtmpServerOptions } from '../../../origin/rtmp/server.ts';
import type { MediaFrame, PublishDecision, PublishRequest, RtmpConnection } from '../../../origin/rtmp/connection.ts';
import { chunkMessages, clientHandshake, defaultScript, publishStream } from './fixtures.ts';

interface LogEntry {
  event: string;
  fields: Record<string, unknown>;
}

interface Harness {
  server: RtmpServer;
  port: number;
  logs: LogEntry[];
  requests: PublishRequest[];
  connections: RtmpConnection[];
}

const servers: RtmpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  decide: (request: PublishRequest, connection: RtmpConnection) => Promise<PublishDecision> = async () => ({ ok: true }),
  options: Partial<RtmpServerOptions> = {},
): Promise<Harness> {
  const logs: LogEntry[] = [];
  const requests: PublishRequest[] = [];
  const connections: RtmpConnection[] = [];
  const server = new RtmpServer({
    port: 0,
    host: '127.0.0.1',
    log: (event, fields) => logs.push({ event, fields }),
    onPublish: (request, connection) => {
      requests.push(request);
      connections.push(connection);
      return decide(request, connection);
    },
    ...options,
  });
  servers.push(server);
  const { rtmp } = await server.listen();
  return { server, port: rtmp.port, logs, requests, connections };
}

interface Client {
  socket: net.Socket;
  /** Everything the server sent, once it has closed the connection. */
  closed: Promise<{ received: Buffer; at: number }>;
}

function connect(port: number, localAddress?: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    const received: Buffer[] = [];
    socket.on('data', (b) => received.push(b));
    const closed = new Promise<{ received: Buffer; at: number }>((done) => {
      socket.on('close', () => done({ received: Buffer.concat(received), at: Date.now() }));
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

function serverMessages(received: Buffer): RtmpMessage[] {
  return new MessageAssembler().push(received.subarray(HANDSHAKE_CLIENT_BYTES)).map(decodeMessage);
}

const until = async (check: () => boolean, timeoutMs = 3000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

function record(connection: RtmpConnection) {
  const seen: { event: string; timestamp?: number; size?: number; reason?: string }[] = [];
  const frame = (event: string) => (f: MediaFrame) => seen.push({ event, timestamp: f.timestamp, size: f.payload.length });
  connection.on('metadata', (m) => seen.push({ event: 'metadata', timestamp: m.timestamp }));
  connection.on('audio', frame('audio'));
  connection.on('video', frame('video'));
  connection.on('close', ({ reason }) => seen.push({ event: 'close', reason }));
  return seen;
}

describe('RtmpServer', () => {
  it('asks the hook, holds media meanwhile and delivers it in order once accepted', async () => {
    let seen: ReturnType<typeof record> = [];
    const h = await start(async (_request, connection) => {
      seen = record(connection);
      await new Promise((r) => setTimeout(r, 100));
      return { ok: true };
    });
    const client = await connect(h.port);
    client.socket.write(publishStream({ ...defaultScript, unpublish: false }));
    await until(() => seen.filter((s) => s.event === 'video').length === 2);
    expect(h.requests).toEqual([{ app: 'live', streamKey: 'testkey', remoteAddress: '127.0.0.1', protocol: 'rtmp' }]);
    expect(seen.map((s) => [s.event, s.timestamp, s.size])).toEqual([
      ['metadata', 0, undefined],
      ['video', 0, 300],
      ['audio', 0, 20],
      ['audio', 21, 20],
      ['video', 33, 5000],
    ]);
    client.socket.end();
    await client.closed;
    await until(() => seen.at(-1)?.event === 'close');
    expect(seen.at(-1)).toEqual({ event: 'close', reason: 'peer closed' });
    expect(h.server.connections.size).toBe(0);
  });

  it('on rejection sends the error status, drops the held media and closes', async () => {
    let seen: ReturnType<typeof record> = [];
    const h = await start(async (_request, connection) => {
      seen = record(connection);
      return { ok: false, reason: 'Stream is disabled.' };
    });
    const client = await connect(h.port);
    client.socket.write(publishStream({ ...defaultScript, unpublish: false }));
    const { received } = await client.closed;
    const status = serverMessages(received).filter((m) => m.type === 'command' && m.name === 'onStatus');
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ args: [{ level: 'error', code: 'NetStream.Publish.BadName', description: 'Stream is disabled.' }] });
    await until(() => seen.length > 0);
    expect(seen).toEqual([{ event: 'close', reason: 'publish rejected' }]);
  });

  it('treats a throwing hook as a rejection, and keeps the key out of the logged error', async () => {
    const h = await start(async (request) => {
      throw new Error(`edge unreachable while authorizing ${request.streamKey}`);
    });
    const client = await connect(h.port);
    client.socket.write(publishStream({ ...defaultScript, media: [] }));
    const { received } = await client.closed;
    expect(serverMessages(received).at(-1)).toMatchObject({ type: 'command', name: 'onStatus', args: [{ level: 'error' }] });
    expect(h.logs.find((l) => l.event === 'rtmp.publish_hook_failed')?.fields.error).toBe('edge unreachable while authorizing [stream key]');
    expect(JSON.stringify(h.logs)).not.toContain('testkey');
  });

  it('still reports close to a listener added after the client left during the hook', async () => {
    let release = () => {};
    const hookMayFinish = new Promise<void>((resolve) => (release = resolve));
    let reason: string | undefined;
    const h = await start(async (_request, connection) => {
      await hookMayFinish;
      connection.on('close', (info) => (reason = info.reason));
      return { ok: true };
    });
    const client = await connect(h.port);
    client.socket.write(publishStream({ ...defaultScript, media: [], unpublish: false }));
    await until(() => h.requests.length === 1);
    client.socket.destroy();
    await until(() => h.server.connections.size === 0);
    release();
    await until(() => reason !== undefined);
    expect(reason).toBe('peer closed');
  });

  it('closes a connection on malformed input with a logged reason that never includes the stream key', async () => {
    const h = await start();
    const garbage = await connect(h.port);
    garbage.socket.write('GET / HTTP/1.1\r\n\r\n');
    await garbage.closed;

    const client = await connect(h.port);
    const valid = publishStream({ ...defaultScript, streamName: 'sk-super-secret-key', media: [], unpublish: false });
    // A type 1 header on a chunk stream not used before (63), after a valid publish.
    client.socket.write(Buffer.concat([valid, Buffer.from([0x7f, 0, 0, 0, 0, 0, 1, 8, 0])]));
    await client.closed;
    await until(() => h.logs.filter((l) => l.event === 'rtmp.protocol_error').length === 2);
    const errors = h.logs.filter((l) => l.event === 'rtmp.protocol_error').map((l) => l.fields.code);
    expect(errors).toEqual(['handshake', 'chunk-header']);
    expect(h.logs.find((l) => l.event === 'rtmp.closing' && l.fields.reason === 'protocol error: chunk-header')).toBeDefined();
    expect(JSON.stringify(h.logs)).not.toContain('sk-super-secret-key');
  });

  it('closes connections that do not finish the handshake in time, and idle ones', async () => {
    const h = await start(undefined, { limits: { handshakeTimeoutMs: 150, idleTimeoutMs: 400 } });
    const t0 = Date.now();
    const silent = await connect(h.port);
    silent.socket.write(Buffer.from([3]));
    const { at } = await silent.closed;
    expect(at - t0).toBeGreaterThanOrEqual(140);
    expect(at - t0).toBeLessThan(1000);

    const idle = await connect(h.port);
    const { c0c1, c2 } = clientHandshake();
    idle.socket.write(Buffer.concat([c0c1, c2]));
    const t1 = Date.now();
    const closedIdle = await idle.closed;
    expect(closedIdle.at - t1).toBeGreaterThanOrEqual(350);
    const reasons = h.logs.filter((l) => l.event === 'rtmp.closing').map((l) => l.fields.reason);
    expect(reasons).toEqual(['handshake timeout', 'idle timeout']);
  });

  it('refuses connections over the per-address and total limits', async () => {
    const h = await start(undefined, { limits: { maxConnectionsPerIp: 2, maxConnections: 10 } });
    const a = await connect(h.port);
    const b = await connect(h.port);
    const c = await connect(h.port);
    await c.closed;
    await until(() => h.server.connections.size === 2);
    expect(h.logs.find((l) => l.event === 'rtmp.refused')?.fields.reason).toBe('too many connections from this address');
    a.socket.destroy();
    await until(() => h.server.connections.size === 1);
    const d = await connect(h.port);
    await until(() => h.server.connections.size === 2);
    b.socket.destroy();
    d.socket.destroy();

    // Full of publishers, nobody to evict: the newcomer is refused.
    const total = await start(undefined, { limits: { maxConnections: 1 } });
    const publisher = await connect(total.port);
    publisher.socket.write(publishStream({ ...defaultScript, unpublish: false }));
    await until(() => total.connections[0]?.published === true);
    const refused = await connect(total.port);
    await refused.closed;
    expect(total.logs.find((l) => l.event === 'rtmp.refused')?.fields.reason).toBe('too many connections');
  });

  it('counts only connections that have not published against the per-address limit', async () => {
    const h = await start(undefined, { limits: { maxConnectionsPerIp: 2, maxConnections: 10 } });
    // Four encoders behind one address publish one after another: each leaves the count once accepted.
    const publishers = [];
    for (let i = 1; i <= 4; i++) {
      const client = await connect(h.port);
      client.socket.write(publishStream({ ...defaultScript, unpublish: false }));
      await until(() => h.connections.filter((c) => c.published).length === i);
      publishers.push(client);
    }
    expect(h.logs.some((l) => l.event === 'rtmp.refused')).toBe(false);
    // Two more that never publish fill the address's pending slots; a third is refused.
    const idle = [await connect(h.port), await connect(h.port)];
    const refused = await connect(h.port);
    await refused.closed;
    expect(h.logs.find((l) => l.event === 'rtmp.refused')?.fields.reason).toBe('too many connections from this address');
    expect(h.connections.filter((c) => c.published)).toHaveLength(4);
    for (const c of [...publishers, ...idle]) c.socket.destroy();
  });

  it('allows 4 connections per address by default', async () => {
    const h = await start();
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(h.port)));
    await until(() => h.logs.some((l) => l.event === 'rtmp.refused'));
    expect(h.logs.find((l) => l.event === 'rtmp.refused')?.fields.reason).toBe('too many connections from this address');
    expect(h.server.connections.size).toBe(4);
    for (const c of clients) c.socket.destroy();
  });

  it('conn.close() disconnects within a second even if the client keeps its side open', async () => {
    let connection: RtmpConnection | undefined;
    const h = await start(async (_request, conn) => {
      connection = conn;
      return { ok: true };
    });
    const socket = net.connect({ port: h.port, host: '127.0.0.1', allowHalfOpen: true });
    const ended = new Promise<number>((resolve) => socket.on('end', () => resolve(Date.now())));
    // 'end' is only emitted once the replies have been read.
    socket.resume();
    socket.on('error', () => {});
    socket.write(publishStream({ ...defaultScript, media: [], unpublish: false }));
    await until(() => connection !== undefined);
    const serverClosed = new Promise<number>((resolve) => connection!.on('close', () => resolve(Date.now())));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    connection!.close('kicked');
    expect((await ended) - t0).toBeLessThan(1000);
    expect((await serverClosed) - t0).toBeLessThan(1000);
    expect(h.server.connections.size).toBe(0);
    expect(h.logs.find((l) => l.event === 'rtmp.closed')?.fields.reason).toBe('kicked');
    socket.destroy();
  });

  it('drops a client that makes us queue more than maxWriteQueueBytes without reading', async () => {
    const h = await start(undefined, { limits: { maxWriteQueueBytes: 64 * 1024 } });
    const client = await connect(h.port);
    client.socket.pause();
    const { c0c1, c2 } = clientHandshake();
    // Every ping request is answered; not reading the answers fills the socket buffers, then our queue.
    const pings = chunkMessages(Array.from({ length: 20_000 }, (_, i) => ({ type: 'user-control' as const, event: { kind: 'ping-request' as const, timestamp: i } })));
    client.socket.write(Buffer.concat([c0c1, c2]));
    for (let i = 0; i < 40 && h.server.connections.size > 0; i++) {
      client.socket.write(pings);
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => h.logs.some((l) => l.event === 'rtmp.write_queue_overflow'), 5000);
    await until(() => h.server.connections.size === 0);
    client.socket.destroy();
  });

  it('close() stops listening and closes every connection', async () => {
    const h = await start();
    const a = await connect(h.port);
    const b = await connect(h.port);
    await until(() => h.server.connections.size === 2);
    await h.server.close();
    await Promise.all([a.closed, b.closed]);
    expect(h.server.connections.size).toBe(0);
    await expect(connect(h.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

/** Handshake, then a ping request every `everyMs` so the idle timeout never fires: a slowloris that talks. */
function keepTalking(client: Client, everyMs = 50): () => void {
  const ping = (i: number) => chunkMessages([{ type: 'user-control', event: { kind: 'ping-request', timestamp: i } }]);
  let i = 0;
  const timer = setInterval(() => {
    if (!client.socket.destroyed) client.socket.write(ping(i++));
  }, everyMs);
  client.socket.on('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

const connectOnly = () => {
  const { c0c1, c2 } = clientHandshake();
  return Buffer.concat([c0c1, c2, chunkMessages([command('connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' })])]);
};

const reasonsOf = (h: Harness) => h.logs.filter((l) => l.event === 'rtmp.closing').map((l) => l.fields.reason);

describe('RtmpServer deadlines and eviction (slowloris)', () => {
  it('closes a connection that does not publish in time, even one that keeps sending bytes', async () => {
    const h = await start(undefined, { limits: { publishTimeoutMs: 300 } });
    const client = await connect(h.port);
    const t0 = Date.now();
    client.socket.write(connectOnly());
    keepTalking(client);
    const { at } = await client.closed;
    expect(at - t0).toBeGreaterThanOrEqual(280);
    expect(at - t0).toBeLessThan(1500);
    expect(reasonsOf(h)).toEqual(['publish timeout']);
  });

  it('closes a publisher that sends no media after publish, and keeps one that does', async () => {
    const h = await start(undefined, { limits: { firstMediaTimeoutMs: 300, publishTimeoutMs: 300 } });
    const silent = await connect(h.port);
    silent.socket.write(publishStream({ ...defaultScript, media: [], unpublish: false }));
    keepTalking(silent);
    const streaming = await connect(h.port);
    streaming.socket.write(publishStream({ ...defaultScript, unpublish: false }));
    const stop = keepTalking(streaming);
    await silent.closed;
    await new Promise((r) => setTimeout(r, 400));
    expect(streaming.socket.destroyed).toBe(false);
    expect(reasonsOf(h)).toEqual(['no media after publish']);
    stop();
    streaming.socket.destroy();
  });

  it('hangs up shortly after unpublish even if the client keeps the socket open and talking', async () => {
    const h = await start(undefined, { limits: { unpublishLingerMs: 200 } });
    const client = await connect(h.port);
    const t0 = Date.now();
    client.socket.write(publishStream(defaultScript));
    keepTalking(client);
    const { at } = await client.closed;
    expect(h.logs.find((l) => l.event === 'rtmp.unpublished')).toBeDefined();
    expect(reasonsOf(h)).toEqual(['unpublished']);
    expect(at - t0).toBeGreaterThanOrEqual(180);
    expect(at - t0).toBeLessThan(1500);
  });

  it('refuses media before publish and closes the connection', async () => {
    const h = await start();
    const client = await connect(h.port);
    const { c0c1, c2 } = clientHandshake();
    client.socket.write(
      Buffer.concat([
        c0c1,
        c2,
        chunkMessages([
          command('connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' }),
          { type: 'video', timestamp: 0, messageStreamId: 1, payload: Buffer.alloc(100_000, 0x17) },
        ]),
      ]),
    );
    await client.closed;
    expect(reasonsOf(h)).toEqual(['protocol error: media-before-publish']);
    expect(h.requests).toEqual([]);
    expect(h.server.budget.heldBytes).toBe(0);
  });

  it('when full, evicts the oldest connection that has not published, never a publisher', async () => {
    const h = await start(undefined, { limits: { maxConnections: 3, maxConnectionsPerIp: 10 } });
    const publisher = await connect(h.port);
    let frames = 0;
    publisher.socket.write(publishStream({ ...defaultScript, unpublish: false }));
    await until(() => h.connections.length === 1 && h.connections[0]!.published);
    h.connections[0]!.on('video', () => frames++);
    const idle1 = await connect(h.port);
    await until(() => h.server.connections.size === 2);
    const idle2 = await connect(h.port);
    await until(() => h.server.connections.size === 3);
    const newcomer = await connect(h.port);
    await idle1.closed;
    await until(() => h.server.connections.size === 3);
    expect(h.logs.filter((l) => l.event === 'rtmp.evicted')).toHaveLength(1);
    expect(reasonsOf(h)).toEqual(['evicted: server full']);
    // The newcomer can publish; the publisher keeps streaming.
    newcomer.socket.write(publishStream({ ...defaultScript, streamName: 'second', unpublish: false }));
    await until(() => h.requests.length === 2);
    await until(() => h.server.connections.size === 3 && [...h.server.connections].filter((c) => c.published).length === 2);
    publisher.socket.write(chunkMessages([{ type: 'video', timestamp: 100, messageStreamId: 1, payload: Buffer.alloc(50, 0x27) }]));
    await until(() => frames === 1);
    expect(idle2.socket.destroyed).toBe(false);

    // One eviction per address per interval: a second newcomer from 127.0.0.1 is refused, one from elsewhere evicts.
    const again = await connect(h.port);
    await again.closed;
    expect(h.logs.find((l) => l.event === 'rtmp.refused')?.fields.reason).toBe('too many connections');
    const elsewhere = await connect(h.port, '127.0.0.2');
    await idle2.closed;
    expect(h.logs.filter((l) => l.event === 'rtmp.evicted')).toHaveLength(2);
    for (const c of [publisher, newcomer, elsewhere]) c.socket.destroy();
  });

  it('gives every byte back to the shared budget when connections go', async () => {
    const h = await start(async () => ({ ok: true }));
    const client = await connect(h.port);
    const messages = chunkMessages([{ type: 'video', timestamp: 0, messageStreamId: 1, payload: Buffer.alloc(300_000, 0x17) }]);
    client.socket.write(publishStream({ ...defaultScript, media: [], unpublish: false }));
    await until(() => h.connections[0]?.published === true);
    client.socket.write(messages.subarray(0, 100_000));
    await until(() => h.server.budget.heldBytes > 0);
    client.socket.destroy();
    await until(() => h.server.connections.size === 0);
    expect(h.server.budget.heldBytes).toBe(0);
  });
});
