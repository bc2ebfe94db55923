// The origin's capacity ledger: which publishers hold how many units, and the admission decisions made from it.
// A publisher is counted at the tentative cost from the moment it is let in (before the edge even answers), and at
// its ladder's real cost once its encoder has said what it sends. Beyond capacity a publisher is refused
// (OVER_CAPACITY=refuse, decided at the publish on the tentative cost, so a load balancer can try another origin) or
// kept with its own rendition copied and no ladder (source-only, the default). In memory only; no I/O.
import { COPIED_RENDITION_COST, RELAY_COST, TENTATIVE_STREAM_COST, roundUnits } from './cost.ts';

export type OverCapacityPolicy = 'source-only' | 'refuse';

export const OVER_CAPACITY_ISSUE = 'over-capacity-source-only';

/** What the heartbeat announces and /metrics exports. */
export interface OriginLoad {
  capacity: { units: number };
  load: { units: number; sessions: number };
  draining: boolean;
}

export type PublishVerdict = { ok: true; ticket: LedgerTicket } | { ok: false; reason: 'origin_at_capacity' | 'origin_draining'; detail: string };

export type LadderVerdict = { ladder: 'full' } | { ladder: 'source-only'; issue: string };

/** One publisher's place in the ledger, from admission to its encoder's end. */
export interface LedgerTicket {
  readonly id: number;
}

/** Small float sums must not refuse a ladder that fits exactly (3 × 0.333… of 1 unit). */
const EPSILON = 1e-9;

export class CapacityLedger {
  private readonly held = new Map<number, number>();
  /** Simulcast relays running (origin/destinations): each a small copy cost, not a session. */
  private relays = 0;
  private nextId = 1;
  private drainingSince: number | null = null;
  private readonly fullListeners = new Set<(full: boolean) => void>();
  private lastFull = false;

  constructor(
    readonly capacityUnits: number,
    readonly policy: OverCapacityPolicy = 'source-only',
  ) {
    if (!(capacityUnits > 0)) throw new Error(`capacity must be a positive number of units, got ${capacityUnits}`);
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** Units held by every publisher now. */
  get loadUnits(): number {
    let units = this.relays * RELAY_COST;
    for (const held of this.held.values()) units += held;
    return units;
  }

  /** Publishers with a place (the tentative ones included). */
  get sessions(): number {
    return this.held.size;
  }

  /** From now on every publish is refused; the broadcasts held go on. */
  startDraining(now = Date.now()): void {
    this.drainingSince ??= now;
  }

  /**
   * True while a new publisher would be refused for capacity (under refuse: its tentative ladder does not fit; under
   * source-only: not even a copy does). The SRT listener follows it, so its hook rejects callers before a handshake.
   */
  get full(): boolean {
    const needed = this.policy === 'refuse' ? TENTATIVE_STREAM_COST : COPIED_RENDITION_COST;
    return needed > this.capacityUnits - this.loadUnits + EPSILON;
  }

  /** Calls `listener` with `full` now and whenever it changes; returns the unsubscribe. */
  watchFull(listener: (full: boolean) => void): () => void {
    this.fullListeners.add(listener);
    listener(this.full);
    return () => this.fullListeners.delete(listener);
  }

  /**
   * A publisher arrives: a place at the tentative cost, or a refusal. Under source-only a publisher is refused only
   * when not even a copied rendition fits; under refuse, when its tentative ladder does not.
   */
  admitPublish(): PublishVerdict {
    if (this.draining) return { ok: false, reason: 'origin_draining', detail: 'this origin is draining (shutting down); publish to another origin' };
    const needed = this.policy === 'refuse' ? TENTATIVE_STREAM_COST : COPIED_RENDITION_COST;
    if (this.full) {
      return {
        ok: false,
        reason: 'origin_at_capacity',
        detail: `${roundUnits(this.loadUnits)} of ${roundUnits(this.capacityUnits)} capacity units in use; a new stream needs ${roundUnits(needed)}`,
      };
    }
    const ticket = { id: this.nextId++ };
    this.held.set(ticket.id, TENTATIVE_STREAM_COST);
    this.changed();
    return { ok: true, ticket };
  }

  /**
   * The encoder's source is known: its full ladder if it fits beside everyone else, else source-only. `kept` is
   * the ladder cost a resumed session is bound to (its playlists keep their renditions), counted whatever it is.
   */
  decideLadder(ticket: LedgerTicket, fullLadderUnits: number, kept?: number): LadderVerdict {
    const others = this.loadUnits - (this.held.get(ticket.id) ?? 0);
    if (kept !== undefined) {
      this.setUnits(ticket, kept);
      return { ladder: 'full' };
    }
    if (others + fullLadderUnits <= this.capacityUnits + EPSILON) {
      this.setUnits(ticket, fullLadderUnits);
      return { ladder: 'full' };
    }
    this.setUnits(ticket, COPIED_RENDITION_COST);
    return {
      ladder: 'source-only',
      issue: `${OVER_CAPACITY_ISSUE}: this origin's transcode capacity is in use (${roundUnits(others)} of ${roundUnits(this.capacityUnits)} units; this stream's ladder needs ${roundUnits(fullLadderUnits)}), so the encoder's rendition is served as sent, without a ladder`,
    };
  }

  /**
   * A simulcast relay starts: it is counted whatever the load (its session was admitted already, and a copy is cheap);
   * the returned function frees its units, once.
   */
  holdRelay(): () => void {
    this.relays += 1;
    this.changed();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.relays -= 1;
      this.changed();
    };
  }

  /** The publisher is gone (refused by the edge, or its encoder left): its units are free. */
  release(ticket: LedgerTicket): void {
    if (this.held.delete(ticket.id)) this.changed();
  }

  /** The snapshot the heartbeat and the metrics read. */
  originLoad(): OriginLoad {
    return {
      capacity: { units: roundUnits(this.capacityUnits) },
      load: { units: roundUnits(this.loadUnits), sessions: this.held.size },
      draining: this.draining,
    };
  }

  private setUnits(ticket: LedgerTicket, units: number): void {
    // A publisher gone before its source was known keeps no place.
    if (this.held.has(ticket.id)) this.held.set(ticket.id, units);
    this.changed();
  }

  private changed(): void {
    const full = this.full;
    if (full === this.lastFull) return;
    this.lastFull = full;
    for (const listener of this.fullListeners) listener(full);
  }
}
