// Prometheus metrics of the origin, served at /metrics.
import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';

export interface OriginMetrics {
  registry: Registry;
  ingestBytes: Counter<'protocol'>;
  ffmpegRestarts: Counter;
  publishRefusals: Counter<'reason'>;
  transcodesStarted: Counter;
}

export function createMetrics(sources: { liveStreams: () => number; outboxDepth: () => number; mediaFreeBytes?: () => number }): OriginMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
  return {
    registry,
    ingestBytes: new Counter({ name: 'riverhead_ingest_bytes_total', help: 'Media bytes received from encoders', labelNames: ['protocol'], registers: [registry] }),
    ffmpegRestarts: new Counter({ name: 'riverhead_ffmpeg_restarts_total', help: 'Live ffmpeg processes restarted after a crash', registers: [registry] }),
    transcodesStarted: new Counter({ name: 'riverhead_transcodes_started_total', help: 'Live transcodes started (one per accepted publish)', registers: [registry] }),
    publishRefusals: new Counter({ name: 'riverhead_publish_refusals_total', help: 'Encoders refused', labelNames: ['reason'], registers: [registry] }),
  };
}
