// The origin's settings, read once from the environment with defaults that suit a local stack.
import path from 'node:path';
import os from 'node:os';
import { originSecretProblem } from '../shared/origin-secret.ts';
import { CALIBRATION_FILE, readCalibration, resolveCapacity, type ResolvedCapacity } from './admission/calibration.ts';
import { COPIED_RENDITION_COST } from './admission/cost.ts';
import type { OverCapacityPolicy } from './admission/ledger.ts';
import { ORIGIN_ID_PATTERN } from '../shared/origin-credentials.ts';
import { proxyTrustFrom, type ProxyTrust } from './rtmp/proxy-trust.ts';

type Environment = Record<string, string | undefined>;

export interface OriginConfig {
  /** ORIGIN_ID, as provisioned with POST /admin/origins: the edge verifies this origin's calls with its secret. */
  originId: string;
  /** ORIGIN_REGION: the zone this origin serves (must match its provisioned region); default "local". */
  region: string;
  /** INGEST_HOST: the host name encoders use to reach this origin (or its zone's load balancer). */
  ingestHost: string;
  edgeUrl: string;
  originSecret: string;
  /** How the edge reaches this origin (HLS and commands). */
  publicUrl: string;
  host: string;
  rtmpPort: number;
  rtmpsPort: number | null;
  srtPort: number | null;
  httpPort: number;
  /** The admin listener (/healthz, /metrics): ADMIN_BIND_HOST, loopback by default, and ADMIN_PORT. */
  adminHost: string;
  adminPort: number;
  /** HLS_ALLOW_UNSIGNED=1: HLS requests are served without the edge's signature (local debugging only). */
  hlsAllowUnsigned: boolean;
  tls: { certFile: string; keyFile: string } | null;
  /** PROXY_PROTOCOL_FROM: the load balancers (addresses, CIDRs) whose RTMP/RTMPS connections start with a PROXY header. */
  proxyTrust: ProxyTrust;
  mediaDir: string;
  stateDir: string;
  /**
   * Live streams at once, source-only ones included (one live transcode slot each); a publish beyond it is
   * refused. MAX_LIVE_STREAMS, or the deprecated TRANSCODE_CAPACITY; by default as many copied streams as fit in the units.
   */
  capacity: number;
  /** Cost-based admission (origin/admission): capacity units and what becomes of a publisher beyond them. */
  admission: ResolvedCapacity & { overCapacity: OverCapacityPolicy; calibrationFile: string };
  /** SIGTERM: how long broadcasts may go on before their encoders are disconnected (origin/drain.ts). */
  drainTimeoutMs: number;
  statsIntervalMs: number;
  /** LL_PART_SECONDS: the LL-HLS part duration of low-latency streams (0.2–1 s, default 0.2; segments stay 2 s). */
  llPartSeconds: number;
  /** TRANSCODE_ISOLATION: where each stream's relay runs, 'inline' (main thread, default) or 'thread' (origin/pipeline/transcode-pool.ts). */
  transcodeIsolation: 'inline' | 'thread';
}

function integer(env: Environment, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** Who this origin is: required, since the edge knows each origin by id and verifies it with that origin's secret. */
function originIdentifier(env: Environment): string {
  const id = required(env, 'ORIGIN_ID');
  if (!ORIGIN_ID_PATTERN.test(id)) throw new Error(`ORIGIN_ID must match ${ORIGIN_ID_PATTERN} (as provisioned with POST /admin/origins), got "${id}"`);
  return id;
}

function required(env: Environment, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** Every /internal call is signed with it: an origin without a usable one must not start at all. */
function originSecret(env: Environment): string {
  const problem = originSecretProblem(env.ORIGIN_SECRET);
  if (problem) throw new Error(`${problem}; it must be the secret POST /admin/origins issued for this ORIGIN_ID`);
  return env.ORIGIN_SECRET!;
}

export function configFromEnv(env: Environment = process.env): OriginConfig {
  const httpPort = integer(env, 'HTTP_PORT', 8790);
  const host = env.BIND_HOST ?? '127.0.0.1';
  const mediaDir = path.resolve(env.MEDIA_DIR ?? '.state/media');
  const certFile = env.TLS_CERT;
  const keyFile = env.TLS_KEY;
  const rtmpsPort = integer(env, 'RTMPS_PORT', 1936);
  return {
    originId: originIdentifier(env),
    region: env.ORIGIN_REGION || 'local',
    ingestHost: env.INGEST_HOST || '127.0.0.1',
    edgeUrl: required(env, 'EDGE_URL').replace(/\/$/, ''),
    originSecret: originSecret(env),
    publicUrl: (env.ORIGIN_PUBLIC_URL ?? `http://127.0.0.1:${httpPort}`).replace(/\/$/, ''),
    host,
    rtmpPort: integer(env, 'RTMP_PORT', 1935),
    rtmpsPort: certFile && keyFile && rtmpsPort > 0 ? rtmpsPort : null,
    srtPort: integer(env, 'SRT_PORT', 9000) || null,
    httpPort,
    adminHost: env.ADMIN_BIND_HOST || '127.0.0.1',
    adminPort: integer(env, 'ADMIN_PORT', 8791),
    hlsAllowUnsigned: env.HLS_ALLOW_UNSIGNED === '1',
    tls: certFile && keyFile ? { certFile, keyFile } : null,
    proxyTrust: proxyTrustFrom(env.PROXY_PROTOCOL_FROM),
    mediaDir,
    stateDir: path.resolve(env.ORIGIN_STATE_DIR ?? path.join(mediaDir, '..', 'origin-state')),
    ...admissionFromEnv(env),
    statsIntervalMs: integer(env, 'STATS_INTERVAL_MS', 2000),
    llPartSeconds: partSeconds(env),
    transcodeIsolation: transcodeIsolation(env.TRANSCODE_ISOLATION),
  };
}

function transcodeIsolation(raw: string | undefined): 'inline' | 'thread' {
  if (raw === undefined || raw === '' || raw === 'inline') return 'inline';
  if (raw === 'thread') return 'thread';
  throw new Error(`TRANSCODE_ISOLATION must be "inline" or "thread", got "${raw}"`);
}

/** LL_PART_SECONDS within 0.2–1 s: shorter parts cost a request each per viewer, longer ones are no longer low latency. */
function partSeconds(env: Environment): number {
  const raw = env.LL_PART_SECONDS;
  if (raw === undefined || raw === '') return 0.2;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0.2 || value > 1) throw new Error(`LL_PART_SECONDS must be a number of seconds within 0.2–1, got "${raw}"`);
  return value;
}

/** ORIGIN_CAPACITY_UNITS, else the calibration file, else the cores; OVER_CAPACITY; the stream cap; the drain deadline. */
function admissionFromEnv(env: Environment): Pick<OriginConfig, 'capacity' | 'admission' | 'drainTimeoutMs'> {
  const rawUnits = env.ORIGIN_CAPACITY_UNITS;
  let override: number | null = null;
  if (rawUnits !== undefined && rawUnits !== '') {
    override = Number(rawUnits);
    if (!Number.isFinite(override) || override <= 0) throw new Error(`ORIGIN_CAPACITY_UNITS must be a positive number, got "${rawUnits}"`);
  }
  const overCapacity = env.OVER_CAPACITY || 'source-only';
  if (overCapacity !== 'source-only' && overCapacity !== 'refuse') throw new Error(`OVER_CAPACITY must be source-only or refuse, got "${overCapacity}"`);
  const calibrationFile = path.resolve(env.CAPACITY_FILE || CALIBRATION_FILE);
  const read = override === null ? readCalibration(calibrationFile) : { calibration: null };
  const resolved = resolveCapacity({
    override,
    calibration: read.calibration,
    ...(read.problem ? { calibrationProblem: read.problem } : {}),
    cores: os.availableParallelism(),
  });
  const streams = env.MAX_LIVE_STREAMS ? 'MAX_LIVE_STREAMS' : 'TRANSCODE_CAPACITY';
  const maxStreams = integer(env, streams, Math.min(256, Math.ceil(resolved.units / COPIED_RENDITION_COST)));
  if (maxStreams < 1) throw new Error(`${streams} must be at least 1`);
  return {
    capacity: maxStreams,
    admission: { ...resolved, overCapacity, calibrationFile },
    drainTimeoutMs: integer(env, 'DRAIN_TIMEOUT_SECONDS', 600) * 1000,
  };
}
