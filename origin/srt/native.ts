// The libsrt binding (origin/srt/native, built by scripts/deploy/build-srt-addon.sh): its types and its loader.
// Only the SRT worker thread polls a listener; tests use the small caller API to see reject reasons.
// The listener's access hook decides every caller itself, at once: see srt_binding.c.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RUNNING_COMPILED } from '../worker-threads.ts';

// Compiled, this module is origin/dist/origin/srt/native.js while the addon stays where the install step built it.
export const ADDON_PATH = fileURLToPath(
  new URL(`${RUNNING_COMPILED ? '../../../srt/' : './'}native/build/Release/riverhead_srt.node`, import.meta.url),
);

export interface ListenOptions {
  /** connections before more callers are refused (SRT_REJX_OVERLOAD); default 256 */
  maxConnections?: number;
  /** callers one address may send through the hook per window before SRT_REJX_OVERLOAD; default 20 ... */
  callersPerAddress?: number;
  /** ... per this many ms; default 10000 */
  callerWindowMs?: number;
  /** a connection's received bytes are handed over once this many are buffered ... default 64 KiB */
  flushBytes?: number;
  /** ... or once the oldest buffered byte is this old; default 20 ms */
  flushAgeMs?: number;
  /** silence from a caller before its connection counts as broken; default 5000 (libsrt's) */
  peerIdleTimeoutMs?: number;
  /** receiver latency; a caller asking for more (the ingest URL's `latency`) gets its own; default 120 */
  latencyMs?: number;
  backlog?: number;
  /** libsrt's log level (syslog numbers); default 2, critical only */
  logLevel?: number;
}

/** The listener's own settings; `passphraseSecret` is what every stream's passphrase derives from (the edge's SRT passphrase key). */
export type NativeListenOptions = ListenOptions & { passphraseSecret: string };

/** A `connected` caller passed the hook and the encryption handshake with the passphrase of its streamid's key. */
export type PollEvent =
  | { type: 'connected'; socketId: number; peer: string; streamId: string; latencyMs?: number }
  | { type: 'data'; socketId: number; chunk: ArrayBuffer }
  | { type: 'closed'; socketId: number; reason: string };

/** What the access hook did since listen: totals. */
export interface HookCounters {
  /** passphrase set on the new socket; libsrt then accepted the caller or refused its key material */
  handedToLibsrt: number;
  badStreamId: number;
  badMode: number;
  overload: number;
  refusedKnown: number;
  down: number;
  hookMsTotal: number;
  hookMsMax: number;
}

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
  listen(host: string, port: number, options: NativeListenOptions): ListenerHandle;
  localPort(handle: ListenerHandle): number;
  /** Waits up to timeoutMs for socket events; returns what happened since the last call. */
  poll(handle: ListenerHandle, timeoutMs: number): PollEvent[];
  /** The hook refuses this stream key with this SRT reject reason for forMs (a refusal the edge gave). */
  rememberRefusal(handle: ListenerHandle, streamKey: string, rejectCode: number, forMs: number): void;
  /** The hook refuses every new caller with this SRT reject reason (draining); 0 accepts callers again. */
  refuseAll(handle: ListenerHandle, rejectCode: number): void;
  counters(handle: ListenerHandle): HookCounters;
  /** The hook's pure core: the derived passphrase, or the reject reason the streamid gets. */
  handshakeVerdict(secret: string, streamId: string): { passphrase: string } | { reject: number };
  /** Counters since the previous call for this connection; null when it is not a connection of this listener. */
  stats(handle: ListenerHandle, socketId: number): NativeLinkStats | null;
  drop(handle: ListenerHandle, socketId: number): boolean;
  close(handle: ListenerHandle): void;
  callerConnect(host: string, port: number, options: { streamId?: string; passphrase?: string; latencyMs?: number; localAddress?: string }): number;
  callerState(socketId: number): { state: string; rejectReason: number; rejectText: string };
  callerSend(socketId: number, payload: Uint8Array): number;
  callerClose(socketId: number): void;
}

export function loadSrtBinding(): SrtBinding {
  if (!existsSync(ADDON_PATH)) {
    throw new Error(`the SRT binding is not built (${ADDON_PATH}): run scripts/bootstrap.sh (or scripts/deploy/build-srt-addon.sh), or set SRT_PORT=0 to run without SRT`);
  }
  return createRequire(import.meta.url)(ADDON_PATH) as SrtBinding;
}
