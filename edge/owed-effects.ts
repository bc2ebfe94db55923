// OwedEffects: the side effects a Durable Object owes, kept in its SQLite storage (pending_effects) and carried out
// after the commit that owed them; StreamObject and VideoObject both compose it.
//
// Crash safety: owe() is one synchronous SQL write, made inside the caller's synchronous commit block, so an effect is
// stored together with the state change that owes it (and the alarm). settle() then carries out what is due; whatever
// fails (or never ran, because the object died) is retried with backoff, its earliest retry folded into the object's
// alarm (nextRetryAt), and the alarm makes every owed effect due again (dueNow). An effect is deleted only in the
// version that was carried out, so one owed again meanwhile (an index that read an older state) stays for the next pass.
import { log } from './log.ts';

/** A side effect that failed is retried by the alarm after this long, doubling per failure up to the cap. */
export const EFFECT_RETRY_MS = 5_000;
export const EFFECT_RETRY_MAX_MS = 5 * 60_000;

/** What an object tells its owed effects: its storage, how effects are keyed and carried out, how it commits. */
export interface OwedEffectsHost<E extends { kind: string }> {
  sql: SqlStorage;
  ctx: DurableObjectState;
  /** The row an effect is (the key de-duplicates: a second index sync owed is the same row); keys sort in pass order. */
  key: (effect: E) => string;
  /** Kinds that reach outside our platform (an origin that may be gone, R2 bulk deletes): never awaited by an answer. */
  background: ReadonlySet<string>;
  /** Rounds a pass takes, so effects owed by an effect of the pass are carried out without waiting for the alarm. */
  rounds: number;
  /** One side effect; true when it is done (or moot), false or a throw to try again later. */
  carryOut: (effect: E) => Promise<boolean>;
  /** After a failed attempt (`attempts` counts it): true to stop retrying the effect (the object has noted why). */
  giveUp?: (effect: E, attempts: number) => boolean;
  /** Runs the writes in the object's synchronous commit block, which ends by arming its alarm. */
  transact: (writes: () => void) => void;
  /** The ids the object's logs carry (streamId, videoId). */
  logContext: () => Record<string, unknown>;
}

type DueRow = { key: string; effect: string; attempts: number; version: number };

export class OwedEffects<E extends { kind: string }> {
  /** The side-effect pass in progress, and the one queued behind it (see settle). */
  private runningPass: Promise<void> | null = null;
  private queuedPass: Promise<void> | null = null;
  /** Owed effects being carried out now (keys), so a background kick is never started twice at once. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly host: OwedEffectsHost<E>) {
    host.sql.exec(`
      CREATE TABLE IF NOT EXISTS pending_effects (
        key TEXT PRIMARY KEY, effect TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL,
        version INTEGER NOT NULL DEFAULT 1);
    `);
  }

  /** Notes a side effect the commit owes, inside the caller's synchronous block; carried out by settle() or the alarm. */
  owe(effect: E): void {
    this.host.sql.exec(
      `INSERT INTO pending_effects (key, effect, attempts, next_at, version) VALUES (?, ?, 0, ?, 1)
       ON CONFLICT (key) DO UPDATE SET effect = excluded.effect, attempts = 0, next_at = excluded.next_at,
         version = pending_effects.version + 1`,
      this.host.key(effect),
      JSON.stringify(effect),
      Date.now(),
    );
  }

  /** Drops an owed effect that no longer applies (a job over), inside the caller's synchronous block. */
  forget(key: string): void {
    this.host.sql.exec('DELETE FROM pending_effects WHERE key = ?', key);
  }

  /** When the alarm must run for the owed effects' retries (never sooner than one retry delay from now), or null. */
  nextRetryAt(): number | null {
    const retry = this.host.sql.exec<{ at: number | null }>('SELECT MIN(next_at) AS at FROM pending_effects').one().at;
    return retry === null ? null : Math.max(retry, Date.now() + EFFECT_RETRY_MS);
  }

  /** Every owed effect is due now, whatever its retry time: the alarm is their retry. */
  dueNow(): void {
    this.host.sql.exec('UPDATE pending_effects SET next_at = ? WHERE next_at > ?', Date.now(), Date.now());
  }

  /**
   * Carries out every owed side effect that is due, one pass at a time. A caller waits for a pass that starts after its
   * commit: the running one if none is, else the one queued behind it, which every later caller shares. So an answer
   * waits at most two passes, however many requests keep arriving.
   */
  settle(): Promise<void> {
    if (this.queuedPass) return this.queuedPass;
    if (!this.runningPass) return this.startPass();
    this.queuedPass = this.runningPass.then(() => {
      this.queuedPass = null;
      return this.startPass();
    });
    return this.queuedPass;
  }

  private startPass(): Promise<void> {
    const pass: Promise<void> = this.carryOutDueEffects()
      .catch((error: unknown) => log('side_effects_pass_failed', { ...this.host.logContext(), error: String(error) }))
      .finally(() => {
        if (this.runningPass === pass) this.runningPass = null;
      });
    this.runningPass = pass;
    return pass;
  }

  /**
   * One pass over the due side effects. Those a caller's answer depends on (D1 indexes, the webhook flush) are awaited;
   * the background ones run under ctx.waitUntil, so an unreachable origin never holds up an API answer. The pass ends
   * by arming the alarm for what is left.
   */
  private async carryOutDueEffects(): Promise<void> {
    for (let round = 0; round < this.host.rounds; round++) {
      const due = this.host.sql
        .exec<DueRow>('SELECT key, effect, attempts, version FROM pending_effects WHERE next_at <= ? ORDER BY key', Date.now())
        .toArray()
        .filter((row) => !this.inFlight.has(row.key));
      if (due.length === 0) break;
      for (const row of due) {
        if (this.inFlight.has(row.key)) continue;
        const effect = JSON.parse(row.effect) as E;
        const attempt = this.attempt(row, effect);
        if (this.host.background.has(effect.kind)) this.host.ctx.waitUntil(attempt);
        else await attempt;
      }
    }
    this.host.transact(() => undefined);
  }

  private async attempt(row: Omit<DueRow, 'effect'>, effect: E): Promise<void> {
    this.inFlight.add(row.key);
    let done: boolean;
    try {
      done = await this.host.carryOut(effect);
    } catch (error) {
      log('side_effect_failed', { ...this.host.logContext(), effect: effect.kind, attempts: row.attempts + 1, error: String(error) });
      done = false;
    } finally {
      this.inFlight.delete(row.key);
    }
    if (!done && this.host.giveUp?.(effect, row.attempts + 1)) done = true;
    this.host.transact(() => {
      // Only the version carried out goes: a commit meanwhile may have owed it again, and then it stays for the next pass.
      if (done) this.host.sql.exec('DELETE FROM pending_effects WHERE key = ? AND version = ?', row.key, row.version);
      else {
        const delay = Math.min(EFFECT_RETRY_MAX_MS, EFFECT_RETRY_MS * 2 ** row.attempts);
        this.host.sql.exec(
          'UPDATE pending_effects SET attempts = attempts + 1, next_at = ? WHERE key = ? AND version = ?',
          Date.now() + delay,
          row.key,
          row.version,
        );
      }
    });
    // A background effect that owed more (a finalize to a dead origin owes the settle): carry that out now.
    if (
      this.host.background.has(effect.kind) &&
      this.host.sql.exec('SELECT 1 FROM pending_effects WHERE next_at <= ? LIMIT 1', Date.now()).toArray().length
    ) {
      void this.settle();
    }
  }
}
