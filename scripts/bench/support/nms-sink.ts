// A child process holding node-media-server 4.4.3 (the npm baseline) as a plain RTMP server on a loopback port:
// no HTTP, no admin console, no recording, no relay. Reports each finished publish like rtmp-sink.ts.
//   env NMS_PORT, NMS_DATA: its port and a scratch folder for its store.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');

const port = Number(process.env.NMS_PORT);
const data = process.env.NMS_DATA!;
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port },
  store: { path: data },
  auth: { play: false, publish: false },
  record: { auto: false, path: data },
  notify: { url: '' },
  webadmin: { enable: false },
});

// The end is the publisher's socket closing: by then every byte it sent has been parsed (data events come first).
// node-media-server's own donePublish waits out its publish grace period (resume), so it is no use as a clock.
nms.on('postPublish', (session: { inBytes: number; socket: { once(event: 'close', fn: () => void): void } }) => {
  const started = performance.now();
  session.socket.once('close', () => {
    process.send?.({ type: 'done', bytes: session.inBytes, seconds: (performance.now() - started) / 1000 });
  });
});
await nms.run();
process.send?.({ type: 'ready', port });
process.on('disconnect', () => process.exit(0));
