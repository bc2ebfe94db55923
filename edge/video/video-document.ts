// What a VideoObject stores about its video, and the API's view of it (URLs relative: routes make them absolute on the
// host they were called on, webhooks on PUBLIC_BASE_URL when it is set).
import type { Video } from '../../shared/schemas/video.ts';
import type { VideoState } from './video-machine.ts';

export interface VideoDocument {
  videoId: string;
  workspaceId: string;
  source: 'upload' | 'import';
  title: string | null;
  metadata: Record<string, string>;
  playbackId: string;
  accessPolicy: 'public' | 'private';
  state: VideoState;
  /** An import's source URL (V3); never in the view, as a presigned URL carries a credential. */
  sourceUrl: string | null;
  /** Set by DELETE: the object keeps a tombstone, so late job events and a re-create find the video gone. */
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Where a video's objects live in R2 (CONTRACT.md): everything of it under one prefix, deleted with it. */
export const videoPrefix = (videoId: string) => `videos/${videoId}/`;
export const videoHlsPrefix = (videoId: string) => `videos/${videoId}/hls`;
export const videoSourceKey = (videoId: string) => `videos/${videoId}/source`;

/** Playback paths of a playback ID (served by /hls from the video's prefix). */
export const videoPlaybackPaths = (playbackId: string) => ({
  hlsUrl: `/hls/${playbackId}/master.m3u8`,
  mp4Url: `/hls/${playbackId}/video.mp4`,
  thumbnailUrl: `/hls/${playbackId}/thumbnail.jpg`,
});

export function videoView(doc: VideoDocument): Video {
  const { state } = doc;
  const ready = state.status === 'ready';
  const paths = videoPlaybackPaths(doc.playbackId);
  return {
    videoId: doc.videoId,
    title: doc.title,
    status: state.status,
    error: state.status === 'failed' ? state.error : null,
    progress: state.progress,
    source: doc.source,
    duration: state.duration,
    size: state.size,
    mediaInfo: state.mediaInfo,
    playbackIds: [{ id: doc.playbackId, accessPolicy: doc.accessPolicy }],
    hlsUrl: ready ? paths.hlsUrl : null,
    mp4Url: ready ? paths.mp4Url : null,
    thumbnailUrl: ready ? paths.thumbnailUrl : null,
    metadata: doc.metadata,
    createdAt: doc.createdAt,
    readyAt: state.readyAt === null ? null : new Date(state.readyAt).toISOString(),
    streamId: null,
    recordingId: null,
    clipId: null,
  };
}

/** The video with its URLs absolute on `base` (the request's URL): what the API answers with. */
export function absoluteVideo(video: Video, base: string): Video {
  const absolute = (path: string | null) => (path === null ? null : new URL(path, base).href);
  return { ...video, hlsUrl: absolute(video.hlsUrl), mp4Url: absolute(video.mp4Url), thumbnailUrl: absolute(video.thumbnailUrl) };
}
