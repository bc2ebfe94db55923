// RTMP and RTMPS into the pipeline: the RTMP server's publish hook asks LiveIngest, and an accepted connection's
// metadata, audio and video flow into its Broadcast until the socket closes.
import { readFileSync } from 'node:fs';
import { RtmpServer, type RtmpServerAddresses, type RtmpServerLimits } from '../rtmp/server.ts';
import type { LiveIngest } from './live-ingest.ts';
import type { ProxyTrust } from '../rtmp/proxy-trust.ts';
import { logger } from '../log.ts';

export interface RtmpIngestOptions {
  host: string;
  port: number;
  tls: { port: number; certFile: string; keyFile: string } | null;
  /** Connection caps, deadlines and byte budgets; DEFAULT_SERVER_LIMITS (origin/rtmp/server.ts) where absent. */
  limits?: Partial<RtmpServerLimits>;
  /** Load balancers whose connections start with a PROXY header naming the encoder's address (PROXY_PROTOCOL_FROM). */
  proxyTrust?: ProxyTrust;
}

export async function startRtmpIngest(
  ingest: LiveIngest,
  options: RtmpIngestOptions,
): Promise<{ server: RtmpServer; addresses: RtmpServerAddresses }> {
  const server = new RtmpServer({
    host: options.host,
    port: options.port,
    ...(options.tls
      ? { tls: { port: options.tls.port, cert: readFileSync(options.tls.certFile, 'utf8'), key: readFileSync(options.tls.keyFile, 'utf8') } }
      : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.proxyTrust ? { proxyTrust: options.proxyTrust } : {}),
    log: (event, fields) => logger.info({ event, ...fields }),
    onPublish: async (request, connection) => {
      const admission = await ingest.admit(
        { streamKey: request.streamKey, protocol: request.protocol, remoteAddress: request.remoteAddress },
        (reason) => connection.close(reason),
      );
      if (!admission.ok) {
        return { ok: false, reason: `${admission.reason}: ${admission.detail}`, code: admission.reason === 'unknown_stream_key' ? 'BadName' : 'Unauthorized' };
      }
      const { broadcast } = admission;
      connection.on('metadata', (m) => broadcast.push({ type: 'metadata', timestamp: m.timestamp, properties: m.properties }));
      connection.on('audio', (frame) => broadcast.push({ type: 'audio', timestamp: frame.timestamp, payload: frame.payload }));
      connection.on('video', (frame) => broadcast.push({ type: 'video', timestamp: frame.timestamp, payload: frame.payload }));
      connection.on('close', ({ reason }) => ingest.released(broadcast, reason));
      return { ok: true };
    },
  });
  const addresses = await server.listen();
  return { server, addresses };
}
