// The origin's settings, read once from the environment with defaults that suit a local stack.
import path from 'node:path';
import os from 'node:os';

export interface OriginConfig {
  originId: string;
  edgeUrl: string;
  originSecret: string;
  /** How the edge reaches this origin (HLS and commands). */
  publicUrl: string;
  host: string;
  rtmpPort: number;
  rtmpsPort: number | null;
  srtPort: number | null;
  httpPort: number;
  tls: { certFile: string; keyFile: string } | null;
  mediaDir: string;
  stateDir: string;
  /** Live transcodes at once; a publish beyond it is refused. */
  capacity: number;
  statsIntervalMs: number;
}

function integer(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export function configFromEnv(): OriginConfig {
  const httpPort = integer('HTTP_PORT', 8790);
  const host = process.env.BIND_HOST ?? '127.0.0.1';
  const mediaDir = path.resolve(process.env.MEDIA_DIR ?? '.state/media');
  const certFile = process.env.TLS_CERT;
  const keyFile = process.env.TLS_KEY;
  const rtmpsPort = integer('RTMPS_PORT', 1936);
  return {
    originId: process.env.ORIGIN_ID ?? os.hostname(),
    edgeUrl: required('EDGE_URL').replace(/\/$/, ''),
    originSecret: required('ORIGIN_SECRET'),
    publicUrl: (process.env.ORIGIN_PUBLIC_URL ?? `http://127.0.0.1:${httpPort}`).replace(/\/$/, ''),
    host,
    rtmpPort: integer('RTMP_PORT', 1935),
    rtmpsPort: certFile && keyFile && rtmpsPort > 0 ? rtmpsPort : null,
    srtPort: integer('SRT_PORT', 9000) || null,
    httpPort,
    tls: certFile && keyFile ? { certFile, keyFile } : null,
    mediaDir,
    stateDir: path.resolve(process.env.ORIGIN_STATE_DIR ?? path.join(mediaDir, '..', 'origin-state')),
    capacity: integer('TRANSCODE_CAPACITY', Math.max(1, os.availableParallelism() - 1)),
    statsIntervalMs: integer('STATS_INTERVAL_MS', 2000),
  };
}
