// The origin ↔ edge contract: ingest authorization, the event batches the origin's outbox sends, and edge commands.
import { z } from '@hono/zod-openapi';
import { Profile, MaxResolution } from './live-stream.ts';
import { MediaInfo } from './recording.ts';

export const IngestProtocol = z.enum(['rtmp', 'rtmps', 'srt']);
export type IngestProtocol = z.infer<typeof IngestProtocol>;

export const AuthorizeIngestRequest = z
  .object({
    streamKey: z.string().min(1).max(200),
    protocol: IngestProtocol,
    originId: z.string().min(1).max(100),
    /** Base URL the edge uses to fetch live HLS from, and to send commands to, this origin. */
    originUrl: z.string().url(),
    remoteAddress: z.string().max(100).optional(),
    /**
     * Ask without publishing: the verdict and connection settings, no transition. SRT needs the passphrase before
     * its handshake completes, and only a completed handshake (right passphrase) may make the stream live.
     */
    check: z.boolean().optional(),
  })
  .strict();
export type AuthorizeIngestRequest = z.infer<typeof AuthorizeIngestRequest>;

export const AuthorizeIngestResponse = z.object({
  streamId: z.string(),
  sessionId: z.string(),
  resume: z.boolean(),
  profiles: z.array(Profile).nullable(),
  maxResolution: MaxResolution,
  record: z.boolean(),
  reconnectWindow: z.number().int(),
  simulcast: z.array(z.object({ url: z.string() })),
  srtPassphrase: z.string().optional(),
  srtLatency: z.number().int(),
});
export type AuthorizeIngestResponse = z.infer<typeof AuthorizeIngestResponse>;

/** Why the edge refused an encoder; the origin turns it into an RTMP status or SRT reject reason. */
export const INGEST_REFUSALS = [
  'unknown_stream_key',
  'stream_disabled',
  'stream_finished',
  'already_live',
  'stream_deleted',
  'origin_at_capacity',
] as const;
export type IngestRefusal = (typeof INGEST_REFUSALS)[number];

/** seed 002's per-session counters, reported every couple of seconds; doubles as the heartbeat. */
export const SessionStats = z
  .object({
    sourceSegments: z.number().int().nonnegative(),
    transcodedSegments: z.number().int().nonnegative(),
    sourceSegmentsDuration: z.number().nonnegative(),
    transcodedSegmentsDuration: z.number().nonnegative(),
    sourceBytes: z.number().nonnegative(),
    transcodedBytes: z.number().nonnegative(),
    ingestRate: z.number().nonnegative(),
    outgoingRate: z.number().nonnegative(),
    isHealthy: z.boolean().nullable(),
    issues: z.array(z.string().max(300)).max(20).nullable(),
  })
  .openapi('SessionStats');
export type SessionStats = z.infer<typeof SessionStats>;

/** What the origin stored in R2 for a finished recording (keys are R2 object keys). */
function RecordingArtifactsSchema() {
  return z.object({
    duration: z.number().nonnegative(),
    size: z.number().nonnegative(),
    mediaInfo: MediaInfo,
    hlsPrefix: z.string().max(300),
    mp4Key: z.string().max(300),
    screenshotKey: z.string().max(300),
  });
}
export type RecordingArtifacts = z.infer<ReturnType<typeof RecordingArtifactsSchema>>;

function ClipArtifactsSchema() {
  return z.object({
    clipId: z.string().max(64),
    duration: z.number().nonnegative(),
    actualStart: z.number().nonnegative(),
    actualEnd: z.number().nonnegative(),
    size: z.number().nonnegative(),
    hlsPrefix: z.string().max(300),
    mp4Key: z.string().max(300),
  });
}
export type ClipArtifacts = z.infer<ReturnType<typeof ClipArtifactsSchema>>;

const eventBase = {
  id: z.string().min(8).max(100),
  streamId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  at: z.string().datetime(),
};

export const OriginEvent = z.discriminatedUnion('type', [
  z.object({ ...eventBase, type: z.literal('publish'), data: z.object({ protocol: IngestProtocol }).passthrough() }),
  z.object({ ...eventBase, type: z.literal('publish_done'), data: z.object({ reason: z.string().max(300) }) }),
  z.object({ ...eventBase, type: z.literal('stats'), data: SessionStats }),
  z.object({ ...eventBase, type: z.literal('recording_started'), data: z.object({}).passthrough() }),
  z.object({
    ...eventBase,
    type: z.literal('error'),
    data: z.object({ reason: z.string().max(500) }),
  }),
  z.object({ ...eventBase, type: z.literal('recording_ready'), data: RecordingArtifactsSchema() }),
  z.object({ ...eventBase, type: z.literal('recording_failed'), data: z.object({ reason: z.string().max(500) }) }),
  z.object({ ...eventBase, type: z.literal('clip_ready'), data: ClipArtifactsSchema() }),
  z.object({
    ...eventBase,
    type: z.literal('clip_failed'),
    data: z.object({ clipId: z.string().max(64), reason: z.string().max(500) }),
  }),
]);
export type OriginEvent = z.infer<typeof OriginEvent>;

export const OriginEventBatch = z.object({ events: z.array(OriginEvent).min(1).max(100) }).strict();

export const OriginEventOutcome = z.object({
  id: z.string(),
  outcome: z.enum(['applied', 'duplicate', 'refused']),
  reason: z.string().optional(),
});
export const OriginEventBatchResponse = z.object({ results: z.array(OriginEventOutcome) });
export type OriginEventOutcome = z.infer<typeof OriginEventOutcome>;

/** Edge → origin: disconnect a stream's encoder now (delete, disable, complete, key reset). */
export const KickCommand = z.object({
  streamId: z.string(),
  sessionId: z.string().nullable(),
  reason: z.string(),
  /** The broadcast is over (completed, disabled, deleted): no reconnect will follow. */
  final: z.boolean(),
});
export type KickCommand = z.infer<typeof KickCommand>;

/** Edge → origin: build (or rebuild, on retry) the recording of a finished session. */
export const FinalizeCommand = z.object({ streamId: z.string(), sessionId: z.string() });
export type FinalizeCommand = z.infer<typeof FinalizeCommand>;

/** Edge → origin: cut a clip from a session the origin holds (validated at the edge, checked again here). */
export const ClipCommand = z.object({
  clipId: z.string(),
  streamId: z.string(),
  sessionId: z.string(),
  startTime: z.number().nonnegative(),
  endTime: z.number().nonnegative(),
  accurate: z.boolean(),
});
export type ClipCommand = z.infer<typeof ClipCommand>;
