// SRT into the pipeline: while a caller's handshake waits, its streamid is parsed and LiveIngest asks the edge;
// the grant's passphrase and latency then apply to that connection, and its MPEG-TS and link statistics flow
// into the Broadcast until the connection ends.
import { SrtServer, SrtReject, type SrtDecision } from '../srt/server.ts';
import type { ListenOptions } from '../srt/native.ts';
import { parseStreamId } from '../srt/streamid.ts';
import { linkIssues } from '../srt/link-health.ts';
import type { LiveIngest } from './live-ingest.ts';
import type { Broadcast } from './broadcast.ts';
import { logger } from '../log.ts';

/** Media arriving while the edge confirms the publish is held, up to this much. */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;
/** When a grant carries no latency of its own. */
const DEFAULT_LATENCY_MS = 120;

export interface SrtIngestOptions {
  host: string;
  port: number;
  statsIntervalMs?: number;
  listen?: ListenOptions;
}

/** Why LiveIngest refused (the edge's reasons and its own) → the SRT reject reason the caller receives. */
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
    case 'edge_unavailable':
      return SrtReject.DOWN;
    default:
      return SrtReject.FORBIDDEN;
  }
}

export async function startSrtIngest(ingest: LiveIngest, options: SrtIngestOptions): Promise<SrtServer> {
  let server: SrtServer | undefined;
  const decide = async (caller: { socketId: number; streamId: string; remoteAddress: string }): Promise<SrtDecision> => {
    const parsed = parseStreamId(caller.streamId);
    if (!parsed.ok) {
      return { reject: parsed.refusal === 'unsupported_mode' ? SrtReject.BAD_MODE : SrtReject.BAD_REQUEST, reason: parsed.detail };
    }
    const request = { streamKey: parsed.streamKey, protocol: 'srt' as const, remoteAddress: caller.remoteAddress };
    // Only ask now: a caller with the right key but a wrong passphrase must not make the stream live.
    const check = await ingest.check(request);
    if (!check.ok) return { reject: rejectReasonFor(check.reason), reason: `${check.reason}: ${check.detail}` };
    const { srtPassphrase, srtLatency } = check.grant;
    if (!srtPassphrase) {
      // Every stream has an srtSecret; accepting without one would let the key alone publish over SRT.
      return { reject: SrtReject.INTERNAL, reason: 'no passphrase in the grant' };
    }
    let broadcast: Broadcast | null = null;
    let closed = false;
    let early: Uint8Array[] = [];
    let earlyBytes = 0;
    return {
      accept: {
        passphrase: srtPassphrase,
        latencyMs: srtLatency > 0 ? srtLatency : DEFAULT_LATENCY_MS,
        // The handshake is complete (so the passphrase was right): now the stream goes live.
        connected: () => {
          void ingest.admit(request, (reason) => server?.drop(caller.socketId, reason)).then((admission) => {
            if (!admission.ok) {
              server?.drop(caller.socketId, `${admission.reason}: ${admission.detail}`);
              return;
            }
            broadcast = admission.broadcast;
            for (const chunk of early) broadcast.pushBytes(chunk);
            early = [];
            if (closed) ingest.released(broadcast, 'caller left during admission');
          });
        },
        data: (chunk) => {
          if (broadcast) return broadcast.pushBytes(chunk);
          earlyBytes += chunk.byteLength;
          if (earlyBytes > MAX_EARLY_BYTES) server?.drop(caller.socketId, 'too much media before admission');
          else early.push(chunk);
        },
        link: (sample) => broadcast?.reportLinkHealth(linkIssues(sample)),
        closed: (reason) => {
          closed = true;
          if (broadcast) ingest.released(broadcast, reason);
        },
      },
    };
  };
  server = await SrtServer.start({
    host: options.host,
    port: options.port,
    decide,
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.statsIntervalMs ? { statsIntervalMs: options.statsIntervalMs } : {}),
    log: (event, fields) => logger.info({ event, ...fields }),
  });
  return server;
}
