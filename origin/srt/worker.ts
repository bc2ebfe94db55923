// The SRT worker thread: owns the libsrt listener and its receive loop, so the main event loop's load never
// delays reception. Received MPEG-TS goes to the main thread as transferred ArrayBuffers, bounded per connection.
import { parentPort, workerData } from 'node:worker_threads';
import { loadSrtBinding, type HookCounters, type ListenerHandle, type PollEvent } from './native.ts';
import type { SrtWorkerData, ToMain, ToWorker } from './protocol.ts';

const MiB = 1024 * 1024;

interface Connection {
  inFlight: number;
  statsAt: number;
}

const settings = workerData as SrtWorkerData;
const port = parentPort!;
const post = (message: ToMain, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);

const binding = loadSrtBinding();
let handle: ListenerHandle;
try {
  handle = binding.listen(settings.host, settings.port, settings.listen);
} catch (error) {
  post({ type: 'listen_failed', message: (error as Error).message });
  port.close();
  throw error;
}
post({ type: 'listening', port: binding.localPort(handle), version: binding.version() });

const connections = new Map<number, Connection>();
let stopping = false;
let hookCounters = '';
let hookCountersAt = 0;

function closed(socketId: number, reason: string): void {
  if (connections.delete(socketId)) post({ type: 'closed', socketId, reason });
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'remember_refusal':
      binding.rememberRefusal(handle, message.streamKey, message.reject, message.forMs);
      break;
    case 'refuse_all':
      binding.refuseAll(handle, message.reject);
      break;
    case 'consumed': {
      const connection = connections.get(message.socketId);
      if (connection) connection.inFlight = Math.max(0, connection.inFlight - message.bytes);
      break;
    }
    case 'drop':
      if (binding.drop(handle, message.socketId)) closed(message.socketId, message.reason);
      break;
    case 'stop':
      stopping = true;
      break;
  }
});

function onEvent(event: PollEvent): void {
  switch (event.type) {
    case 'connected':
      connections.set(event.socketId, { inFlight: 0, statsAt: Date.now() });
      post({ type: 'connected', socketId: event.socketId, peer: event.peer, streamId: event.streamId, latencyMs: event.latencyMs ?? null });
      break;
    case 'data': {
      const connection = connections.get(event.socketId);
      if (!connection) break;
      connection.inFlight += event.chunk.byteLength;
      if (connection.inFlight > settings.maxInFlightBytes) {
        // The main thread is not keeping up with this caller: drop it rather than queue without bound.
        binding.drop(handle, event.socketId);
        closed(event.socketId, `the origin fell behind this SRT caller by more than ${Math.round(settings.maxInFlightBytes / MiB)} MiB; the connection was dropped`);
        break;
      }
      post({ type: 'data', socketId: event.socketId, chunk: event.chunk }, [event.chunk]);
      break;
    }
    case 'closed':
      closed(event.socketId, event.reason);
      break;
  }
}

function reportHook(now: number): void {
  if (now - hookCountersAt < settings.statsIntervalMs) return;
  hookCountersAt = now;
  const counters: HookCounters = binding.counters(handle);
  const text = JSON.stringify(counters);
  if (text === hookCounters) return;
  hookCounters = text;
  post({ type: 'hook', counters });
}

function sampleLinks(now: number): void {
  for (const [socketId, connection] of connections) {
    if (now - connection.statsAt < settings.statsIntervalMs) continue;
    const stats = binding.stats(handle, socketId);
    const intervalMs = now - connection.statsAt;
    connection.statsAt = now;
    if (!stats) continue;
    post({
      type: 'link',
      socketId,
      sample: {
        intervalMs,
        rttMs: stats.rttMs,
        mbpsRecvRate: stats.mbpsRecvRate,
        latencyMs: stats.latencyMs,
        pktRecv: stats.pktRecv,
        pktRcvLoss: stats.pktRcvLoss,
        pktRcvRetrans: stats.pktRcvRetrans,
        pktRcvDrop: stats.pktRcvDrop,
        pktRecvTotal: stats.pktRecvTotal,
        pktRcvLossTotal: stats.pktRcvLossTotal,
        pktRcvDropTotal: stats.pktRcvDropTotal,
        byteRecvTotal: stats.byteRecvTotal,
      },
    });
  }
}

// Each turn blocks in libsrt for at most pollMs, then yields so messages from the main thread (drops, refusals to
// remember) are handled within one turn of arriving. With no caller connected the turn only looks (a poll of 0 ms)
// and the thread sleeps idlePollMs in its own event loop: srt_epoll_uwait waits in 10 ms condition-variable slices
// whatever its timeout (strace of an idle origin: ~100 futex wake-ups a second on this thread), while a libuv timer
// costs nothing meanwhile and main-thread messages are handled as they arrive. A caller arriving then is accepted at
// the next look, at most idlePollMs later (libsrt has completed its handshake and buffers its packets meanwhile);
// from then on the short blocking poll flushes buffered bytes by age as before.
function turn(): void {
  if (stopping) {
    binding.close(handle);
    for (const socketId of [...connections.keys()]) closed(socketId, 'the origin is shutting down');
    post({ type: 'stopped' });
    port.close();
    return;
  }
  for (const event of binding.poll(handle, connections.size > 0 ? settings.pollMs : 0)) onEvent(event);
  const now = Date.now();
  sampleLinks(now);
  reportHook(now);
  if (connections.size > 0) setImmediate(turn);
  else setTimeout(turn, settings.idlePollMs);
}
setImmediate(turn);
