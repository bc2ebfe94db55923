// Server side of the plain RTMP handshake: C0+C1 in, S0+S1+S2 out (S2 echoes C1), then C2.
// Holds at most C0+C1+C2 bytes; whatever follows C2 already belongs to the chunk stream and is handed on.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { RtmpProtocolError } from './chunk-reader.ts';

export const RTMP_VERSION = 3;
export const HANDSHAKE_PACKET_SIZE = 1536;
/** C0 + C1 + C2: everything the client owes before chunks start. */
export const HANDSHAKE_CLIENT_BYTES = 1 + 2 * HANDSHAKE_PACKET_SIZE;

export interface HandshakeStep {
  /** S0+S1+S2, once C0+C1 are in. */
  reply?: Buffer;
  done: boolean;
  /** Bytes after C2: the start of the chunk stream. */
  rest: Buffer;
}

export interface ServerHandshakeOptions {
  randomBytes?: (size: number) => Buffer;
}

const EMPTY = Buffer.alloc(0);

export class ServerHandshake {
  readonly #randomBytes: (size: number) => Buffer;
  #received: Buffer[] = [];
  #receivedLength = 0;
  /** Client bytes consumed so far: 0 → 1537 (C0+C1 answered) → 3073 (C2 read, done). */
  #consumed = 0;

  constructor(options: ServerHandshakeOptions = {}) {
    this.#randomBytes = options.randomBytes ?? cryptoRandomBytes;
  }

  get done(): boolean {
    return this.#consumed === HANDSHAKE_CLIENT_BYTES;
  }

  get bufferedBytes(): number {
    return this.#receivedLength;
  }

  feed(bytes: Buffer): HandshakeStep {
    if (this.done) return { done: true, rest: bytes };
    if (this.#consumed === 0 && this.#receivedLength === 0 && bytes.length > 0) {
      // Checked on the first byte so that HTTP, TLS or RTMPE on the wrong port fails at once.
      const version = bytes[0]!;
      if (version !== RTMP_VERSION) {
        throw new RtmpProtocolError('handshake', `unsupported RTMP version ${version} in C0`);
      }
    }
    // Never hold more than the handshake owes; the surplus is returned untouched.
    const owed = HANDSHAKE_CLIENT_BYTES - this.#consumed - this.#receivedLength;
    const take = Math.min(owed, bytes.length);
    if (take > 0) {
      this.#received.push(bytes.subarray(0, take));
      this.#receivedLength += take;
    }
    const rest = take < bytes.length ? bytes.subarray(take) : EMPTY;

    let reply: Buffer | undefined;
    if (this.#consumed === 0 && this.#receivedLength >= 1 + HANDSHAKE_PACKET_SIZE) {
      const all = Buffer.concat(this.#received, this.#receivedLength);
      const c1 = all.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
      reply = this.#reply(c1);
      this.#consumed = 1 + HANDSHAKE_PACKET_SIZE;
      const afterC1 = all.subarray(this.#consumed);
      this.#received = afterC1.length > 0 ? [Buffer.from(afterC1)] : [];
      this.#receivedLength = afterC1.length;
    }
    if (this.#consumed > 0 && this.#receivedLength === HANDSHAKE_PACKET_SIZE) {
      // C2 should echo S1, but clients differ in what they put there and nothing depends on it.
      this.#received = [];
      this.#receivedLength = 0;
      this.#consumed = HANDSHAKE_CLIENT_BYTES;
    }
    return { ...(reply ? { reply } : {}), done: this.done, rest };
  }

  #reply(c1: Buffer): Buffer {
    const out = Buffer.alloc(1 + 2 * HANDSHAKE_PACKET_SIZE);
    out[0] = RTMP_VERSION;
    // S1: time 0 and version 0 (bytes 1..8 stay zero) announce the plain handshake; then random filler.
    const random = this.#randomBytes(HANDSHAKE_PACKET_SIZE - 8);
    random.copy(out, 1 + 8, 0, HANDSHAKE_PACKET_SIZE - 8);
    c1.copy(out, 1 + HANDSHAKE_PACKET_SIZE);
    return out;
  }
}
