// Prometheus metrics of the origin, served at /metrics.
import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';
import type { OriginLoad } from './admission/ledger.ts';

export interface OriginMetrics {
  registry: Registry;
  ingestBytes: Counter<'protocol'>;
  ffmpegRestarts: Counter;
  publishRefusals: Counter<'reason'>;
  transcodesStarted: Counter;
  sourceOnlyPublishes: Counter;
}

export function createMetrics(sources: {
  liveStreams: () => number;
  outboxDepth: () => number;
  mediaFreeBytes?: () => number;
  /** Capacity admission's ledger (origin/admission/ledger.ts): capacity, load and draining. */
  originLoad?: () => OriginLoad;
}): OriginMetrics {
  const registry = new Registry();
  // The event-loop delay histogram samples on a native timer of this period: prom-client's default of 10 ms woke the
  // idle origin's main thread 100 times a second (strace; ~0.07 CPU-s per 30 s idle, over half its main thread). At
  // 100 ms nodejs_eventloop_lag_* still reports every stall that delays a sample, only sampled a tenth as often.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  new Gauge({
    name: 'riverhead_live_streams',
    help: 'Encoders publishing to this origin',
    registers: [registry],
    collect() {
      this.set(sources.liveStreams());
    },
  });
  new Gauge({
    name: 'riverhead_outbox_depth',
    help: 'Events on disk waiting for the edge to acknowledge them',
    registers: [registry],
    collect() {
      this.set(sources.outboxDepth());
    },
  });
  new Gauge({
    name: 'riverhead_media_free_bytes',
    help: 'Free bytes on the media disk (statfs); under MEDIA_MIN_FREE_MB new publishes are refused',
    registers: [registry],
    collect() {
      const free = sources.mediaFreeBytes?.();
      if (free !== undefined && Number.isFinite(free)) this.set(free);
    },
  });
  const load = (name: string, help: string, read: (l: OriginLoad) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const now = sources.originLoad?.();
        if (now) this.set(read(now));
      },
    });
  load('riverhead_capacity_units', 'Transcode capacity in units (one unit: a 1280x720 30 fps encode); ORIGIN_CAPACITY_UNITS or npm run bench', (l) => l.capacity.units);
  load('riverhead_load_units', 'Units held by the streams publishing here (their ladders; a copied source ~0.05)', (l) => l.load.units);
  load('riverhead_load_sessions', 'Publishers holding capacity here (admitted ones included)', (l) => l.load.sessions);
  load('riverhead_draining', '1 while the origin drains after SIGTERM (new publishes refused)', (l) => (l.draining ? 1 : 0));
  return {
    registry,
    sourceOnlyPublishes: new Counter({
      name: 'riverhead_source_only_publishes_total',
      help: 'Publishers beyond capacity given their source rendition only (OVER_CAPACITY=source-only)',
      registers: [registry],
    }),
    ingestBytes: new Counter({ name: 'riverhead_ingest_bytes_total', help: 'Media bytes received from encoders', labelNames: ['protocol'], registers: [registry] }),
    ffmpegRestarts: new Counter({ name: 'riverhead_ffmpeg_restarts_total', help: 'Live ffmpeg processes restarted after a crash', registers: [registry] }),
    transcodesStarted: new Counter({ name: 'riverhead_transcodes_started_total', help: 'Live transcodes started (one per accepted publish)', registers: [registry] }),
    publishRefusals: new Counter({ name: 'riverhead_publish_refusals_total', help: 'Encoders refused', labelNames: ['reason'], registers: [registry] }),
  };
}
