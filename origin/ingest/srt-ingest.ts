// SRT into the pipeline. The listener's hook lets through only callers holding the passphrase derived from the key
// in their streamid (no edge call); once such a caller's handshake is complete, LiveIngest asks the edge whether
// the stream may go live, and its MPEG-TS and link statistics flow into the Broadcast until the connection ends.
// A refusal from the edge drops the caller, and the hook answers that key's retries at once for a while.
import { SrtServer, SrtReject, type SrtLogger, type SrtPublisher } from '../srt/server.ts';
import type { ListenOptions } from '../srt/native.ts';
import { linkIssues } from '../srt/link-health.ts';
import type { LiveIngest } from './live-ingest.ts';
import type { Broadcast } from './broadcast.ts';
import { logger } from '../log.ts';

/** Media arriving while the edge confirms the publish is held, up to this much. */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;
/** An edge refusal that stays true is given again, by the hook and without asking, to that key's callers this long. */
const REFUSAL_MEMORY_MS = 5000;
/**
 * Only refusals that do not flip back in seconds: a reset key, a deleted or finished stream. `already_live` and
 * `stream_disabled` are not remembered, or the live encoder's own reconnect (or a just re-enabled stream) would be
 * refused; such callers hold the passphrase, and the hook's per-address budget bounds their edge calls.
 */
const LASTING_REFUSALS = new Set(['unknown_stream_key', 'stream_deleted', 'stream_finished']);

export interface SrtIngestOptions {
  host: string;
  port: number;
  /** The SRT passphrase key from the edge's heartbeat answer: every stream's passphrase derives from it (shared/srt-passphrase.ts) */
  passphraseSecret: string;
  statsIntervalMs?: number;
  listen?: ListenOptions;
  /** default: the origin's JSON log */
  log?: SrtLogger;
}

/** Why LiveIngest refused (the edge's reasons and its own) → the SRT reject reason the caller's retries receive. */
export function rejectReasonFor(refusal: string): number {
  switch (refusal) {
    case 'unknown_stream_key':
      return SrtReject.UNAUTHORIZED;
    case 'stream_disabled':
    case 'stream_finished':
      return SrtReject.FORBIDDEN;
    case 'stream_deleted':
      return SrtReject.NOT_FOUND;
    case 'already_live':
      return SrtReject.CONFLICT;
    case 'origin_at_capacity':
      return SrtReject.OVERLOAD;
    case 'origin_draining':
      return SrtReject.DOWN;
    case 'edge_unavailable':
      return SrtReject.DOWN;
    default:
      return SrtReject.FORBIDDEN;
  }
}

export async function startSrtIngest(ingest: LiveIngest, options: SrtIngestOptions): Promise<SrtServer> {
  let server: SrtServer | undefined;
  const accept = (caller: { socketId: number; streamKey: string; remoteAddress: string }): SrtPublisher => {
    const request = { streamKey: caller.streamKey, protocol: 'srt' as const, remoteAddress: caller.remoteAddress };
    let broadcast: Broadcast | null = null;
    let closed = false;
    let early: Uint8Array[] = [];
    let earlyBytes = 0;
    // The handshake is complete, so the caller has the key and its passphrase: now the stream may go live.
    void ingest.admit(request, (reason) => server?.drop(caller.socketId, reason)).then((admission) => {
      if (!admission.ok) {
        if (LASTING_REFUSALS.has(admission.reason)) server?.refuseKey(caller.streamKey, rejectReasonFor(admission.reason), REFUSAL_MEMORY_MS);
        server?.drop(caller.socketId, `${admission.reason}: ${admission.detail}`);
        return;
      }
      broadcast = admission.broadcast;
      for (const chunk of early) broadcast.pushBytes(chunk);
      early = [];
      if (closed) ingest.released(broadcast, 'caller left during admission');
    });
    return {
      data: (chunk) => {
        if (broadcast) return broadcast.pushBytes(chunk);
        earlyBytes += chunk.byteLength;
        if (earlyBytes > MAX_EARLY_BYTES) server?.drop(caller.socketId, 'too much media before admission');
        else early.push(chunk);
      },
      link: (sample) => broadcast?.reportLinkHealth(linkIssues(sample)),
      closed: (reason) => {
        closed = true;
        early = [];
        if (broadcast) ingest.released(broadcast, reason);
      },
    };
  };
  server = await SrtServer.start({
    host: options.host,
    port: options.port,
    passphraseSecret: options.passphraseSecret,
    accept,
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.statsIntervalMs ? { statsIntervalMs: options.statsIntervalMs } : {}),
    log: options.log ?? ((event, fields) => logger.info({ event, ...fields })),
  });
  // The hook rejects callers while the origin has no room (OVERLOAD); a closed server ignores the calls.
  const started = server;
  ingest.watchFull((full) => started.setFull(full));
  return server;
}
