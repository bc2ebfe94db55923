// A Broadcast (origin/ingest/broadcast.ts) on a fresh media dir whose transcode is declined by its pool: for tests of
// what the Broadcast itself measures and decides from the ingest, before any transcode runs.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Broadcast } from '../../origin/ingest/broadcast.ts';
import { createMetrics } from '../../origin/metrics.ts';
import type { LiveTranscodeJob } from '../../origin/pipeline/live-transcode.ts';
import type { TranscodePool } from '../../origin/pipeline/transcode-pool.ts';
import type { AuthorizeIngestResponse, IngestProtocol, OriginEvent } from '../../shared/schemas/internal.ts';

/** The edge's authorize answer for a standard-latency session of `streamId` (no record, no simulcast). */
export const ingestGrant = (streamId: string, sessionId = `ses_${streamId}`): AuthorizeIngestResponse => ({
  streamId,
  sessionId,
  resume: false,
  profiles: null,
  maxResolution: '1080p',
  record: false,
  reconnectWindow: 60,
  simulcast: [],
  srtPassphrase: 'stream-secret-0123456789',
  srtLatency: 120,
  latencyMode: 'standard',
  mediaGrant: 'not-a-real-grant',
  durablePrefix: `live/${streamId}/${sessionId}/`,
  resumeFrom: null,
});

/**
 * The Broadcast for `grant` over `protocol`: its events go to `events`, the transcode jobs it asks for to `jobs` (each
 * declined), its media dir to `dirs` (for the test to remove after; the broadcast may still be writing its files).
 */
export async function declinedBroadcast(
  grant: AuthorizeIngestResponse,
  protocol: IngestProtocol,
  { events, jobs = [], dirs, statsIntervalMs }: { events: OriginEvent[]; jobs?: LiveTranscodeJob[]; dirs: string[]; statsIntervalMs: number },
): Promise<Broadcast> {
  const mediaDir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-broadcast-'));
  dirs.push(mediaDir);
  const pool = {
    running: 0,
    capacity: 1,
    tryStart(job: LiveTranscodeJob) {
      jobs.push(job);
      return { ok: false, reason: 'closed', capacity: 1, running: 0, message: 'test pool' };
    },
  } as unknown as TranscodePool;
  return new Broadcast(grant, protocol, {
    pool,
    mediaDir,
    statsIntervalMs,
    metrics: createMetrics({ liveStreams: () => 0, outboxDepth: () => 0 }),
    emit: async (event) => void events.push(event),
    beforeTranscode: async () => {},
    disconnect: () => {},
  });
}

/** Removes the media dirs `declinedBroadcast` made (rm retries on ENOTEMPTY while a broadcast still writes). */
export const removeMediaDirs = (dirs: string[]) =>
  Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })));
