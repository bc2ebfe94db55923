// The live stream resource: what customers send (create, update) and what they get back (seed 001, 002, 000).
import { z } from '@hono/zod-openapi';
import { STREAM_STATUSES, LIFECYCLE_EVENTS } from '../lifecycle-vocabulary.ts';
import { Timestamp, ListQuery } from './common.ts';
import { Region } from './origin-registry.ts';

/** The zone (a region with origins, GET /v1/zones) a stream is ingested and processed in. */
const ZoneField = Region.openapi({ description: 'a zone from GET /v1/zones: ingest URLs point at its ingest host, and only its origins take the publish' });

export const StreamStatusSchema = z.enum(STREAM_STATUSES).openapi('StreamStatus');
export const AccessPolicy = z.enum(['public', 'private']).openapi('AccessPolicy');
export const MAX_RESOLUTIONS = ['2160p', '1440p', '1080p', '720p', '480p', '360p'] as const;
export const MaxResolution = z.enum(MAX_RESOLUTIONS).openapi('MaxResolution');

/** A transcoding rendition (seed 002's `profiles`). */
export const Profile = z
  .object({
    name: z.string().min(1).max(40).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only'),
    width: z.number().int().min(16).max(7680).multipleOf(2),
    height: z.number().int().min(16).max(4320).multipleOf(2),
    bitrate: z.number().int().min(50_000).max(50_000_000).openapi({ description: 'bits per second' }),
    fps: z.number().int().min(1).max(120),
    fpsDen: z.number().int().min(1).max(1001).default(1),
    quality: z.number().int().min(0).max(44).optional().openapi({ description: 'CRF-like, lower is better' }),
    gop: z.number().min(0.5).max(10).default(2).openapi({ description: 'keyframe interval, seconds' }),
    profile: z.enum(['H264Baseline', 'H264Main', 'H264High', 'H264ConstrainedHigh']).default('H264High'),
    encoder: z.enum(['H.264']).default('H.264'),
  })
  .strict()
  .openapi('Profile');
export type Profile = z.infer<typeof Profile>;

export const METADATA_LIMITS = { keys: 50, keyLength: 64, valueLength: 512 } as const;
export const Metadata = z
  .record(
    z.string().min(1).max(METADATA_LIMITS.keyLength),
    z.string().max(METADATA_LIMITS.valueLength),
  )
  .refine((m) => Object.keys(m).length <= METADATA_LIMITS.keys, {
    message: `at most ${METADATA_LIMITS.keys} keys`,
  })
  .openapi('Metadata', { description: 'Free-form string map, e.g. {"livestream_name": "launch"}' });

export const ReconnectWindow = z
  .number()
  .int()
  .min(0)
  .max(1800)
  .openapi({ description: 'seconds an encoder may be gone before the broadcast stops; 0–1800' });
export const SrtLatency = z
  .number()
  .int()
  .min(20)
  .max(8000)
  .openapi({ description: 'SRT receiver latency in milliseconds' });

/** What a live media playlist lists for viewers: the last 60 s (the live edge), or the whole session (start-over). */
export const PLAYLIST_WINDOWS = ['sliding', 'dvr'] as const;
export const PlaylistWindow = z
  .enum(PLAYLIST_WINDOWS)
  .openapi('PlaylistWindow', { description: "sliding: live playlists list the last 60 s (default); dvr: every segment of the session, so viewers can seek back to its start" });
export type PlaylistWindow = z.infer<typeof PlaylistWindow>;

/** How far behind the encoder viewers play (issue 15): standard HLS, or Apple Low-Latency HLS. */
export const LATENCY_MODES = ['standard', 'low'] as const;
export const LatencyMode = z.enum(LATENCY_MODES).openapi('LatencyMode', {
  description:
    'standard: 2 s MPEG-TS segments, players sit about three segments behind the live edge (default); ' +
    'low: Apple Low-Latency HLS (fMP4 segments of 2 s made of parts of about 0.2 s, blocking playlist reload, ' +
    'preload hints, delta updates), about 1–2 s glass-to-glass with an LL-HLS player such as hls.js lowLatencyMode. ' +
    'Encoders should send a keyframe every second and no B-frames. Changing it is refused (409 stream-live) while the stream is live.',
});
export type LatencyMode = z.infer<typeof LatencyMode>;

const profilesList = z.array(Profile).min(1).max(8);
const distinctProfileNames = (profiles: Profile[] | undefined) =>
  !profiles || new Set(profiles.map((p) => p.name)).size === profiles.length;

export const CreateLiveStreamRequest = z
  .object({
    metadata: Metadata.default({}),
    reconnectWindow: ReconnectWindow.default(60),
    record: z.boolean().default(false),
    accessPolicy: AccessPolicy.default('public'),
    maxResolution: MaxResolution.default('1080p'),
    profiles: profilesList.optional(),
    srtLatency: SrtLatency.default(120),
    zone: ZoneField.nullable().default(null),
    playlistWindow: PlaylistWindow.default('sliding'),
    latencyMode: LatencyMode.default('standard'),
  })
  .strict()
  .refine((body) => distinctProfileNames(body.profiles), {
    message: 'profile names must be distinct',
    path: ['profiles'],
  })
  .openapi('CreateLiveStreamRequest');
export type CreateLiveStreamRequest = z.infer<typeof CreateLiveStreamRequest>;

export const UpdateLiveStreamRequest = z
  .object({
    metadata: Metadata.optional(),
    reconnectWindow: ReconnectWindow.optional(),
    record: z.boolean().optional(),
    accessPolicy: AccessPolicy.optional(),
    maxResolution: MaxResolution.optional(),
    profiles: profilesList.nullable().optional().openapi({ description: 'null returns to the default ladder' }),
    srtLatency: SrtLatency.optional(),
    zone: ZoneField.nullable().optional().openapi({ description: 'null: no zone (the default ingest host, any origin)' }),
    playlistWindow: PlaylistWindow.optional(),
    latencyMode: LatencyMode.optional().openapi({ description: 'only while the stream is not live (409 stream-live otherwise); applies from the next broadcast' }),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one field to change' })
  .refine((body) => distinctProfileNames(body.profiles ?? undefined), {
    message: 'profile names must be distinct',
    path: ['profiles'],
  })
  .openapi('UpdateLiveStreamRequest');
export type UpdateLiveStreamRequest = z.infer<typeof UpdateLiveStreamRequest>;

export const PlaybackId = z.object({ id: z.string(), accessPolicy: AccessPolicy }).openapi('PlaybackId');

export const Activity = z
  .object({
    event: z.enum(LIFECYCLE_EVENTS),
    status: z.string().openapi({ example: 'On Publish', description: 'seed 000 label of the event' }),
    streamStatus: StreamStatusSchema,
    timestamp: Timestamp,
    sessionId: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .openapi('Activity');
export type Activity = z.infer<typeof Activity>;

export const Ingest = z
  .object({
    rtmp: z.object({ url: z.string(), serverUrl: z.string(), streamKey: z.string().optional() }),
    rtmps: z.object({ url: z.string(), serverUrl: z.string(), streamKey: z.string().optional() }),
    srt: z.object({
      url: z.string().openapi({ description: 'complete caller URL (streamid and passphrase) on create and key reset' }),
      host: z.string(),
      port: z.number().int(),
      streamId: z.string(),
      passphrase: z.string().optional(),
      latency: z.number().int(),
    }),
  })
  .openapi('Ingest');

export const CurrentSession = z
  .object({
    id: z.string(),
    startedAt: Timestamp,
    reconnects: z.number().int(),
    lastSeen: Timestamp.nullable(),
  })
  .openapi('CurrentSession');

export const LiveStream = z
  .object({
    streamId: z.string(),
    status: StreamStatusSchema,
    enabled: z.boolean(),
    streamKey: z.string().optional().openapi({ description: 'only on create and reset-stream-key' }),
    srtSecret: z.string().optional().openapi({ description: 'only on create and reset-stream-key' }),
    ingest: Ingest,
    playbackIds: z.array(PlaybackId),
    reconnectWindow: z.number().int(),
    record: z.boolean(),
    metadata: z.record(z.string(), z.string()),
    maxResolution: MaxResolution,
    profiles: z.array(Profile).nullable(),
    srtLatency: z.number().int(),
    zone: z.string().nullable().openapi({ description: 'the zone its ingest URLs point at; null: the default ingest host' }),
    playlistWindow: PlaylistWindow,
    latencyMode: LatencyMode,
    activities: z.array(Activity).optional().openapi({ description: 'on GET of a single stream' }),
    currentSession: CurrentSession.nullable(),
    errorReason: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('LiveStream');
export type LiveStream = z.infer<typeof LiveStream>;

export const ListLiveStreamsQuery = ListQuery.extend({ status: StreamStatusSchema.optional() }).strict();

export const StreamIdParam = z.object({
  streamId: z.string().min(1).max(64).openapi({ param: { name: 'streamId', in: 'path' } }),
});
