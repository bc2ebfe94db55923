// A child process holding only our RtmpServer (origin/rtmp) with a publish hook that accepts every stream and
// counts its media: ingest and demux, no transcode. The ingest and memory figures drive it over IPC.
//   → parent: {type:'ready', port} once listening; {type:'done', bytes, seconds} per finished publish;
//             {type:'stats', publishing, rss} when asked with {type:'stats'}.
import { performance } from 'node:perf_hooks';
import { RtmpServer } from '../../../origin/rtmp/server.ts';

export type SinkMessage =
  | { type: 'ready'; port: number }
  | { type: 'done'; bytes: number; seconds: number }
  | { type: 'stats'; publishing: number; rss: number };

const send = (m: SinkMessage): void => {
  process.send?.(m);
};

let publishing = 0;
const server = new RtmpServer({
  host: '127.0.0.1',
  port: 0,
  // Every benchmark client comes from 127.0.0.1; the per-address cap is for the internet. The memory figure's idle
  // publishers send no media on purpose, so the first-media deadline is lifted here (the origin keeps 10 s).
  limits: { maxConnectionsPerIp: 10_000, maxConnections: 10_000, firstMediaTimeoutMs: 10 * 60_000, idleTimeoutMs: 10 * 60_000 },
  onPublish: async (_request, connection) => {
    publishing++;
    const started = performance.now();
    let bytes = 0;
    connection.on('video', (frame) => (bytes += frame.payload.length));
    connection.on('audio', (frame) => (bytes += frame.payload.length));
    connection.on('close', () => {
      publishing--;
      send({ type: 'done', bytes, seconds: (performance.now() - started) / 1000 });
    });
    return { ok: true };
  },
});

const addresses = await server.listen();
send({ type: 'ready', port: addresses.rtmp.port });
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stats') send({ type: 'stats', publishing, rss: process.memoryUsage().rss });
});
process.on('disconnect', () => process.exit(0));
