// The SRT listener starts only once the edge has given this origin the SRT passphrase key (in a heartbeat answer):
// without it the access hook could check no caller's passphrase. The origin waits a little for the first answer so a
// reachable edge means SRT is up when the origin says it is ready; past that, SRT starts in the background as soon as
// the key arrives, and RTMP is not held up by an edge that is down at boot.
import type { SrtServer } from './server.ts';
import type { OriginHeartbeatResponse } from '../../shared/schemas/origin-heartbeat.ts';
import { logWarn } from '../log.ts';

/** Each wait for the key is bounded; the loop stops when the origin stops. */
const KEY_WAIT_STEP_MS = 30_000;

export interface KeyedSrt {
  /** The running listener, null until the key came. */
  current(): SrtServer | null;
  close(): Promise<void>;
}

export async function startSrtWhenKeyed(
  heartbeat: { untilHeard(timeoutMs: number): Promise<OriginHeartbeatResponse | null> },
  start: (passphraseKey: string) => Promise<SrtServer>,
  options: { firstWaitMs: number },
): Promise<KeyedSrt> {
  let server: SrtServer | null = null;
  let closed = false;
  const first = await heartbeat.untilHeard(options.firstWaitMs);
  if (first) {
    server = await start(first.srtPassphraseKey);
  } else {
    logWarn('srt_waiting_for_edge', { detail: 'SRT starts once the edge answers a heartbeat with its SRT passphrase key' });
    void (async () => {
      while (!closed) {
        const answer = await heartbeat.untilHeard(KEY_WAIT_STEP_MS);
        if (closed) return;
        if (answer) {
          server = await start(answer.srtPassphraseKey).catch((error: unknown) => {
            logWarn('srt_start_failed', { error: error instanceof Error ? error.message : String(error) });
            return null;
          });
          if (closed) await server?.close();
          return;
        }
      }
    })();
  }
  return {
    current: () => server,
    close: async () => {
      closed = true;
      await server?.close();
    },
  };
}
