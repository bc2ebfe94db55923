// The origin ↔ edge contract: ingest authorization, the event batches the origin's outbox sends, and edge commands.
import { z } from '@hono/zod-openapi';
import { Profile, MaxResolution, LatencyMode } from './live-stream.ts';
import { MediaInfo } from './recording.ts';

/** 'simulive': the origin itself broadcasts a recording as live (issue 12), admitted with a one-time ticket, not a key. */
export const IngestProtocol = z.enum(['rtmp', 'rtmps', 'srt', 'simulive']);
export type IngestProtocol = z.infer<typeof IngestProtocol>;

/** An encoder publishing with its stream key. */
export const KeyedAuthorizeRequest = z
  .object({
    streamKey: z.string().min(1).max(200),
    protocol: z.enum(['rtmp', 'rtmps', 'srt']),
    originId: z.string().min(1).max(100),
    /** Base URL the edge uses to fetch live HLS from, and to send commands to, this origin. */
    originUrl: z.string().url(),
    remoteAddress: z.string().max(100).optional(),
    /**
     * Ask without publishing: the verdict and connection settings, no transition. SRT needs the passphrase before
     * its handshake completes, and only a completed handshake (right passphrase) may make the stream live.
     */
    check: z.boolean().optional(),
    /**
     * This origin has no other encoder connected, nor being admitted, with this key. An origin that gave up on a slow
     * authorize (timed out, encoder refused) cannot tell the edge which stream that was, and the edge often applies
     * the call late: the stream is then live on this origin with no encoder. With this word from the holder itself,
     * the edge resumes that session for this encoder instead of refusing it already_live (edge/takeover.ts). Absent
     * (older origins): false, the plain one-publisher rule.
     */
    keyIdleHere: z.boolean().default(false),
  })
  .strict();

/** The origin's simulive publisher: the stream named, and the one-time ticket the stream's object issued for it. */
export const SimuliveAuthorizeRequest = z
  .object({
    protocol: z.literal('simulive'),
    streamId: z.string().min(1).max(64),
    simuliveTicket: z.string().min(16).max(200),
    originId: z.string().min(1).max(100),
    originUrl: z.string().url(),
    remoteAddress: z.string().max(100).optional(),
  })
  .strict();

export const AuthorizeIngestRequest = z.union([KeyedAuthorizeRequest, SimuliveAuthorizeRequest]);
export type AuthorizeIngestRequest = z.infer<typeof AuthorizeIngestRequest>;

/**
 * A simulcast destination as the origin relays it (issue 14): `url` is the full publish URL, stream key included (it
 * travels only in signed edge ↔ origin messages); `revision` goes up when url, key or rendition change, so the origin
 * restarts only that target and the edge ignores the status of an older revision.
 */
export const SimulcastTarget = z.object({
  destinationId: z.string().min(1).max(64),
  url: z.string().min(1).max(1100),
  rendition: z.string().min(1).max(40),
  revision: z.number().int().positive(),
});
export type SimulcastTarget = z.infer<typeof SimulcastTarget>;

export const AuthorizeIngestResponse = z.object({
  streamId: z.string(),
  sessionId: z.string(),
  resume: z.boolean(),
  profiles: z.array(Profile).nullable(),
  maxResolution: MaxResolution,
  record: z.boolean(),
  reconnectWindow: z.number().int(),
  /** The stream's enabled destinations: the holder relays each one for as long as the broadcast lasts. */
  simulcast: z.array(SimulcastTarget),
  srtPassphrase: z.string().optional(),
  srtLatency: z.number().int(),
  /** The stream's latency mode: 'low' packages the session as LL-HLS (fMP4 parts); absent from older edges: standard. */
  latencyMode: LatencyMode.default('standard'),
  /** Lets this origin read and write the session's durable media (shared/media-grant.ts); renewed at every authorize. */
  mediaGrant: z.string().min(1).max(8192),
  /** `live/{streamId}/{sessionId}/`: where the session's segments and timeline go in R2 (shared/durable-media.ts). */
  durablePrefix: z.string().min(1).max(300),
  /** A resumed session last held by another origin: this one has no local copy and rebuilds the timeline from R2. */
  resumeFrom: z.object({ originId: z.string().min(1).max(100) }).nullable(),
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
  /** The stream names a zone and this origin serves another region (issue 11 zones). */
  'wrong_zone',
  /** A simulive publish without the stream's live, unexpired one-time ticket (issue 12). */
  'simulive_ticket_invalid',
  /** The stream's live event is not open for encoders: only PREVIEW and LIVE admit them, SIMULIVE never (issue 12). */
  'event_not_open',
] as const;
export type IngestRefusal = (typeof INGEST_REFUSALS)[number];

/**
 * The sizes of the origin ↔ edge event contract. The edge rejects an event beyond them (that event only); the origin
 * clamps every text it puts in an event to them before the event is queued (origin/event-clamp.ts).
 */
export const ORIGIN_EVENT_LIMITS = {
  /** One `issues` entry of the stats (often an ffmpeg stderr line). */
  issueChars: 300,
  /** Entries in `issues`. */
  issues: 20,
  /** publish_done's reason (why the encoder left). */
  endReasonChars: 300,
  /** error / recording_failed / clip_failed reasons (often an ffmpeg error). */
  failureReasonChars: 500,
  /** R2 keys and prefixes in recording_ready / clip_ready. */
  keyChars: 300,
  eventIdChars: 100,
  eventsPerBatch: 100,
  /** The reason the edge gives with a rejected / refused / retry outcome. */
  outcomeReasonChars: 500,
} as const;

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
    issues: z.array(z.string().max(ORIGIN_EVENT_LIMITS.issueChars)).max(ORIGIN_EVENT_LIMITS.issues).nullable(),
    /** The encoder's video as it arrives (origin/media/video-cadence.ts); null until measured, absent from older origins. */
    frameRate: z.number().nonnegative().max(1000).nullable().optional(),
    keyframeInterval: z.number().nonnegative().max(3600).nullable().optional(),
  })
  .openapi('SessionStats');
export type SessionStats = z.infer<typeof SessionStats>;

/** What the origin stored in R2 for a finished recording (keys are R2 object keys). */
function RecordingArtifactsSchema() {
  return z.object({
    duration: z.number().nonnegative(),
    size: z.number().nonnegative(),
    mediaInfo: MediaInfo,
    hlsPrefix: z.string().max(ORIGIN_EVENT_LIMITS.keyChars),
    mp4Key: z.string().max(ORIGIN_EVENT_LIMITS.keyChars),
    screenshotKey: z.string().max(ORIGIN_EVENT_LIMITS.keyChars),
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
    hlsPrefix: z.string().max(ORIGIN_EVENT_LIMITS.keyChars),
    mp4Key: z.string().max(ORIGIN_EVENT_LIMITS.keyChars),
  });
}
export type ClipArtifacts = z.infer<ReturnType<typeof ClipArtifactsSchema>>;

/** Every origin event's id: the key the edge de-duplicates and answers by. */
export const OriginEventId = z.string().min(8).max(ORIGIN_EVENT_LIMITS.eventIdChars);

/** A library video's id (`vid_` + 16, shared/schemas/video.ts). */
const VideoIdText = z.string().regex(/^vid_[A-Za-z0-9]{1,60}$/, 'videoId is a video id');

const eventBase = {
  id: OriginEventId,
  streamId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  at: z.string().datetime(),
};

export const OriginEvent = z.discriminatedUnion('type', [
  z.object({ ...eventBase, type: z.literal('publish'), data: z.object({ protocol: IngestProtocol }).passthrough() }),
  z.object({ ...eventBase, type: z.literal('publish_done'), data: z.object({ reason: z.string().max(ORIGIN_EVENT_LIMITS.endReasonChars) }) }),
  z.object({ ...eventBase, type: z.literal('stats'), data: SessionStats }),
  z.object({ ...eventBase, type: z.literal('recording_started'), data: z.object({}).passthrough() }),
  z.object({
    ...eventBase,
    type: z.literal('error'),
    data: z.object({ reason: z.string().max(ORIGIN_EVENT_LIMITS.failureReasonChars) }),
  }),
  z.object({ ...eventBase, type: z.literal('recording_ready'), data: RecordingArtifactsSchema() }),
  z.object({ ...eventBase, type: z.literal('recording_failed'), data: z.object({ reason: z.string().max(ORIGIN_EVENT_LIMITS.failureReasonChars) }) }),
  /** The MP4 export of a recording is under way: progress 0..1 over download and mux (at most one every 2 s). */
  z.object({
    ...eventBase,
    type: z.literal('recording_progress'),
    data: z.object({ recordingId: z.string().min(1).max(64), progress: z.number().min(0).max(1) }),
  }),
  /**
   * Everything the origin produced for this session so far is in R2 (after a publish_done flush); `final`: the durable
   * playlists carry ENDLIST because the broadcast ended on this origin. The edge makes the recording watchable on it.
   */
  z.object({
    ...eventBase,
    type: z.literal('media_durable'),
    data: z.object({
      renditions: z.number().int().nonnegative(),
      segments: z.number().int().nonnegative(),
      duration: z.number().nonnegative(),
      final: z.boolean(),
    }),
  }),
  z.object({ ...eventBase, type: z.literal('clip_ready'), data: ClipArtifactsSchema() }),
  z.object({
    ...eventBase,
    type: z.literal('clip_failed'),
    data: z.object({ clipId: z.string().max(64), reason: z.string().max(ORIGIN_EVENT_LIMITS.failureReasonChars) }),
  }),
  /** A simulcast target's relay changed state on the session holder (issue 14); `error`: the server's refusal or drop. */
  z.object({
    ...eventBase,
    type: z.literal('destination_status'),
    data: z.object({
      destinationId: z.string().min(1).max(64),
      revision: z.number().int().positive(),
      status: z.enum(['connecting', 'live', 'retrying', 'failed', 'stopped']),
      error: z.string().max(ORIGIN_EVENT_LIMITS.failureReasonChars).nullable(),
      bytesSent: z.number().int().nonnegative(),
      reconnects: z.number().int().nonnegative(),
    }),
  }),
  // Issue 13, a library video's job (V4): `streamId` carries the videoId (the outbox orders and holds a video's events
  // as it does a stream's) and `sessionId` the job's attempt (`vod-{attempt}`); the edge routes them by data.videoId.
  z.object({
    ...eventBase,
    type: z.literal('video_progress'),
    data: z.object({ videoId: VideoIdText, phase: z.enum(['importing', 'processing']), progress: z.number().min(0).max(100) }),
  }),
  z.object({
    ...eventBase,
    type: z.literal('video_ready'),
    data: z.object({
      videoId: VideoIdText,
      duration: z.number().nonnegative(),
      size: z.number().nonnegative(),
      mediaInfo: MediaInfo.nullable(),
      /** rendition names under `videos/{videoId}/hls/`, top first */
      renditions: z.array(z.string().min(1).max(40)).min(1).max(10),
    }),
  }),
  z.object({
    ...eventBase,
    type: z.literal('video_failed'),
    /** permanent: another run would fail the same way (not a video, too large); else the edge may run the job again */
    data: z.object({ videoId: VideoIdText, reason: z.string().max(ORIGIN_EVENT_LIMITS.failureReasonChars), permanent: z.boolean() }),
  }),
]);
export type OriginEvent = z.infer<typeof OriginEvent>;
/** The origin events of a library video's job (routed to its VideoObject by data.videoId). */
export const VIDEO_EVENT_TYPES = ['video_progress', 'video_ready', 'video_failed'] as const;
export type VideoOriginEvent = Extract<OriginEvent, { type: (typeof VIDEO_EVENT_TYPES)[number] }>;
export const isVideoEvent = (event: OriginEvent): event is VideoOriginEvent => (VIDEO_EVENT_TYPES as readonly string[]).includes(event.type);

/** A batch as the edge reads it: one list of events, each one parsed on its own (OriginEvent) after this envelope. */
export const OriginEventBatch = z
  .object({
    events: z
      .array(z.object({ id: OriginEventId }).passthrough())
      .min(1)
      .max(ORIGIN_EVENT_LIMITS.eventsPerBatch),
  })
  .strict();

const outcomeReason = z.string().max(ORIGIN_EVENT_LIMITS.outcomeReasonChars);
/**
 * The edge's answer for one event of a batch:
 * - applied: done; duplicate: its id was seen before (done earlier) — the origin forgets both;
 * - refused: valid, but the stream's state will not take it (unknown stream, not the current session) — forgotten;
 * - rejected: invalid (fails OriginEvent); the reason names the field — the origin quarantines it, never resends;
 * - retry: the edge could not decide now (the stream's object failed) — the origin resends it later.
 */
export const OriginEventOutcome = z.discriminatedUnion('outcome', [
  z.object({ id: z.string(), outcome: z.literal('applied') }),
  z.object({ id: z.string(), outcome: z.literal('duplicate') }),
  z.object({ id: z.string(), outcome: z.literal('refused'), reason: outcomeReason }),
  z.object({ id: z.string(), outcome: z.literal('rejected'), reason: outcomeReason }),
  z.object({ id: z.string(), outcome: z.literal('retry'), reason: outcomeReason }),
]);
export type OriginEventOutcome = z.infer<typeof OriginEventOutcome>;
/** One outcome per event of the batch, in the batch's order. */
export const OriginEventBatchResponse = z.object({ results: z.array(OriginEventOutcome) });
export type OriginEventBatchResponse = z.infer<typeof OriginEventBatchResponse>;

/** Edge → origin: disconnect a stream's encoder now (delete, disable, complete, key reset). */
export const KickCommand = z.object({
  streamId: z.string(),
  sessionId: z.string().nullable(),
  reason: z.string(),
  /** The broadcast is over (completed, disabled, deleted): no reconnect will follow. */
  final: z.boolean(),
});
export type KickCommand = z.infer<typeof KickCommand>;

/**
 * Edge → origin: does this origin still have an encoder publishing this session? Asked of the holding origin when the
 * same stream key arrives through another origin, so a failover need not wait for the holder's heartbeat to lapse.
 */
export const HoldsQuery = z.object({ streamId: z.string().min(1).max(64), sessionId: z.string().min(1).max(64) });
export type HoldsQuery = z.infer<typeof HoldsQuery>;
export const HoldsAnswer = z.object({ publishing: z.boolean() });
export type HoldsAnswer = z.infer<typeof HoldsAnswer>;

/** A session's durable media prefix in R2: `live/{streamId}/{sessionId}` (a trailing slash is allowed). */
const DurableSessionPrefix = z.string().regex(/^live\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}\/?$/, 'durablePrefix is live/{streamId}/{sessionId}');
/** An opaque media grant (sent back as x-riverhead-media-grant). */
const MediaGrantText = z.string().min(1).max(8192);

/** Edge → origin: the session is STOPPED: the holding origin ends it now, making its media final in R2 (media_durable). */
export const FinalizeCommand = z.object({ streamId: z.string(), sessionId: z.string() });
export type FinalizeCommand = z.infer<typeof FinalizeCommand>;

/** Edge → origin: cut a clip from a session's durable media, on any origin (validated at the edge, checked again there). */
export const ClipCommand = z.object({
  clipId: z.string(),
  /** The stream's workspace: the origin limits clip jobs per workspace (429 with Retry-After beyond it). */
  workspaceId: z.string().min(1).max(64),
  streamId: z.string(),
  sessionId: z.string(),
  startTime: z.number().nonnegative(),
  endTime: z.number().nonnegative(),
  accurate: z.boolean(),
  /** The session's media in R2 (`live/{streamId}/{sessionId}`): any origin cuts the clip from there. */
  durablePrefix: DurableSessionPrefix,
  /** Reads the session prefix, writes `clips/{clipId}/` (shared/media-grant.ts). */
  mediaGrant: MediaGrantText,
});
export type ClipCommand = z.infer<typeof ClipCommand>;

/**
 * Edge → origin: build a recording's MP4 (and screenshot) from the session's durable media in R2, on any origin with
 * capacity; answered 202, then recording_progress events and recording_ready (or recording_failed).
 */
export const ExportRecordingCommand = z.object({
  recordingId: z.string().min(1).max(64),
  streamId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  durablePrefix: DurableSessionPrefix,
  /** `recordings/{recordingId}`: where recording.mp4 and screenshot.jpg go. */
  outputPrefix: z.string().regex(/^recordings\/[A-Za-z0-9_-]{1,64}\/?$/, 'outputPrefix is recordings/{recordingId}'),
  /** Reads the session prefix, writes the output prefix (shared/media-grant.ts). */
  mediaGrant: MediaGrantText,
});
export type ExportRecordingCommand = z.infer<typeof ExportRecordingCommand>;

/** Where a recording's MP4 lives in R2 (the export's outputPrefix + recording.mp4). */
export const recordingMp4Key = (recordingId: string): string => `recordings/${recordingId}/recording.mp4`;

/**
 * The MP4s a library video `vid_X` may be broadcast from: its own (upload/import), or that of the recording `rec_X` or
 * clip `clip_X` it is a view of (edge/video/library-rows.ts libraryVideoId derives the one id from the other).
 */
export const simuliveVideoKeys = (videoId: string): string[] => {
  const x = videoId.replace(/^vid_/, '');
  return [`videos/${videoId}/video.mp4`, recordingMp4Key(`rec_${x}`), `clips/clip_${x}/clip.mp4`];
};

/**
 * Edge → origin: broadcast a recording as live on this stream (a SIMULIVE event at LIVE). The origin reads the source
 * through GET /internal/media/{key} with the grant, publishes it with the ticket (authorize protocol 'simulive') and
 * plays it in real time into the live pipeline; the end of the source ends the broadcast (publish_done
 * 'simulive_source_ended'). 202 taken; 409 this origin broadcasts the stream already; 503 full or shutting down.
 */
export const SimuliveCommand = z
  .object({
    streamId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'streamId is a stream id'),
    ticket: z.string().min(16).max(200),
    /** A recording (`recordingId`) or a library video (`videoId`, issue 13), exactly one; `key` is its MP4. */
    source: z
      .object({
        recordingId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'source.recordingId is a recording id').optional(),
        videoId: VideoIdText.optional(),
        key: z
          .string()
          .regex(
            /^(recordings\/[A-Za-z0-9_-]{1,64}\/recording|clips\/[A-Za-z0-9_-]{1,64}\/clip|videos\/[A-Za-z0-9_-]{1,64}\/video)\.mp4$/,
            'source.key is a recording.mp4, clip.mp4 or video.mp4 in R2',
          ),
      })
      .strict()
      .superRefine((source, ctx) => {
        if ((source.recordingId === undefined) === (source.videoId === undefined)) {
          ctx.addIssue({ code: 'custom', path: ['recordingId'], message: 'source names exactly one of recordingId and videoId' });
          return;
        }
        const own = source.recordingId !== undefined ? [recordingMp4Key(source.recordingId)] : simuliveVideoKeys(source.videoId!);
        if (!own.includes(source.key)) ctx.addIssue({ code: 'custom', path: ['key'], message: "source.key is the source's own MP4" });
      }),
    /** Reads the source's prefix (shared/media-grant.ts). */
    grant: MediaGrantText,
  })
  .strict();
export type SimuliveCommand = z.infer<typeof SimuliveCommand>;

/**
 * Edge → session holder: the stream's desired simulcast targets changed while live (a destination added, enabled,
 * edited, disabled or deleted). The full set: targets absent from it stop, new ones start, a new revision restarts.
 */
export const DestinationsCommand = z.object({
  streamId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  targets: z.array(SimulcastTarget).max(10),
});
export type DestinationsCommand = z.infer<typeof DestinationsCommand>;

/**
 * Edge → origin (issue 13): run a library video's job on this origin: `import` fetches `sourceUrl` into
 * `videos/{videoId}/source` then processes it, `process` processes the uploaded source. The grant reads and writes
 * `videos/{videoId}/`; `attempt` counts the edge's dispatches of this job (1 first). 202 taken (video_progress, then
 * video_ready or video_failed); 429 this origin's VOD lane is full, 503 shutting down: the edge tries another origin.
 */
export const VodJobCommand = z
  .object({
    videoId: VideoIdText,
    workspaceId: z.string().min(1).max(64),
    kind: z.enum(['import', 'process']),
    sourceUrl: z.string().min(1).max(4096).optional(),
    grant: MediaGrantText,
    attempt: z.number().int().min(1).max(100),
  })
  .refine((c) => c.kind !== 'import' || c.sourceUrl !== undefined, { message: 'an import job needs sourceUrl', path: ['sourceUrl'] });
export type VodJobCommand = z.infer<typeof VodJobCommand>;

/** Where a video's objects live in R2 (CONTRACT.md): its source, and what the job makes of it. */
export const videoKeys = (videoId: string) => ({
  prefix: `videos/${videoId}/`,
  source: `videos/${videoId}/source`,
  hls: `videos/${videoId}/hls`,
  mp4: `videos/${videoId}/video.mp4`,
  thumbnail: `videos/${videoId}/thumbnail.jpg`,
});
