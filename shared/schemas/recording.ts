// Sessions (seed 002), recordings (seed 004) and clips (seed 001's live clips) as the public API shows them.
import { z } from '@hono/zod-openapi';
import { Profile } from './live-stream.ts';
import { Timestamp, ListQuery } from './common.ts';

export const RECORDING_STATUSES = ['waiting', 'processing', 'ready', 'failed'] as const;
export const RecordingStatus = z.enum(RECORDING_STATUSES).openapi('RecordingStatus');
export type RecordingStatus = z.infer<typeof RecordingStatus>;

export const MediaInfo = z
  .object({
    duration: z.number(),
    size: z.number(),
    bitrate: z.number().nullable(),
    video: z
      .object({ codec: z.string(), width: z.number(), height: z.number(), fps: z.number().nullable(), profile: z.string().nullable() })
      .nullable(),
    audio: z.object({ codec: z.string(), sampleRate: z.number().nullable(), channels: z.number().nullable() }).nullable(),
  })
  .passthrough()
  .openapi('MediaInfo');
export type MediaInfo = z.infer<typeof MediaInfo>;

export const Session = z
  .object({
    id: z.string(),
    name: z.string(),
    parentId: z.string().openapi({ description: 'the live stream' }),
    createdAt: z.number().openapi({ description: 'ms since epoch (seed 002)' }),
    startedAt: Timestamp,
    endedAt: Timestamp.nullable(),
    lastSeen: z.number().nullable(),
    reconnects: z.number().int(),
    sourceSegments: z.number(),
    transcodedSegments: z.number(),
    sourceSegmentsDuration: z.number(),
    transcodedSegmentsDuration: z.number(),
    sourceBytes: z.number(),
    transcodedBytes: z.number(),
    ingestRate: z.number(),
    outgoingRate: z.number(),
    isHealthy: z.boolean().nullable(),
    issues: z.array(z.string()).nullable(),
    frameRate: z.number().nullable().openapi({ description: "the encoder's frames per second, as last measured by the origin; null until measured" }),
    keyframeInterval: z
      .number()
      .nullable()
      .openapi({ description: "seconds between the encoder's keyframes, averaged over its last few; null until measured" }),
    record: z.boolean(),
    recordingStatus: z.enum(['waiting', 'ready', 'failed', 'none']),
    recordingUrl: z.string().nullable(),
    mp4Url: z.string().nullable(),
    playbackId: z.string(),
    profiles: z.array(Profile).nullable(),
  })
  .openapi('Session');
export type Session = z.infer<typeof Session>;

export const Recording = z
  .object({
    id: z.string(),
    stream: z.string().openapi({ description: 'live stream id' }),
    sessionId: z.string(),
    time: Timestamp.openapi({ description: 'when the recorded session started' }),
    updatedAt: Timestamp,
    sourceReadyAt: Timestamp.nullable(),
    duration: z.number().nullable(),
    size: z.number().nullable(),
    queued: z.boolean(),
    watchable: z.boolean().openapi({
      description: 'its VOD HLS plays (`recordingUrl`), a manifest over the broadcast\'s stored segments; set within seconds of STOPPED',
    }),
    exportable: z.boolean().openapi({ description: 'its MP4 (`mp4Url`) is built; follows `watchable`, never holds it up' }),
    exportProgress: z.number().min(0).max(1).nullable().openapi({ description: 'MP4 build progress 0..1; null before it starts' }),
    cleanable: z.boolean().openapi({ description: "a retention policy applies (the workspace's recordingRetentionDays)" }),
    cleaned: z.boolean().openapi({ description: 'its media was deleted by the retention policy: it no longer plays' }),
    expiresAt: Timestamp.nullable().openapi({ description: 'when retention cleans it; null = kept until deleted' }),
    screenshot: z.string().nullable(),
    error: z.string().nullable(),
    mediaInfo: MediaInfo.nullable(),
    recordingStatus: RecordingStatus,
    playbackId: z.string(),
    recordingUrl: z.string().nullable(),
    mp4Url: z.string().nullable(),
  })
  .openapi('Recording');
export type Recording = z.infer<typeof Recording>;

export const CreateClipRequest = z
  .object({
    startTime: z.number().min(0).openapi({ description: 'seconds on the session timeline' }),
    endTime: z.number().min(0),
    sessionId: z.string().max(64).optional().openapi({ description: 'default: the current or latest session' }),
    name: z.string().min(1).max(200).optional(),
    accurate: z.boolean().default(false).openapi({ description: 'frame-accurate; default cuts on keyframes' }),
  })
  .strict()
  .openapi('CreateClipRequest');
export type CreateClipRequest = z.infer<typeof CreateClipRequest>;

export const CLIP_STATUSES = ['processing', 'ready', 'failed'] as const;

export const Clip = z
  .object({
    id: z.string(),
    livestreamId: z.string(),
    sessionId: z.string(),
    name: z.string().nullable(),
    status: z.enum(CLIP_STATUSES),
    startTime: z.number(),
    endTime: z.number(),
    accurate: z.boolean(),
    duration: z.number().nullable(),
    actualStartTime: z.number().nullable(),
    actualEndTime: z.number().nullable(),
    size: z.number().nullable(),
    playbackId: z.string(),
    playbackUrl: z.string(),
    mp4Url: z.string(),
    error: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Clip');
export type Clip = z.infer<typeof Clip>;

export const RecordingIdParam = z.object({
  recordingId: z.string().min(1).max(64).openapi({ param: { name: 'recordingId', in: 'path' } }),
});
export const LivestreamIdParam = z.object({
  livestreamId: z.string().min(1).max(64).openapi({ param: { name: 'livestreamId', in: 'path' } }),
});
export const SessionsQuery = z.object({ record: z.enum(['0', '1']).optional() }).strict();
export const RecordingsQuery = ListQuery;
