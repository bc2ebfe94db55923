// The answers of the one-time upload URL (`/uploads/{token}`, issue 13): what was received, so a client can resume, and
// the outcome of completing it. The URL itself comes from POST /v1/videos/uploads (VideoUpload in video.ts).
import { z } from '@hono/zod-openapi';
import { Timestamp } from './common.ts';
import { VideoStatusSchema } from './video.ts';

export const UploadPart = z
  .object({
    n: z.number().int().min(1),
    size: z.number().int().min(1).openapi({ description: 'bytes' }),
    etag: z.string(),
  })
  .openapi('UploadPart');
export type UploadPart = z.infer<typeof UploadPart>;

export const UploadStatus = z
  .object({
    videoId: z.string(),
    state: z.enum(['open', 'completing']).openapi({ description: 'open: parts are taken; completing: the file is being put together' }),
    partSize: z.number().int(),
    maxParts: z.number().int(),
    expiresAt: Timestamp,
    parts: z.array(UploadPart).openapi({ description: 'the parts received, by number; a part sent again replaces its entry' }),
    receivedParts: z.number().int(),
    receivedBytes: z.number().int(),
    nextPart: z.number().int().openapi({ description: 'the lowest part number not yet received (where to resume)' }),
  })
  .openapi('UploadStatus');
export type UploadStatus = z.infer<typeof UploadStatus>;

export const UploadCompleted = z
  .object({
    videoId: z.string(),
    status: VideoStatusSchema,
    size: z.number().int().openapi({ description: 'bytes of the file stored' }),
    parts: z.number().int().openapi({ description: 'how many parts made it (1 for a one-shot PUT)' }),
  })
  .openapi('UploadCompleted');
export type UploadCompleted = z.infer<typeof UploadCompleted>;
