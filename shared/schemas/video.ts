// The video library (issue 13): a video uploaded, imported, or made from a recording or clip, and the requests on it.
import { z } from '@hono/zod-openapi';
import { ListQuery, Timestamp } from './common.ts';
import { AccessPolicy, Metadata, PlaybackId } from './live-stream.ts';
import { MediaInfo } from './recording.ts';

export const VIDEO_STATUSES = ['waiting', 'uploading', 'importing', 'processing', 'ready', 'failed'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];
export const VideoStatusSchema = z.enum(VIDEO_STATUSES).openapi('VideoStatus', {
  description: 'waiting → uploading (upload) or importing (import) → processing → ready, or failed (with error)',
});

export const VIDEO_SOURCES = ['upload', 'import', 'recording', 'clip'] as const;
export type VideoSource = (typeof VIDEO_SOURCES)[number];
export const VideoSourceSchema = z.enum(VIDEO_SOURCES).openapi('VideoSource');

const title = z.string().min(1).max(200).openapi({ description: 'your name for the video', example: 'Launch keynote' });

export const Video = z
  .object({
    videoId: z.string().openapi({ example: 'vid_3kTq9ZbV1pXw7HcN' }),
    title: z.string().nullable(),
    status: VideoStatusSchema,
    error: z.string().nullable().openapi({ description: 'why the video failed; null unless status is failed' }),
    progress: z
      .number()
      .min(0)
      .max(100)
      .nullable()
      .openapi({ description: '0–100 while importing and processing; 100 once ready; null before the work starts' }),
    source: VideoSourceSchema,
    duration: z.number().nullable().openapi({ description: 'seconds, once known' }),
    size: z.number().int().nullable().openapi({ description: 'bytes of the source, once known' }),
    mediaInfo: MediaInfo.nullable(),
    playbackIds: z.array(PlaybackId),
    hlsUrl: z.string().nullable().openapi({ description: 'absolute …/hls/{playbackId}/master.m3u8; null until ready' }),
    mp4Url: z.string().nullable().openapi({ description: 'absolute …/hls/{playbackId}/video.mp4 (fast start); null until ready' }),
    thumbnailUrl: z.string().nullable().openapi({ description: 'absolute …/hls/{playbackId}/thumbnail.jpg; null until ready' }),
    metadata: Metadata,
    createdAt: Timestamp,
    readyAt: Timestamp.nullable(),
    streamId: z.string().nullable().openapi({ description: 'the live stream of a recording or clip video, else null' }),
    recordingId: z.string().nullable(),
    clipId: z.string().nullable(),
  })
  .openapi('Video');
/**
 * Its media info typed without the schema's passthrough index signature: a Video crosses Durable Object RPC, whose
 * types keep only what is serializable (an `unknown` member would make the whole answer `never`).
 */
type VideoMediaInfo = z.infer<ReturnType<typeof MediaInfo.strip>>;
export type Video = Omit<z.infer<typeof Video>, 'mediaInfo'> & { mediaInfo: VideoMediaInfo | null };

export const CreateUploadRequest = z
  .object({
    title: title.optional(),
    metadata: Metadata.optional(),
    accessPolicy: AccessPolicy.default('public'),
    size: z.number().int().min(1).optional().openapi({ description: "the file's size in bytes, a hint for the part size" }),
  })
  .strict()
  .openapi('CreateUploadRequest');
export type CreateUploadRequest = z.infer<typeof CreateUploadRequest>;

export const VideoUpload = z
  .object({
    videoId: z.string(),
    uploadUrl: z.string().openapi({ description: 'absolute, one-time: PUT the parts to it (see the upload protocol)' }),
    expiresAt: Timestamp,
    partSize: z.number().int().openapi({ description: 'bytes; every part but the last is exactly this long' }),
    maxParts: z.number().int(),
  })
  .openapi('VideoUpload');
export type VideoUpload = z.infer<typeof VideoUpload>;

export const CreateImportRequest = z
  .object({
    url: z
      .string()
      .min(1)
      .max(4096)
      .openapi({ description: 'https:// (a presigned S3 URL works); http:// only to loopback in local development' }),
    title: title.optional(),
    metadata: Metadata.optional(),
    accessPolicy: AccessPolicy.default('public'),
  })
  .strict()
  .openapi('CreateImportRequest');
export type CreateImportRequest = z.infer<typeof CreateImportRequest>;

export const UpdateVideoRequest = z
  .object({
    title: title.nullable().optional().openapi({ description: 'null clears it' }),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one field to change (title, metadata)' })
  .openapi('UpdateVideoRequest');
export type UpdateVideoRequest = z.infer<typeof UpdateVideoRequest>;

export const ListVideosQuery = ListQuery.extend({
  status: VideoStatusSchema.optional(),
  source: VideoSourceSchema.optional(),
}).strict();
export type ListVideosQuery = z.infer<typeof ListVideosQuery>;

export const VideoIdParam = z.object({
  videoId: z.string().min(1).max(64).openapi({ param: { name: 'videoId', in: 'path' } }),
});
