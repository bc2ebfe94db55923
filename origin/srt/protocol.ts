// Messages between the main thread (SrtServer) and the SRT worker thread that owns the libsrt listener.
import type { ListenOptions, Verdict } from './native.ts';
import type { SrtLinkSample } from './link-health.ts';

export interface SrtWorkerData {
  host: string;
  port: number;
  listen: ListenOptions;
  /** how long one poll may block; also the worst delay of a verdict reaching a waiting caller */
  pollMs: number;
  statsIntervalMs: number;
  /** bytes posted to the main thread and not yet consumed before the connection is dropped */
  maxInFlightBytes: number;
}

export type ToMain =
  | { type: 'listening'; port: number; version: string }
  | { type: 'listen_failed'; message: string }
  | { type: 'caller'; requestId: number; socketId: number; streamId: string; peer: string }
  | { type: 'connected'; socketId: number; peer: string; latencyMs: number | null }
  | { type: 'data'; socketId: number; chunk: ArrayBuffer }
  | { type: 'link'; socketId: number; sample: SrtLinkSample }
  /** A granted caller is gone, connected or not: the last message about this socket. */
  | { type: 'closed'; socketId: number; reason: string }
  | { type: 'stopped' };

export type ToWorker =
  | { type: 'verdict'; requestId: number; socketId: number; verdict: Verdict }
  | { type: 'consumed'; socketId: number; bytes: number }
  | { type: 'drop'; socketId: number; reason: string }
  | { type: 'stop' };
