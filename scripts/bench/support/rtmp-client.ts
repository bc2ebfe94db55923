// A minimal RTMP publisher made of our own origin/rtmp writer: handshake, connect, createStream and publish, and
// nothing after. The memory figure's idle publishers: connections that completed a publish and then stay silent.
import net from 'node:net';
import { ChunkWriter } from '../../../origin/rtmp/chunk-writer.ts';
import { HANDSHAKE_PACKET_SIZE } from '../../../origin/rtmp/handshake.ts';
import { command, encodeMessage, type RtmpMessage } from '../../../origin/rtmp/messages.ts';

/** ffmpeg's outgoing chunk size. */
const CLIENT_CHUNK_SIZE = 4096;

function chunked(messages: RtmpMessage[], writer: ChunkWriter): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) {
    parts.push(writer.write(encodeMessage(m)));
    if (m.type === 'set-chunk-size') writer.setChunkSize(m.chunkSize);
  }
  return Buffer.concat(parts);
}

/** Connects and publishes `app/streamKey`; resolves once the server answered NetStream.Publish.Start. */
export function openPublisher(port: number, app: string, streamKey: string, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const timer = setTimeout(() => fail(new Error('publish timed out')), timeoutMs);
    let received = Buffer.alloc(0);
    let stage: 'handshake' | 'publish' | 'open' = 'handshake';
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => stage !== 'open' && fail(new Error(`closed during ${stage}`)));
    socket.on('connect', () => {
      const c0c1 = Buffer.alloc(1 + HANDSHAKE_PACKET_SIZE);
      c0c1[0] = 3;
      socket.write(c0c1);
    });
    socket.on('data', (bytes: Buffer) => {
      if (stage === 'open') return; // anything after publish is read and dropped
      received = Buffer.concat([received, bytes]);
      if (stage === 'handshake' && received.length >= 1 + 2 * HANDSHAKE_PACKET_SIZE) {
        const s1 = received.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
        received = received.subarray(1 + 2 * HANDSHAKE_PACKET_SIZE);
        stage = 'publish';
        const writer = new ChunkWriter();
        socket.write(
          Buffer.concat([
            Buffer.from(s1), // C2 echoes S1
            chunked(
              [
                { type: 'set-chunk-size', chunkSize: CLIENT_CHUNK_SIZE },
                command('connect', 1, { app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: `rtmp://127.0.0.1:${port}/${app}` }),
                command('releaseStream', 2, null, [streamKey]),
                command('FCPublish', 3, null, [streamKey]),
                command('createStream', 4, null),
                command('publish', 5, null, [streamKey, 'live'], 1),
              ],
              writer,
            ),
          ]),
        );
      }
      if (stage === 'publish') {
        const text = received.toString('latin1');
        if (text.includes('NetStream.Publish.Start')) {
          stage = 'open';
          clearTimeout(timer);
          resolve(socket);
        } else if (/NetStream\.Publish\.(BadName|Rejected|Failed)|NetConnection\.Connect\.Rejected/.test(text)) {
          fail(new Error('publish refused'));
        }
      }
    });
  });
}
