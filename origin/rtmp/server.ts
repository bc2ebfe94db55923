// RTMP and RTMPS listeners: the accept loop with connection limits, eviction when full, and the ingest byte budget
// all connections share; each accepted socket becomes an RtmpConnection (connection.ts), which does everything else.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { RtmpConnection } from './connection.ts';
import type { ConnectionSettings, PublishDecision, PublishHook, RtmpLogger, RtmpProtocol } from './connection.ts';
import { DEFAULT_INGEST_LIMITS, IngestBudget } from './ingest-limits.ts';
import type { IngestLimits } from './ingest-limits.ts';
import { PROXY_HEADER_MAX_BYTES, parseProxyHeader } from './proxy-protocol.ts';
import type { ProxyTrust } from './proxy-trust.ts';

export interface RtmpServerLimits {
  /**
   * Connections at once. When full, a newcomer evicts the oldest connection that has not published yet, so
   * connections that never publish (slowloris) cannot keep a publisher out; only when all publish is one refused.
   */
  maxConnections: number;
  /**
   * One address may evict at most once per this interval (else its newcomer is refused). Without it attackers that
   * reconnect at once would churn every slot faster than a real encoder gets from accept to publish.
   */
  evictionIntervalPerAddressMs: number;
  /**
   * Connections from one address that have not published yet; over it the newcomer is refused. Publishers leave
   * this count once accepted, so a studio's encoders behind one NAT are limited only by maxConnections.
   */
  maxConnectionsPerIp: number;
  /** From accept (TCP, or TLS for RTMPS) to the end of the RTMP handshake. */
  handshakeTimeoutMs: number;
  /** From the end of the handshake to publish accepted, the publish hook's time included. */
  publishTimeoutMs: number;
  /** From publish accepted to the first audio or video frame. */
  firstMediaTimeoutMs: number;
  /** Without data from the peer. */
  idleTimeoutMs: number;
  /** After the client unpublished, before we hang up. */
  unpublishLingerMs: number;
  /** Bytes queued for a peer that does not read; past it the connection is dropped. Our replies are small. */
  maxWriteQueueBytes: number;
  /** Byte budgets of the input path, per connection and for the whole server (ingest-limits.ts). */
  ingest: Partial<IngestLimits>;
}

export const DEFAULT_SERVER_LIMITS: RtmpServerLimits = {
  maxConnections: 1000,
  maxConnectionsPerIp: 4,
  evictionIntervalPerAddressMs: 2000,
  handshakeTimeoutMs: 5000,
  publishTimeoutMs: 10_000,
  firstMediaTimeoutMs: 10_000,
  idleTimeoutMs: 15_000,
  unpublishLingerMs: 2000,
  maxWriteQueueBytes: 256 * 1024,
  ingest: {},
};

export interface RtmpsOptions {
  /** Its own port (0 picks a free one). */
  port: number;
  /** PEM text, or a path to a PEM file. */
  cert: string;
  key: string;
}

export interface RtmpServerOptions {
  /** Plain RTMP port; 0 picks a free one. */
  port: number;
  host?: string;
  tls?: RtmpsOptions;
  limits?: Partial<RtmpServerLimits>;
  /**
   * PROXY_PROTOCOL_FROM: a connection from one of these peers must start with a PROXY protocol header (v1 or v2,
   * before TLS for RTMPS), whose address then stands for the encoder's everywhere; from any other peer no header is
   * accepted (its bytes are RTMP). Absent = nobody.
   */
  proxyTrust?: ProxyTrust;
  onPublish: PublishHook;
  log?: RtmpLogger;
}

export interface RtmpServerAddresses {
  rtmp: AddressInfo;
  rtmps?: AddressInfo;
}

function pem(value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

/** One live TCP connection's peer end, the same on the raw socket and on the TLS socket over it. */
function endpointKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

function listenOn(server: net.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export class RtmpServer {
  readonly #options: RtmpServerOptions;
  readonly #limits: RtmpServerLimits;
  readonly #settings: ConnectionSettings;
  readonly #budget: IngestBudget;
  readonly #log: RtmpLogger;
  readonly #connections = new Set<RtmpConnection>();
  /** Per address: connections that have not published yet. */
  readonly #perIp = new Map<string, number>();
  /** Address → when it last evicted someone. */
  readonly #lastEviction = new Map<string, number>();
  readonly #plain: net.Server;
  /** RTMPS: the TCP listener (a PROXY header comes before TLS) hands each socket to #secure, which never listens itself. */
  readonly #secureFront: net.Server | undefined;
  readonly #secure: tls.Server | undefined;
  /** Trusted peers' sockets still waiting for their PROXY header (bounded by maxConnections). */
  readonly #awaitingHeader = new Set<Socket>();
  /** RTMPS: "peer address|peer port" of a raw socket handed to TLS → the address its PROXY header named. */
  readonly #forwardedTls = new Map<string, string>();
  #nextId = 1;
  #closing = false;
  /** Set by stopAccepting (draining): every publish from now on gets this refusal; connections already publishing go on. */
  #refusal: PublishDecision | null = null;
  #onDrained: (() => void)[] = [];

  constructor(options: RtmpServerOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    const ingest = { ...DEFAULT_INGEST_LIMITS, ...this.#limits.ingest };
    this.#settings = {
      handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
      publishTimeoutMs: this.#limits.publishTimeoutMs,
      firstMediaTimeoutMs: this.#limits.firstMediaTimeoutMs,
      idleTimeoutMs: this.#limits.idleTimeoutMs,
      unpublishLingerMs: this.#limits.unpublishLingerMs,
      maxWriteQueueBytes: this.#limits.maxWriteQueueBytes,
      ingest,
    };
    this.#budget = new IngestBudget(ingest.originBufferBytes, ingest.publisherReserveBytes);
    this.#log = options.log ?? (() => {});
    this.#plain = net.createServer((socket) => this.#arrive(socket, 'rtmp'));
    if (options.tls) {
      this.#secure = tls.createServer(
        { cert: pem(options.tls.cert), key: pem(options.tls.key), handshakeTimeout: this.#limits.handshakeTimeoutMs },
        (socket) => {
          const key = endpointKey(socket);
          const forwarded = this.#forwardedTls.get(key);
          this.#forwardedTls.delete(key);
          this.#accept(socket, 'rtmps', forwarded ?? socket.remoteAddress ?? 'unknown');
        },
      );
      this.#secureFront = net.createServer((socket) => this.#arrive(socket, 'rtmps'));
      // Bounds sockets still in the TLS handshake too, which #accept never sees.
      this.#secureFront.maxConnections = this.#limits.maxConnections;
      this.#secure.on('tlsClientError', (error: NodeJS.ErrnoException, socket: Socket) => {
        const remoteAddress = this.#forwardedTls.get(endpointKey(socket)) ?? socket.remoteAddress ?? 'unknown';
        this.#log('rtmp.tls_error', { remoteAddress, code: error.code ?? 'unknown' });
      });
    }
  }

  async listen(): Promise<RtmpServerAddresses> {
    const host = this.#options.host ?? '0.0.0.0';
    const rtmp = await listenOn(this.#plain, this.#options.port, host);
    const rtmps = this.#secureFront && this.#options.tls ? await listenOn(this.#secureFront, this.#options.tls.port, host) : undefined;
    const proxyFrom = this.#options.proxyTrust?.entries ?? [];
    this.#log('rtmp.listening', { rtmpPort: rtmp.port, ...(rtmps ? { rtmpsPort: rtmps.port } : {}), ...(proxyFrom.length ? { proxyProtocolFrom: proxyFrom } : {}) });
    return rtmps ? { rtmp, rtmps } : { rtmp };
  }

  get connections(): ReadonlySet<RtmpConnection> {
    return this.#connections;
  }

  /** The byte budget all connections' partial messages and held media draw from. */
  get budget(): IngestBudget {
    return this.#budget;
  }

  /**
   * Draining: the listeners stay open (a load balancer's connection is answered, not reset) but every publish is
   * refused with an error status carrying the reason, so the encoder or the balancer tries another origin. The
   * connections already publishing are kept.
   */
  stopAccepting(reason: string): void {
    if (this.#refusal) return;
    this.#refusal = { ok: false, reason, code: 'Unauthorized' };
    this.#log('rtmp.stopped_accepting', { reason });
  }

  /** Stops listening and closes every connection; resolves once all sockets are gone. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const socket of this.#awaitingHeader) socket.destroy();
    const stopped = [this.#plain, this.#secureFront].flatMap((server) =>
      server?.listening ? [new Promise<void>((resolve) => server.close(() => resolve()))] : [],
    );
    const drained =
      this.#connections.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#onDrained.push(resolve));
    for (const connection of this.#connections) connection.close('server closing');
    await Promise.all([...stopped, drained]);
  }

  /** A new TCP connection: from a trusted balancer, its PROXY header first; then RTMP, or TLS then RTMP. */
  #arrive(socket: Socket, protocol: RtmpProtocol): void {
    const peer = socket.remoteAddress ?? 'unknown';
    if (!this.#options.proxyTrust?.trusts(peer)) {
      this.#afterHeader(socket, protocol, peer);
      return;
    }
    if (this.#closing || this.#awaitingHeader.size >= this.#limits.maxConnections) {
      this.#log('rtmp.refused', { remoteAddress: peer, protocol, reason: this.#closing ? 'server closing' : 'too many connections awaiting a PROXY header' });
      socket.destroy();
      return;
    }
    this.#awaitingHeader.add(socket);
    let received = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(deadline);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      this.#awaitingHeader.delete(socket);
    };
    const fail = (reason: string) => {
      finish();
      // A balancer's TCP health check connects and leaves without a byte: not worth a line every few seconds.
      if (received.length > 0 || reason === 'no PROXY header before the handshake deadline') {
        this.#log('rtmp.proxy_header_refused', { peerAddress: peer, protocol, reason, bytes: received.length });
      }
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      // Bounded: a header is at most PROXY_HEADER_MAX_BYTES; the parser decides within that many bytes.
      received = Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received);
      if (result.kind === 'incomplete') {
        if (received.length >= PROXY_HEADER_MAX_BYTES) fail(`PROXY header longer than ${PROXY_HEADER_MAX_BYTES} bytes`);
        return;
      }
      if (result.kind === 'invalid') return fail(`malformed PROXY header: ${result.reason}`);
      finish();
      // What followed the header in the same read is the encoder's first RTMP (or TLS) bytes: put it back.
      socket.pause();
      const rest = received.subarray(result.length);
      if (rest.length > 0) socket.unshift(rest);
      this.#afterHeader(socket, protocol, result.source?.address ?? peer);
    };
    const onEnd = () => fail('peer closed before its PROXY header');
    const deadline = setTimeout(() => fail('no PROXY header before the handshake deadline'), this.#limits.handshakeTimeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  }

  #afterHeader(socket: Socket, protocol: RtmpProtocol, address: string): void {
    if (protocol === 'rtmp') {
      this.#accept(socket, 'rtmp', address);
      socket.resume();
      return;
    }
    // RTMPS: TLS on this socket now; the secure listener's callback finds the address again by the peer endpoint.
    if (address !== socket.remoteAddress) {
      const key = endpointKey(socket);
      this.#forwardedTls.set(key, address);
      socket.once('close', () => this.#forwardedTls.delete(key));
    }
    this.#secure!.emit('connection', socket);
  }

  #accept(socket: Socket, protocol: RtmpProtocol, ip: string): void {
    const fromIp = this.#perIp.get(ip) ?? 0;
    let refusal = this.#closing
      ? 'server closing'
      : fromIp >= this.#limits.maxConnectionsPerIp
        ? 'too many connections from this address'
        : undefined;
    if (!refusal && this.#openCount() >= this.#limits.maxConnections) {
      const victim = this.#mayEvict(ip) ? this.#evictionCandidate() : undefined;
      if (victim) {
        this.#lastEviction.set(ip, Date.now());
        this.#log('rtmp.evicted', { connection: victim.id, remoteAddress: victim.remoteAddress, ageMs: Date.now() - victim.acceptedAt });
        victim.evict('evicted: server full');
      } else {
        refusal = 'too many connections';
      }
    }
    if (refusal) {
      this.#log('rtmp.refused', { remoteAddress: ip, protocol, reason: refusal });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.#perIp.set(ip, fromIp + 1);
    const connection = new RtmpConnection(socket, {
      id: this.#nextId++,
      protocol,
      settings: this.#settings,
      onPublish: (request, connection) => (this.#refusal ? Promise.resolve(this.#refusal) : this.#options.onPublish(request, connection)),
      log: this.#log,
      remoteAddress: ip,
      account: this.#budget.account(),
      onPublished: () => this.#leavePending(ip),
      onClosed: (closed) => {
        this.#connections.delete(closed);
        if (!closed.published) this.#leavePending(ip);
        if (this.#connections.size === 0) for (const resolve of this.#onDrained.splice(0)) resolve();
      },
    });
    this.#connections.add(connection);
  }

  #leavePending(ip: string): void {
    const left = (this.#perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.#perIp.set(ip, left);
    else this.#perIp.delete(ip);
  }

  #mayEvict(ip: string): boolean {
    const now = Date.now();
    const interval = this.#limits.evictionIntervalPerAddressMs;
    // Bounded: past a few thousand addresses, forget the ones whose interval is over.
    if (this.#lastEviction.size > 4096) for (const [address, at] of this.#lastEviction) if (now - at >= interval) this.#lastEviction.delete(address);
    const last = this.#lastEviction.get(ip);
    return last === undefined || now - last >= interval;
  }

  /** Connections not already on their way out (an evicted one leaves its slot at once). */
  #openCount(): number {
    let open = 0;
    for (const connection of this.#connections) if (!connection.closed) open++;
    return open;
  }

  /** The oldest connection that has not published; one still waiting for the hook's answer only if there is no other. */
  #evictionCandidate(): RtmpConnection | undefined {
    let pending: RtmpConnection | undefined;
    // A Set iterates in insertion order: oldest first.
    for (const connection of this.#connections) {
      if (connection.closed || connection.published) continue;
      if (!connection.publishRequested) return connection;
      pending ??= connection;
    }
    return pending;
  }
}
