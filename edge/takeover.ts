// Fast failover (issue 11): the stream's key arrives through origin B while the session is live on origin A. A second
// encoder must still be refused, but an encoder coming back through B after A died must not wait for A's stats to
// lapse (10 s, then the heartbeat check). So the StreamObject asks A whether it still has an encoder publishing the
// session: yes → already_live; no, no connection, no answer in time → the session goes on through B. An A whose
// heartbeat already lapsed is not asked. Pure decisions here; the asking is the object's (edge/stream-object.ts).
import type { LifecycleState, OriginLiveness } from './lifecycle.ts';
import { ORIGIN_HEARTBEAT_INTERVAL_MS } from '../shared/schemas/origin-heartbeat.ts';

/** How long the holding origin is given to answer; a dead one refuses the connection at once or never answers. */
export const HOLDER_PROBE_TIMEOUT_MS = 1_500;
/** A holder not heard (edge clock) for longer than two heartbeat intervals is not asked: it missed two beats. */
export const HOLDER_STALE_MS = 2 * ORIGIN_HEARTBEAT_INTERVAL_MS;

/** The session a publish through `originId` would take over, and the origin holding it; null when there is none. */
export interface HeldSession {
  sessionId: string;
  holderId: string;
  holderUrl: string;
}

export function heldElsewhere(state: LifecycleState, originId: string): HeldSession | null {
  const session = state.session;
  const live = state.status === 'STREAMING' || state.status === 'RECORDING';
  if (!live || !session?.publisherConnected || session.originId === originId) return null;
  return { sessionId: session.id, holderId: session.originId, holderUrl: session.originUrl };
}

/** What the holding origin said: its answer, or why there was none (refused connection, timeout, unknown origin). */
export type HolderAnswer = { publishing: boolean } | { unanswered: string } | { unusable: string };

export type TakeoverDecision =
  | { kind: 'ask' }
  | { kind: 'take_over'; reason: string }
  | { kind: 'refuse'; detail: string };

/**
 * Before asking (answer undefined): a stale holder is taken over without a question. After: only an origin that says
 * it still publishes the session keeps it; one that answers something unreadable (alive, but cannot say) keeps it too,
 * and the session waits for its stats as before.
 */
export function decideTakeover(
  held: HeldSession,
  holder: OriginLiveness | null,
  answer: HolderAnswer | undefined,
  now: number,
): TakeoverDecision {
  if (holder !== null && now - holder.heardAt > HOLDER_STALE_MS) {
    return { kind: 'take_over', reason: `origin ${held.holderId} not heard for ${Math.round((now - holder.heardAt) / 1000)} s` };
  }
  if (answer === undefined) return { kind: 'ask' };
  if ('publishing' in answer) {
    return answer.publishing
      ? { kind: 'refuse', detail: `another encoder is publishing to this stream (through origin ${held.holderId})` }
      : { kind: 'take_over', reason: `origin ${held.holderId} no longer has the encoder` };
  }
  if ('unanswered' in answer) return { kind: 'take_over', reason: `origin ${held.holderId} did not answer (${answer.unanswered})` };
  return { kind: 'refuse', detail: `another encoder may be publishing to this stream (origin ${held.holderId} could not say: ${answer.unusable})` };
}

/**
 * A publish through the origin that holds the connected session, which says no encoder of this key is there (its
 * authorize's `keyIdleHere`). The origin gives up on an authorize the edge is slow to answer and refuses its encoder,
 * but the edge usually applies the call anyway: a session live on that origin with nothing publishing it, refusing
 * the encoder's own reconnect as already_live until its stats deadline. The holder is the one witness of its own
 * connections, and it speaks only for the sessions it holds, so its word hands the session to the new encoder (a
 * resume). Without that word (an encoder of the key is there, or being admitted, or an older origin) the
 * one-publisher rule stands; another origin's publish goes through heldElsewhere and the holder's answer instead.
 */
export function reclaimableHere(
  state: LifecycleState,
  originId: string,
  keyIdleHere: boolean,
): { sessionId: string; reason: string } | null {
  const session = state.session;
  const live = state.status === 'STREAMING' || state.status === 'RECORDING';
  if (!keyIdleHere || !live || !session?.publisherConnected || session.originId !== originId) return null;
  return { sessionId: session.id, reason: `origin ${originId} has no encoder for the session (it gave up on the publish); the encoder reconnected` };
}
