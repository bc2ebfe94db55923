// The origin process: RTMP/RTMPS/SRT ingest → live ABR HLS on disk, served over uWebSockets.js, with events to the edge.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { configFromEnv } from './config.ts';
import { EdgeClient } from './edge-client.ts';
import { EventOutbox } from './event-outbox.ts';
import { TranscodePool } from './pipeline/transcode-pool.ts';
import { LiveIngest } from './ingest/live-ingest.ts';
import { DurableMedia, edgeDurableStore } from './durable/durable-media.ts';
import { startRtmpIngest } from './ingest/rtmp-ingest.ts';
import { startSrtIngest } from './ingest/srt-ingest.ts';
import { startHlsServer } from './http/hls-server.ts';
import { LowLatencyStore } from './llhls/low-latency-store.ts';
import { DEFAULT_SEGMENT_SECONDS } from './pipeline/ladder.ts';
import { startAdminServer } from './http/admin-server.ts';
import { addControlRoutes } from './control-routes.ts';
import { createMetrics } from './metrics.ts';
import { MediaJobPool } from './jobs/jobs-pool.ts';
import { MediaUploader } from './media-uploader.ts';
import { DurableJobs } from './jobs/durable-jobs.ts';
import { DiskGuard, diskLimitsFromEnv } from './disk-guard.ts';
import { installCrashPolicy } from './crash-policy.ts';
import { OriginHeartbeatLoop } from './origin-heartbeat.ts';
import { startSrtWhenKeyed } from './srt/keyed-start.ts';
import { CapacityLedger } from './admission/ledger.ts';
import { OriginDrain } from './drain.ts';
import { SimuliveRunner } from './simulive/simulive-runner.ts';
import { downloadSource, maxSourceBytesFromEnv } from './simulive/source-download.ts';
import { Destinations } from './destinations/destinations.ts';
import { VodJobs } from './vod/vod-jobs.ts';
import { importLimitsFromEnv, importSource } from './vod/import-source.ts';
import { importLoopbackAllowed } from './vod/import-url.ts';
import { log, logWarn } from './log.ts';

/** Set once the servers are up: a fatal error stops them gracefully before the process exits. */
let stopGracefully: ((reason: string) => Promise<void>) | null = null;
let disk: DiskGuard | null = null;

// Installed before anything starts, so a rejection during startup is logged and survived like any other.
installCrashPolicy({
  onDiskFull: (where) => disk?.reportDiskFull(where),
  onFatal: (reason) => {
    if (stopGracefully) void stopGracefully(reason).finally(() => process.exit(1));
    else process.exit(1);
  },
});

async function main(): Promise<void> {
  // A signal while starting (the first heartbeat can take seconds, and encoders may already publish) is kept and
  // acted on once the servers are up, rather than killing the process with its broadcasts unreported.
  const earlySignals: NodeJS.Signals[] = [];
  // Bounded: a start that hangs still ends 30 s after the signal.
  let startDeadline: NodeJS.Timeout | undefined;
  const keepEarly = (signal: NodeJS.Signals) => {
    earlySignals.push(signal);
    startDeadline ??= setTimeout(() => process.exit(1), 30_000);
  };
  process.on('SIGTERM', keepEarly);
  process.on('SIGINT', keepEarly);
  const config = configFromEnv();
  await mkdir(config.mediaDir, { recursive: true });
  const edge = new EdgeClient(config.edgeUrl, { originId: config.originId, secret: config.originSecret });
  const outbox = await EventOutbox.open(path.join(config.stateDir, 'outbox'), edge);
  const pool = new TranscodePool({ capacity: config.capacity, isolation: config.transcodeIsolation });
  // Cost-based admission (origin/admission): what each stream's ladder takes of this origin's measured capacity.
  const admission = new CapacityLedger(config.admission.units, config.admission.overCapacity);
  if (config.admission.ignoredCalibration) logWarn('capacity_calibration_ignored', { file: config.admission.calibrationFile, reason: config.admission.ignoredCalibration });
  const jobs = new MediaJobPool({ threads: 1, vodThreads: vodJobThreads(process.env), vodPerOrigin: vodJobsPerOrigin(process.env) });
  // Recording exports and clips, built from the session's media in R2 with each command's media grant.
  const jobUploader = new MediaUploader(edge);
  const durableJobs = new DurableJobs({
    workDir: path.join(config.stateDir, 'work'),
    pool: jobs,
    media: (grant) => ({ read: (key) => edge.getMedia(key, grant), uploadFile: (key, file) => jobUploader.uploadFile(key, file, grant) }),
    emit: (event) => outbox.enqueue(event),
    reserveBytes: diskLimitsFromEnv(process.env).minFreeBytes,
  });
  let ingest: LiveIngest | null = null;
  const metrics = createMetrics({ liveStreams: () => ingest?.liveCount ?? 0, outboxDepth: () => outbox.depth, mediaFreeBytes: () => disk?.freeBytes ?? Number.NaN, originLoad: () => admission.originLoad() });
  disk = new DiskGuard({
    dir: config.mediaDir,
    limits: diskLimitsFromEnv(process.env),
    onFull: (reason) => {
      const dropped = ingest?.endAll(reason) ?? 0;
      logWarn('disk_full_broadcasts_ended', { dropped });
    },
  });
  await disk.start();
  const diskGuard = disk;
  // Every closed segment and the session's timeline go to R2 within about a second (origin/durable).
  const durable = new DurableMedia({ store: edgeDurableStore(edge), emit: (event) => outbox.enqueue(event) });
  // Simulcast relays of the sessions held here, each a small copy cost in the capacity ledger.
  const destinations = new Destinations({ emit: (event) => outbox.enqueue(event), holdCapacity: () => admission.holdRelay() });
  // Low-mode sessions' LL-HLS parts and playlists, held in memory while their runs last (origin/llhls).
  const lowLatency = new LowLatencyStore({ partTargetSeconds: config.llPartSeconds, segmentTargetSeconds: DEFAULT_SEGMENT_SECONDS });
  ingest = new LiveIngest({
    lowLatency,
    destinations,
    durable,
    originId: config.originId,
    publicUrl: config.publicUrl,
    mediaDir: config.mediaDir,
    statsIntervalMs: config.statsIntervalMs,
    llPartSeconds: config.llPartSeconds,
    edge,
    outbox,
    pool,
    metrics,
    disk: diskGuard,
    admission,
  });

  const http = await startHlsServer({
    mediaRoot: config.mediaDir,
    host: config.host,
    port: config.httpPort,
    registry: metrics.registry,
    hlsSigningSecret: config.hlsAllowUnsigned ? null : config.originSecret,
    lowLatency,
  });
  if (config.hlsAllowUnsigned) logWarn('hls_unsigned_allowed', { detail: 'HLS_ALLOW_UNSIGNED=1: anyone reaching the HTTP port can read every stream' });
  const admin = await startAdminServer({
    host: config.adminHost,
    port: config.adminPort,
    registry: metrics.registry,
    // A draining origin answers 503 so a load balancer's health check (scripts/deploy/haproxy.cfg) sends new encoders
    // elsewhere; the broadcasts it holds keep their connections.
    health: () => {
      const load = admission.originLoad();
      return { ok: !load.draining, liveStreams: ingest!.liveCount, outboxDepth: outbox.depth, disk: { state: diskGuard.state, freeBytes: diskGuard.freeBytes }, ...load };
    },
  });
  await durableJobs.clearScratch();
  // Simulive (issue 12): recordings broadcast as live through the same ingest, their sources read through the edge.
  const simuliveSourceBounds = { maxBytes: maxSourceBytesFromEnv(process.env), reserveBytes: diskLimitsFromEnv(process.env).minFreeBytes };
  const simulive = new SimuliveRunner({
    ingest,
    mediaDir: config.mediaDir,
    emit: (event) => outbox.enqueue(event),
    download: (order, file, signal) =>
      downloadSource({
        edgeUrl: config.edgeUrl, credentials: { originId: config.originId, secret: config.originSecret }, key: order.source.key, grant: order.grant, file, signal,
        ...simuliveSourceBounds,
      }),
  });
  const importLimits = importLimitsFromEnv(process.env);
  // Library videos (issue 13): sources read in ranges and outputs stored through the edge with each command's grant.
  const vod = new VodJobs({
    workDir: path.join(config.stateDir, 'work'),
    pool: jobs,
    emit: (event) => outbox.enqueue(event),
    liveRoom: () => {
      const load = admission.originLoad();
      return !load.draining && load.load.units < load.capacity.units;
    },
    storage: {
      download: (key, file, grant) =>
        downloadSource({ edgeUrl: config.edgeUrl, credentials: { originId: config.originId, secret: config.originSecret }, key, grant, file, ...simuliveSourceBounds }),
      upload: (key, file, grant) => jobUploader.uploadFile(key, file, grant),
    },
    // Imports (V3): the URL fetched under the address rules, stored as the video's source, then processed here.
    importSource: (command, file, onProgress, signal) =>
      importSource(
        { videoId: command.videoId, sourceUrl: command.sourceUrl ?? '', grant: command.grant },
        {
          workDir: path.dirname(file), uploader: jobUploader, limits: importLimits, allowLoopback: importLoopbackAllowed(process.env.WEBHOOK_ALLOW_HTTP_LOOPBACK, config.edgeUrl),
          reserveBytes: simuliveSourceBounds.reserveBytes, onProgress: (percent) => onProgress(percent / 100), signal,
        },
      ),
  });
  await vod.clearScratch();
  addControlRoutes(http, { ingest, jobs: durableJobs, originSecret: config.originSecret, simulive, vod });
  const recovered = await ingest.recover();

  const rtmp = await startRtmpIngest(ingest, {
    host: config.host,
    port: config.rtmpPort,
    tls: config.tls && config.rtmpsPort ? { port: config.rtmpsPort, ...config.tls } : null,
    proxyTrust: config.proxyTrust,
  });
  // Announce and liveness apart from the outbox; the edge's answer carries the key SRT passphrases derive from.
  const heartbeat = new OriginHeartbeatLoop({
    edgeUrl: config.edgeUrl,
    credentials: { originId: config.originId, secret: config.originSecret },
    originUrl: config.publicUrl,
    announce: {
      region: config.region,
      ingestHost: config.ingestHost,
      ports: { rtmp: rtmp.addresses.rtmp.port, rtmps: rtmp.addresses.rtmps?.port ?? null, srt: config.srtPort },
      hlsUrl: config.publicUrl,
    },
    sessions: () => ingest!.heldSessions,
    loadReport: () => admission.originLoad(),
    // The jobs taken here: one the edge handed here that a beat does not list (lost in a restart) is handed out again.
    jobs: () => [...durableJobs.jobIds, ...vod.jobIds],
    // A broadcast may outlast the media grant authorize gave: fresh ones are asked for well before it runs out.
    grantRenewal: { due: (max) => durable.grantsDue(Date.now(), max), renewed: (grants) => durable.renewGrants(grants) },
  });
  heartbeat.start();
  const srtPort = config.srtPort;
  const keyedSrt = srtPort
    ? await startSrtWhenKeyed(heartbeat, (passphraseKey) => startSrtIngest(ingest!, { host: config.host, port: srtPort, passphraseSecret: passphraseKey, statsIntervalMs: config.statsIntervalMs }), { firstWaitMs: 10_000 })
    : null;
  const srt = keyedSrt?.current() ?? null;
  log('origin_ready', {
    originId: config.originId,
    rtmpPort: rtmp.addresses.rtmp.port,
    rtmpsPort: rtmp.addresses.rtmps?.port ?? null,
    srtPort: srt?.port ?? null,
    httpPort: http.port,
    adminPort: admin.port,
    capacity: config.capacity,
    capacityUnits: config.admission.units,
    capacitySource: config.admission.source,
    overCapacity: config.admission.overCapacity,
    recoveredRecordings: recovered,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('origin_stopping', { signal });
    heartbeat.stop();
    diskGuard.stop();
    const hardStop = setTimeout(() => process.exit(1), 15_000);
    hardStop.unref();
    await rtmp.server.close(); // every encoder's broadcast ends and reports publish_done
    await keyedSrt?.close();
    simulive.close();
    vod.close();
    await ingest!.close();
    await pool.close();
    lowLatency.close();
    await jobs.close();
    if (!(await outbox.drained(3000))) logWarn('outbox_not_drained', { pending: outbox.depth });
    outbox.close();
    http.close();
    await admin.close();
  };
  stopGracefully = stop;
  // SIGTERM drains (origin/drain.ts) before the shutdown above; a second SIGTERM, or SIGINT during a drain, hurries
  // it to a short flush. A SIGINT outside a drain (Ctrl-C of npm start) stops at once, as before.
  const drain = new OriginDrain(
    {
      stopAccepting: () => {
        ingest!.stopAccepting();
        rtmp.server.stopAccepting('origin_draining: this origin is shutting down; publish to another origin');
        keyedSrt?.current()?.stopAccepting();
      },
      announce: () => heartbeat.beat(),
      liveCount: () => ingest!.liveCount,
      disconnectAll: (reason) => ingest!.endAll(reason),
      broadcastsFinished: () => ingest!.transcodesFinished(),
      // Every segment on disk reaches R2 before the origin goes (origin/durable): the next origin resumes from there.
      flushUploads: (timeoutMs) => durable.flushAll(timeoutMs),
      outboxDrained: (timeoutMs) => outbox.drained(timeoutMs),
    },
    // The flush after the broadcasts is bounded by the drain deadline itself, between 3 s and 30 s.
    { timeoutMs: config.drainTimeoutMs, flushTimeoutMs: Math.min(30_000, Math.max(3000, config.drainTimeoutMs)) },
  );
  const onSignal = (signal: NodeJS.Signals) => {
    if (drain.draining) return drain.hurry(signal);
    if (signal === 'SIGINT' || stopping) return void stop(signal).then(() => process.exit(0));
    void drain.begin(signal).then(() => stop(signal)).then(() => process.exit(0));
  };
  process.off('SIGTERM', keepEarly);
  process.off('SIGINT', keepEarly);
  clearTimeout(startDeadline);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  for (const signal of earlySignals.splice(0)) onSignal(signal);
}

main().catch((error: unknown) => {
  logWarn('origin_failed', { error: error instanceof Error ? error.stack : String(error) });
  process.exit(1);
});

/** A count setting from 1 to `max`; unset or empty, 1. Anything else stops the start with the setting named. */
function countSetting(env: NodeJS.ProcessEnv, name: string, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got "${raw}"`);
  return n;
}

/** VOD_JOB_THREADS: worker threads for library videos' jobs, apart from the recordings' and clips' thread; default 1. */
function vodJobThreads(env: NodeJS.ProcessEnv): number {
  return countSetting(env, 'VOD_JOB_THREADS', 16);
}

/** VOD_JOBS_PER_ORIGIN: library videos' jobs one origin takes at once (running or waiting); default 1. */
function vodJobsPerOrigin(env: NodeJS.ProcessEnv): number {
  return countSetting(env, 'VOD_JOBS_PER_ORIGIN', 64);
}
