// The origin's own heartbeat to the edge, which is also its announce: every few seconds, "alive, holding these
// sessions, reachable here, this loaded, (not) draining", apart from the event outbox (whose stats a backlog or an
// outage can delay). The edge stamps it with its clock and reads it before counting a silent stream's encoder lost
// (edge/lifecycle.ts statsOverdue), lists it in /admin/origins and picks origins for work by it. The answer carries the
// key SRT passphrases derive from, which the SRT listener waits for (untilHeard), and fresh media grants for the sessions
// whose grant this beat asked to renew (renewGrants).
import { backoffDelay } from './backoff.ts';
import { originRequestHeaders, type OriginCredentials } from './edge-client.ts';
import {
  ORIGIN_HEARTBEAT_INTERVAL_MS,
  ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS,
  ORIGIN_HEARTBEAT_MAX_JOBS,
  ORIGIN_HEARTBEAT_MAX_SESSIONS,
  OriginHeartbeatResponse,
  type OriginHeartbeat,
} from '../shared/schemas/origin-heartbeat.ts';
import { log, logWarn } from './log.ts';

export const ORIGIN_HEARTBEAT_PATH = '/internal/origins/heartbeat';
/** Until the edge first answers, beats are retried sooner than the interval: from this, doubling up to the interval. */
const FIRST_RETRY_MS = 250;

export interface HeldSession {
  streamId: string;
  sessionId: string;
}

/** What does not change while the origin runs: where it is and how it is reached. */
export interface OriginAnnounce {
  region: string;
  ingestHost: string;
  ports: OriginHeartbeat['ports'];
  hlsUrl: string;
}

/** What changes from beat to beat (capacity in cost units, what is used of it, draining); admission fills it in. */
export interface OriginLoadReport {
  capacity: { units: number };
  load: { units: number; sessions: number };
  draining: boolean;
}

export interface OriginHeartbeatOptions {
  edgeUrl: string;
  credentials: OriginCredentials;
  /** Base URL the edge sends commands to. */
  originUrl: string;
  announce: OriginAnnounce;
  /** The sessions with an encoder connected here right now. */
  sessions: () => HeldSession[];
  /** Capacity, load and draining, read at every beat. */
  loadReport: () => OriginLoadReport;
  /**
   * The ids of the export and clip jobs running or queued here, read at every beat: the edge hands a job it gave this
   * origin out again once a beat no longer lists it (the origin restarted and forgot it).
   */
  jobs?: () => string[];
  intervalMs?: number;
  /** Media grants running out: which sessions to ask fresh ones for (at most `max`), and where the edge's answers go. */
  grantRenewal?: {
    due: (max: number) => HeldSession[];
    renewed: (grants: NonNullable<OriginHeartbeatResponse['grants']>) => Promise<void>;
  };
}

/**
 * One beat at a time, each with a deadline shorter than the interval; a failed beat is simply followed by the next one
 * (sooner, with backoff, until the edge has answered once). Only changes between reaching and not reaching the edge
 * are logged.
 */
export class OriginHeartbeatLoop {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private inFlight: Promise<boolean> | null = null;
  private reaching: boolean | null = null;
  private failuresBeforeFirstAnswer = 0;
  private answer: OriginHeartbeatResponse | null = null;
  private readonly waiting = new Set<(answer: OriginHeartbeatResponse) => void>();
  private readonly intervalMs: number;

  constructor(private readonly options: OriginHeartbeatOptions) {
    this.intervalMs = options.intervalMs ?? ORIGIN_HEARTBEAT_INTERVAL_MS;
  }

  /** The edge's latest answer (its SRT passphrase key among it), null until it first answered. */
  get lastAnswer(): OriginHeartbeatResponse | null {
    return this.answer;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The edge's first answer, or null once `timeoutMs` passed without one (the loop keeps trying). */
  untilHeard(timeoutMs: number): Promise<OriginHeartbeatResponse | null> {
    if (this.answer) return Promise.resolve(this.answer);
    return new Promise((resolve) => {
      const done = (answer: OriginHeartbeatResponse | null) => {
        clearTimeout(deadline);
        this.waiting.delete(done);
        resolve(answer);
      };
      const deadline = setTimeout(() => done(null), timeoutMs);
      deadline.unref();
      this.waiting.add(done);
    });
  }

  private async tick(): Promise<void> {
    await this.beat();
    if (!this.running) return;
    const delay = this.answer ? this.intervalMs : Math.min(this.intervalMs, backoffDelay(Math.max(0, this.failuresBeforeFirstAnswer - 1), FIRST_RETRY_MS, this.intervalMs));
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  /** Sends one heartbeat (or joins the one in flight); true when the edge recorded it. */
  beat(): Promise<boolean> {
    this.inFlight ??= this.send().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async send(): Promise<boolean> {
    const { edgeUrl, credentials, originUrl, announce } = this.options;
    const heartbeat: OriginHeartbeat = {
      originId: credentials.originId,
      originUrl,
      ...announce,
      ...this.options.loadReport(),
      sessions: this.options.sessions().slice(0, ORIGIN_HEARTBEAT_MAX_SESSIONS),
      at: new Date().toISOString(),
    };
    if (this.options.jobs) heartbeat.jobs = this.options.jobs().slice(0, ORIGIN_HEARTBEAT_MAX_JOBS);
    const renewGrants = this.options.grantRenewal?.due(ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS).slice(0, ORIGIN_HEARTBEAT_MAX_GRANT_RENEWALS) ?? [];
    if (renewGrants.length > 0) heartbeat.renewGrants = renewGrants;
    const body = JSON.stringify(heartbeat);
    let outcome: { ok: boolean; status: number | null; error?: string };
    try {
      const headers = await originRequestHeaders(credentials, 'POST', ORIGIN_HEARTBEAT_PATH, body);
      const response = await fetch(edgeUrl + ORIGIN_HEARTBEAT_PATH, {
        method: 'POST',
        body,
        // Small JSON both ways: uncompressed, as edge-client.ts asks (a gunzip per answer costs more than it saves).
        headers: { ...headers, 'content-type': 'application/json', 'accept-encoding': 'identity' },
        signal: AbortSignal.timeout(Math.max(500, Math.floor(this.intervalMs * 0.8))),
      });
      const text = await response.text();
      outcome = { ok: response.ok, status: response.status };
      if (response.ok) {
        const answer = OriginHeartbeatResponse.safeParse(JSON.parse(text));
        if (answer.success) {
          this.heard(answer.data);
          await this.takeGrants(answer.data.grants ?? [], renewGrants.length);
        }
        else outcome = { ok: false, status: response.status, error: 'the edge answer does not follow the contract' };
      } else {
        // A refusal says why (unknown origin, wrong region...): worth a line when it starts, never the secret.
        outcome.error = text.slice(0, 300);
      }
    } catch (error) {
      outcome = { ok: false, status: null, error: error instanceof Error ? error.message : String(error) };
    }
    if (!outcome.ok && !this.answer) this.failuresBeforeFirstAnswer += 1;
    if (outcome.ok !== this.reaching) {
      const originId = credentials.originId;
      if (outcome.ok) log('origin_heartbeat_reaching_edge', { originId, sessions: heartbeat.sessions.length });
      else logWarn('origin_heartbeat_failing', { originId, status: outcome.status, error: outcome.error ?? null });
      this.reaching = outcome.ok;
    }
    return outcome.ok;
  }

  /** Hands the renewed grants on; a session asked for and not answered is asked again later (DurableMedia decides when). */
  private async takeGrants(grants: NonNullable<OriginHeartbeatResponse['grants']>, asked: number): Promise<void> {
    if (asked === 0 && grants.length === 0) return;
    const originId = this.options.credentials.originId;
    if (grants.length < asked) logWarn('media_grant_not_renewed', { originId, asked, granted: grants.length });
    if (grants.length === 0 || !this.options.grantRenewal) return;
    await this.options.grantRenewal.renewed(grants).catch((error: unknown) => logWarn('media_grant_renewal_not_kept', { originId, error: String(error).slice(0, 200) }));
  }

  private heard(answer: OriginHeartbeatResponse): void {
    if (this.answer && this.answer.srtPassphraseKey !== answer.srtPassphraseKey) {
      // The edge's master key changed under a running origin: its own secret changed too, so this beat could not have
      // verified; kept as a line in case a future edge rotates the SRT key alone.
      logWarn('origin_srt_key_changed', { originId: this.options.credentials.originId, detail: 'restart the origin to use the new key' });
    }
    const first = this.answer === null;
    this.answer = first ? answer : { ...answer, srtPassphraseKey: this.answer!.srtPassphraseKey };
    if (first) for (const resolve of [...this.waiting]) resolve(answer);
  }
}
