// Piscina task body: runs one LiveTranscode inside a worker thread, driven through a MessagePort.
// The task settles when ffmpeg has exited, so a busy thread is exactly a running stream.
import type { MessagePort } from 'node:worker_threads';
import { LiveTranscode } from './live-transcode.ts';
import type { LiveTranscodeEvent, LiveTranscodeJob, LiveTranscodeResult } from './live-transcode.ts';

export interface TranscodeTask {
  port: MessagePort;
  job: LiveTranscodeJob;
}

/** Main thread → worker. `data` carries a transferred ArrayBuffer of encoder bytes. */
export type ToWorker = { type: 'data'; chunk: ArrayBuffer } | { type: 'end' } | { type: 'stop' };

/**
 * Worker → main thread: the transcode's events, plus acknowledgements of input taken in, and `events_end` once the run
 * is over: piscina returns the result on a channel of its own, not ordered with this port, so the main thread settles
 * only after this marker (every event posted before it has then been delivered). Low mode adds `ll_init`, `ll_part` and
 * `ll_segment` (LowLatencyEvent, part of LiveTranscodeEvent) for the main thread's LL-HLS store.
 */
export type FromWorker = LiveTranscodeEvent | { type: 'consumed'; bytes: number } | { type: 'events_end' };

// Acknowledge in batches: a message per RTMP chunk back would double the port traffic.
const ACK_EVERY_BYTES = 256 * 1024;
const ACK_EVERY_MS = 100;

export default async function runTranscodeTask(task: TranscodeTask): Promise<LiveTranscodeResult> {
  const { port, job } = task;
  // Low mode's init and part bytes are transferred, not copied (each a buffer of its own: low-latency-run.ts).
  const post = (m: FromWorker): void => port.postMessage(m, m.type === 'll_init' || m.type === 'll_part' ? [m.bytes] : []);
  const transcode = new LiveTranscode(job, post);
  let unacked = 0;
  const flushAck = (): void => {
    if (unacked === 0) return;
    post({ type: 'consumed', bytes: unacked });
    unacked = 0;
  };
  const ackTimer = setInterval(flushAck, ACK_EVERY_MS);

  port.on('message', (m: ToWorker) => {
    if (m.type === 'data') {
      transcode.write(new Uint8Array(m.chunk));
      unacked += m.chunk.byteLength;
      if (unacked >= ACK_EVERY_BYTES) flushAck();
    } else if (m.type === 'end') {
      transcode.end();
    } else if (m.type === 'stop') {
      transcode.stop();
    }
  });

  try {
    await transcode.start();
    return await transcode.done;
  } finally {
    clearInterval(ackTimer);
    flushAck();
    post({ type: 'events_end' });
    port.close();
  }
}
