// A child process serving a media root with the origin's uWS HLS server (origin/http/hls-server.ts), set up as
// origin/main.ts sets it up (a metrics registry counting requests). Sends {type:'ready', port}.
import { Registry } from 'prom-client';
import { startHlsServer } from '../../../origin/http/hls-server.ts';

const server = await startHlsServer({
  mediaRoot: process.env.MEDIA_ROOT!,
  host: '127.0.0.1',
  port: 0,
  registry: new Registry(),
  // Unsigned, like the nginx it is compared with: the load generator's requests carry no edge signature.
  hlsSigningSecret: null,
});
process.send?.({ type: 'ready', port: server.port });
process.on('disconnect', () => {
  server.close();
  process.exit(0);
});
