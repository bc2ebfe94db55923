// SRT into the pipeline: while a caller's handshake waits, its streamid is parsed and LiveIngest asks the edge;
// the grant's passphrase and latency then apply to that connection, and its MPEG-TS and link statistics flow
// into the Broadcast until the connection ends.
import { SrtServer, SrtReject, type SrtDecision } from '../srt/server.ts';
import type { ListenOptions } from '../srt/native.ts';
import { parseStreamId } from '../srt/streamid.ts';
import { linkIssues } from '../srt/link-health.ts';
import type { LiveIngest } from './live-ingest.ts';
import { logger } from '../log.ts';

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
    const admission = await ingest.admit(
      { streamKey: parsed.streamKey, protocol: 'srt', remoteAddress: caller.remoteAddress },
      (reason) => server?.drop(caller.socketId, reason),
    );
    if (!admission.ok) return { reject: rejectReasonFor(admission.reason), reason: `${admission.reason}: ${admission.detail}` };
    const { broadcast } = admission;
    const { srtPassphrase, srtLatency } = broadcast.grant;
    if (!srtPassphrase) {
      // Every stream has an srtSecret; accepting without one would let the key alone publish over SRT.
      ingest.released(broadcast, 'the edge granted SRT without a passphrase');
      return { reject: SrtReject.INTERNAL, reason: 'no passphrase in the grant' };
    }
    return {
      accept: {
        passphrase: srtPassphrase,
        latencyMs: srtLatency > 0 ? srtLatency : DEFAULT_LATENCY_MS,
        data: (chunk) => broadcast.pushBytes(chunk),
        link: (sample) => broadcast.reportLinkHealth(linkIssues(sample)),
        // Also when the handshake failed after the grant (wrong passphrase): the edge has counted a publish.
        closed: (reason) => ingest.released(broadcast, reason),
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
