// The origin's own heartbeat to the edge: every few seconds, "alive, holding these sessions", apart from the event
// outbox (whose stats a backlog or an outage can delay). The edge stamps it with its clock and reads it before counting
// a silent stream's encoder lost (edge/lifecycle.ts statsOverdue), so a slow outbox never ends a healthy broadcast.
import { signRequest } from '../shared/request-signing.ts';
import {
  ORIGIN_HEARTBEAT_INTERVAL_MS,
  ORIGIN_HEARTBEAT_MAX_SESSIONS,
  type OriginHeartbeat,
} from '../shared/schemas/origin-heartbeat.ts';
import { log, logWarn } from './log.ts';

export const ORIGIN_HEARTBEAT_PATH = '/internal/origins/heartbeat';

export interface HeldSession {
  streamId: string;
  sessionId: string;
}

export interface OriginHeartbeatOptions {
  edgeUrl: string;
  originSecret: string;
  originId: string;
  originUrl: string;
  /** The sessions with an encoder connected here right now. */
  sessions: () => HeldSession[];
  intervalMs?: number;
}

/**
 * One beat at a time, each with a deadline shorter than the interval; a failed beat is simply followed by the next one
 * (the interval is the retry). Only changes between reaching and not reaching the edge are logged.
 */
export class OriginHeartbeatLoop {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<boolean> | null = null;
  private reaching: boolean | null = null;
  private readonly intervalMs: number;

  constructor(private readonly options: OriginHeartbeatOptions) {
    this.intervalMs = options.intervalMs ?? ORIGIN_HEARTBEAT_INTERVAL_MS;
  }

  start(): void {
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends one heartbeat (or joins the one in flight); true when the edge recorded it. */
  beat(): Promise<boolean> {
    this.inFlight ??= this.send().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async send(): Promise<boolean> {
    const { edgeUrl, originSecret, originId, originUrl } = this.options;
    const heartbeat: OriginHeartbeat = {
      originId,
      originUrl,
      sessions: this.options.sessions().slice(0, ORIGIN_HEARTBEAT_MAX_SESSIONS),
      at: new Date().toISOString(),
    };
    const body = JSON.stringify(heartbeat);
    let outcome: { ok: boolean; status: number | null; error?: string };
    try {
      const headers = await signRequest(originSecret, 'POST', ORIGIN_HEARTBEAT_PATH, body);
      const response = await fetch(edgeUrl + ORIGIN_HEARTBEAT_PATH, {
        method: 'POST',
        body,
        headers: { ...headers, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(Math.max(500, Math.floor(this.intervalMs * 0.8))),
      });
      await response.body?.cancel();
      outcome = { ok: response.ok, status: response.status };
    } catch (error) {
      outcome = { ok: false, status: null, error: error instanceof Error ? error.message : String(error) };
    }
    if (outcome.ok !== this.reaching) {
      if (outcome.ok) log('origin_heartbeat_reaching_edge', { originId, sessions: heartbeat.sessions.length });
      else logWarn('origin_heartbeat_failing', { originId, status: outcome.status, error: outcome.error ?? null });
      this.reaching = outcome.ok;
    }
    return outcome.ok;
  }
}
