// The byte budgets of the RTMP input path in one place: what one connection may hold at each layer, what all
// connections of one RtmpServer may hold together (IngestBudget), and the worst-case totals both add up to.
// With the defaults: one connection ≤ 20.07 MiB (16 MiB partial messages + 4 MiB held media + one 64 KiB chunk +
// the 3 KiB handshake); one origin of 1000 connections ≤ 321.4 MiB (the 256 MiB budget + 67.6 KiB unbudgeted each),
// of which connections that have not published can hold at most 64 MiB of budget.
import { HANDSHAKE_CLIENT_BYTES } from './handshake.ts';
import { DEFAULT_MAX_CHUNK_STREAMS, MAX_CHUNK_SIZE } from './chunk-reader.ts';

export interface IngestLimits {
  /** Distinct chunk stream ids one connection may use; encoders use a handful. */
  maxChunkStreams: number;
  /** Audio and video bodies: one encoded frame. */
  maxMediaMessageBytes: number;
  /** Data messages (onMetaData and friends). */
  maxDataMessageBytes: number;
  /** Commands (connect, publish, ...), which are small in every client. */
  maxCommandMessageBytes: number;
  /** Protocol control messages carry at most a few integers. */
  maxControlMessageBytes: number;
  /** Any other type, which we skip but still have to read. */
  maxOtherMessageBytes: number;
  /**
   * Memory held by messages being assembled on one connection, counted as allocated (buffer capacity), not as
   * payload received, so that no chunking of the input makes us hold more than this.
   */
  maxPartialBytes: number;
  /**
   * A message that needs more than one chunk while the peer's chunk size is below this is refused: tiny chunks
   * cost a header and a parse per byte and no encoder uses them (SRS refuses chunk sizes under 128 outright).
   */
  minChunkSize: number;
  /** Media that arrives while the host decides on publish; beyond this the connection fails. */
  maxPendingMediaBytes: number;
  /** All connections of one server together: partial messages plus pending media (the IngestBudget). */
  originBufferBytes: number;
  /** Part of originBufferBytes only publishing connections may use, so connections that never publish cannot starve one. */
  publisherReserveBytes: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxChunkStreams: DEFAULT_MAX_CHUNK_STREAMS,
  maxMediaMessageBytes: 8 * 1024 * 1024,
  maxDataMessageBytes: 256 * 1024,
  maxCommandMessageBytes: 64 * 1024,
  maxControlMessageBytes: 64,
  maxOtherMessageBytes: 64 * 1024,
  maxPartialBytes: 16 * 1024 * 1024,
  minChunkSize: 128,
  maxPendingMediaBytes: 4 * 1024 * 1024,
  originBufferBytes: 256 * 1024 * 1024,
  publisherReserveBytes: 192 * 1024 * 1024,
};

/** Header of the largest chunk: 3-byte basic header, 11-byte message header, 4-byte extended timestamp. */
const LARGEST_CHUNK_BYTES = 3 + 11 + 4 + MAX_CHUNK_SIZE;

/**
 * What one connection can hold of its input between two socket reads, worst case: the handshake, one partial
 * chunk, partial messages and pending media. Socket buffers and the write queue are the server's and not counted.
 */
export function worstCaseConnectionBytes(limits: IngestLimits = DEFAULT_INGEST_LIMITS): number {
  return HANDSHAKE_CLIENT_BYTES + LARGEST_CHUNK_BYTES + limits.maxPartialBytes + limits.maxPendingMediaBytes;
}

/**
 * What all connections of one server can hold of their input, worst case: the shared budget for partial messages
 * and pending media, plus what is not budgeted per connection (handshake bytes and one partial chunk each).
 */
export function worstCaseOriginBytes(maxConnections: number, limits: IngestLimits = DEFAULT_INGEST_LIMITS): number {
  const budgeted = Math.min(limits.originBufferBytes, maxConnections * (limits.maxPartialBytes + limits.maxPendingMediaBytes));
  return budgeted + maxConnections * (HANDSHAKE_CLIENT_BYTES + LARGEST_CHUNK_BYTES);
}

/**
 * Process-wide byte budget shared by the connections of one server. Connections that are not publishing draw from
 * originBufferBytes - publisherReserveBytes; publishing ones may use all of it. A connection that cannot get the
 * bytes it needs fails (and is dropped); nobody waits.
 */
export class IngestBudget {
  readonly totalBytes: number;
  readonly publisherReserveBytes: number;
  #held = 0;
  #heldByNonPublishers = 0;

  constructor(totalBytes: number, publisherReserveBytes = 0) {
    this.totalBytes = totalBytes;
    this.publisherReserveBytes = Math.min(publisherReserveBytes, totalBytes);
  }

  static unlimited(): IngestBudget {
    return new IngestBudget(Number.MAX_SAFE_INTEGER);
  }

  get heldBytes(): number {
    return this.#held;
  }

  get heldByNonPublishersBytes(): number {
    return this.#heldByNonPublishers;
  }

  /** One connection's share; close() it when the connection is gone. */
  account(): IngestAccount {
    return new IngestAccount(this);
  }

  /** @internal for IngestAccount */
  tryTake(bytes: number, publishing: boolean): boolean {
    if (this.#held + bytes > this.totalBytes) return false;
    if (!publishing) {
      if (this.#heldByNonPublishers + bytes > this.totalBytes - this.publisherReserveBytes) return false;
      this.#heldByNonPublishers += bytes;
    }
    this.#held += bytes;
    return true;
  }

  /** @internal for IngestAccount */
  give(bytes: number, publishing: boolean): void {
    this.#held -= bytes;
    if (!publishing) this.#heldByNonPublishers -= bytes;
  }

  /** @internal for IngestAccount: the account's bytes now count as a publisher's. */
  promote(bytes: number): void {
    this.#heldByNonPublishers -= bytes;
  }
}

/** One connection's bytes drawn from an IngestBudget. */
export class IngestAccount {
  readonly #budget: IngestBudget;
  #held = 0;
  #publishing = false;
  #closed = false;

  constructor(budget: IngestBudget) {
    this.#budget = budget;
  }

  get heldBytes(): number {
    return this.#held;
  }

  /** False when the budget has no room; the caller then fails its connection. */
  take(bytes: number): boolean {
    if (this.#closed) return false;
    if (!this.#budget.tryTake(bytes, this.#publishing)) return false;
    this.#held += bytes;
    return true;
  }

  release(bytes: number): void {
    const n = Math.min(bytes, this.#held);
    this.#held -= n;
    this.#budget.give(n, this.#publishing);
  }

  /** The connection's publish was accepted: from now on it may use the publishers' reserve. */
  promote(): void {
    if (this.#publishing || this.#closed) return;
    this.#publishing = true;
    this.#budget.promote(this.#held);
  }

  /** Gives everything back; later takes fail. */
  close(): void {
    this.release(this.#held);
    this.#closed = true;
  }
}
