// Messages between the main thread (SrtServer) and the SRT worker thread that owns the libsrt listener.
import type { HookCounters, NativeListenOptions } from './native.ts';
import type { SrtLinkSample } from './link-health.ts';

export interface SrtWorkerData {
  host: string;
  port: number;
  listen: NativeListenOptions;
  /** how long one poll may block while callers are connected; the worst delay of a drop taking effect */
  pollMs: number;
  /**
   * how long the worker sleeps between looks with no caller connected (origin/srt/worker.ts): the longest a first
   * caller waits to be accepted (libsrt has completed its handshake and buffers its packets meanwhile) or a stop waits
   */
  idlePollMs: number;
  statsIntervalMs: number;
  /** bytes posted to the main thread and not yet consumed before the connection is dropped */
  maxInFlightBytes: number;
}

export type ToMain =
  | { type: 'listening'; port: number; version: string }
  | { type: 'listen_failed'; message: string }
  /** Through the hook and the encryption handshake: the caller holds the passphrase of its streamid's key. */
  | { type: 'connected'; socketId: number; peer: string; streamId: string; latencyMs: number | null }
  | { type: 'data'; socketId: number; chunk: ArrayBuffer }
  | { type: 'link'; socketId: number; sample: SrtLinkSample }
  /** The last message about a connection. */
  | { type: 'closed'; socketId: number; reason: string }
  /** The access hook's totals, when they changed (at most once per statsIntervalMs). */
  | { type: 'hook'; counters: HookCounters }
  | { type: 'stopped' };

export type ToWorker =
  | { type: 'consumed'; socketId: number; bytes: number }
  | { type: 'drop'; socketId: number; reason: string }
  /** The hook answers callers for this key with `reject` for `forMs` (the edge refused it a moment ago). */
  | { type: 'remember_refusal'; streamKey: string; reject: number; forMs: number }
  /** The hook refuses every new caller with `reject` (0: accepts them again); the origin is draining. */
  | { type: 'refuse_all'; reject: number }
  | { type: 'stop' };
