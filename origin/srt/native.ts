// The libsrt binding (origin/srt/native, built by scripts/bootstrap.sh with node-gyp): its types and its loader.
// Only the SRT worker thread polls a listener; tests use the small caller API to see reject reasons.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ADDON_PATH = fileURLToPath(new URL('./native/build/Release/riverhead_srt.node', import.meta.url));

export interface ListenOptions {
  /** how long a caller's handshake waits for the verdict before it is refused (SRT_REJX_DOWN); default 2500 */
  authTimeoutMs?: number;
  /** callers waiting for a verdict at once before more are refused (SRT_REJX_OVERLOAD); default 16 */
  maxPending?: number;
  /** connections plus granted callers before more are refused (SRT_REJX_OVERLOAD); default 256 */
  maxConnections?: number;
  /** a connection's received bytes are handed over once this many are buffered ... default 64 KiB */
  flushBytes?: number;
  /** ... or once the oldest buffered byte is this old; default 20 ms */
  flushAgeMs?: number;
  /** a granted caller that has not completed its handshake by then is dropped; default 3000 */
  handshakeTimeoutMs?: number;
  /** silence from a caller before its connection counts as broken; default 5000 (libsrt's) */
  peerIdleTimeoutMs?: number;
  /** receiver latency until a verdict sets the caller's own; default 120 */
  latencyMs?: number;
  backlog?: number;
  /** libsrt's log level (syslog numbers); default 2, critical only */
  logLevel?: number;
}

export type PollEvent =
  | { type: 'caller'; socketId: number; requestId: number; streamId: string; peer: string }
  | { type: 'connected'; socketId: number; peer: string; latencyMs?: number }
  | { type: 'data'; socketId: number; chunk: ArrayBuffer }
  | { type: 'closed'; socketId: number; reason: string }
  | { type: 'failed'; socketId: number; reason: string };

export type Verdict = { passphrase?: string; latencyMs: number } | { reject: number };

export interface NativeLinkStats {
  rttMs: number;
  mbpsRecvRate: number;
  latencyMs: number;
  pktRecv: number;
  pktRcvLoss: number;
  pktRcvRetrans: number;
  pktRcvDrop: number;
  pktRcvBelated: number;
  pktRecvTotal: number;
  pktRcvLossTotal: number;
  pktRcvDropTotal: number;
  byteRecvTotal: number;
}

declare const listenerBrand: unique symbol;
export type ListenerHandle = { readonly [listenerBrand]: true };

export interface SrtBinding {
  version(): string;
  listen(host: string, port: number, options: ListenOptions): ListenerHandle;
  localPort(handle: ListenerHandle): number;
  /** Waits up to timeoutMs for socket events; returns what happened since the last call. */
  poll(handle: ListenerHandle, timeoutMs: number): PollEvent[];
  /** false when the caller is no longer waiting (its handshake timed out, or the listener closes). */
  answer(handle: ListenerHandle, requestId: number, verdict: Verdict): boolean;
  /** Counters since the previous call for this connection; null when it is not a connection of this listener. */
  stats(handle: ListenerHandle, socketId: number): NativeLinkStats | null;
  drop(handle: ListenerHandle, socketId: number): boolean;
  close(handle: ListenerHandle): void;
  callerConnect(host: string, port: number, options: { streamId?: string; passphrase?: string; latencyMs?: number }): number;
  callerState(socketId: number): { state: string; rejectReason: number; rejectText: string };
  callerSend(socketId: number, payload: Uint8Array): number;
  callerClose(socketId: number): void;
}

export function loadSrtBinding(): SrtBinding {
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`the SRT binding is not built (${ADDON_PATH}): run scripts/bootstrap.sh, or set SRT_PORT=0 to run without SRT`);
  }
  return createRequire(import.meta.url)(ADDON_PATH) as SrtBinding;
}
