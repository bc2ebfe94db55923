// Recordings and clips in the video library (issue 13): a watchable recording and a ready clip are videos of source
// 'recording' / 'clip' without any media copied. Their D1 `videos` row is an index kept in step by their stream's
// object (owed effects 'recording_index' / 'clip_index'); the video itself is a view of the recording or clip, read
// from that object, so it plays with the recording's or clip's own playback ID and URLs. Title and metadata are the
// library's own and live on the row. The row → Video mapping is pure; the I/O helpers at the end serve /v1/videos.
import type { Env } from '../env.ts';
import type { Clip, Recording } from '../../shared/schemas/recording.ts';
import type { UpdateVideoRequest, Video, VideoStatus } from '../../shared/schemas/video.ts';

/** A row of D1 `videos` (edge/migrations/0012_videos.sql; metadata: 0014_video_library_metadata.sql). */
export type VideoIndexRow = {
  id: string;
  workspace_id: string;
  source: 'upload' | 'import' | 'recording' | 'clip';
  status: VideoStatus;
  created_at: string;
  stream_id: string | null;
  recording_id: string | null;
  clip_id: string | null;
  title: string | null;
  /** JSON of the metadata set through PATCH (recording and clip videos only; a VideoObject keeps its own) */
  metadata?: string | null;
};

/** What a recording or clip video is made from: the stream object's view of it and the policy of its playback ID. */
export type LibrarySource =
  | { source: 'recording'; recording: Recording; streamId: string; accessPolicy: 'public' | 'private' }
  | { source: 'clip'; clip: Clip; streamId: string; accessPolicy: 'public' | 'private' };

/**
 * The video ID of a recording or clip, derived from its own id (`rec_X` / `clip_X` → `vid_X`): the index effect can
 * write its row again and again without remembering anything, and the id never changes.
 */
export const libraryVideoId = (sourceId: string): string => `vid_${sourceId.replace(/^(rec|clip)_/, '')}`;

/** A recording is in the library while it plays (watchable, not cleaned by retention). */
export const recordingInLibrary = (recording: Recording): boolean => recording.watchable && !recording.cleaned;
/** A clip is in the library once it is cut (ready). */
export const clipInLibrary = (clip: Clip): boolean => clip.status === 'ready';

export const RECORDING_CLEANED = "the recording's media was deleted by the workspace's retention policy";

function recordingStatus(recording: Recording): { status: VideoStatus; error: string | null } {
  if (recording.cleaned) return { status: 'failed', error: RECORDING_CLEANED };
  if (recording.watchable) return { status: 'ready', error: null };
  if (recording.recordingStatus === 'failed') return { status: 'failed', error: recording.error ?? 'the recording failed' };
  return { status: 'processing', error: null };
}

const metadataOf = (row: Pick<VideoIndexRow, 'metadata'>): Record<string, string> =>
  row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : {};

/** A recording or clip video as the API shows it; URLs relative (the route makes them absolute on its own host). */
export function libraryVideoView(row: Pick<VideoIndexRow, 'id' | 'title' | 'metadata'>, from: LibrarySource): Video {
  if (from.source === 'recording') {
    const { recording } = from;
    const { status, error } = recordingStatus(recording);
    return {
      videoId: row.id,
      title: row.title,
      status,
      error,
      progress: status === 'ready' ? 100 : null,
      source: 'recording',
      duration: recording.duration,
      size: recording.size,
      mediaInfo: recording.mediaInfo,
      playbackIds: [{ id: recording.playbackId, accessPolicy: from.accessPolicy }],
      hlsUrl: status === 'ready' ? recording.recordingUrl : null,
      // The MP4 follows the HLS (exported on the side): null until the recording is exportable.
      mp4Url: status === 'ready' ? recording.mp4Url : null,
      thumbnailUrl: status === 'ready' ? recording.screenshot : null,
      metadata: metadataOf(row),
      createdAt: recording.time,
      readyAt: status === 'ready' ? recording.sourceReadyAt : null,
      streamId: from.streamId,
      recordingId: recording.id,
      clipId: null,
    };
  }
  const { clip } = from;
  const ready = clip.status === 'ready';
  return {
    videoId: row.id,
    title: row.title,
    status: clip.status,
    error: clip.status === 'failed' ? (clip.error ?? 'the clip failed') : null,
    progress: ready ? 100 : null,
    source: 'clip',
    duration: clip.duration,
    size: clip.size,
    mediaInfo: null,
    playbackIds: [{ id: clip.playbackId, accessPolicy: from.accessPolicy }],
    hlsUrl: ready ? clip.playbackUrl : null,
    mp4Url: ready ? clip.mp4Url : null,
    thumbnailUrl: null, // a clip job cuts HLS and an MP4, no screenshot
    metadata: metadataOf(row),
    createdAt: clip.createdAt,
    readyAt: ready ? clip.updatedAt : null,
    streamId: from.streamId,
    recordingId: null,
    clipId: clip.id,
  };
}

// ── the index (statements the stream's object runs in its owed effects) ─────────────────────────────

/**
 * Keeps a recording's or clip's library row in step: written while it is in the library (its status only, so a title
 * or metadata set through PATCH stays), deleted once it is not (a recording cleaned by retention).
 */
export function libraryRowStatement(db: D1Database, workspaceId: string, from: LibrarySource): D1PreparedStatement {
  const sourceId = from.source === 'recording' ? from.recording.id : from.clip.id;
  const videoId = libraryVideoId(sourceId);
  const present = from.source === 'recording' ? recordingInLibrary(from.recording) : clipInLibrary(from.clip);
  if (!present) return db.prepare('DELETE FROM videos WHERE id = ?').bind(videoId);
  const view = libraryVideoView({ id: videoId, title: null, metadata: null }, from);
  return db
    .prepare(
      `INSERT INTO videos (id, workspace_id, source, status, created_at, stream_id, recording_id, clip_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status`,
    )
    .bind(videoId, workspaceId, from.source, view.status, view.createdAt, from.streamId, view.recordingId, view.clipId);
}

/** The library row of a recording or clip deleted through its own API (or with its stream's media). */
export const forgetLibraryRowStatement = (db: D1Database, sourceId: string): D1PreparedStatement =>
  db.prepare('DELETE FROM videos WHERE id = ?').bind(libraryVideoId(sourceId));

// ── /v1/videos for recording and clip videos (called by edge/routes/videos.ts) ─────────────────────

const streamObjectOf = (env: Env, streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId));

/** True for a row this file serves (a recording or clip video). */
export const isLibraryRow = (row: Pick<VideoIndexRow, 'source'>): boolean => row.source === 'recording' || row.source === 'clip';

/** The video of a recording or clip row, from its stream's object (kept after its stream was deleted); null: gone. */
export async function libraryVideo(env: Env, row: VideoIndexRow): Promise<Video | null> {
  return (await libraryVideos(env, [row])).get(row.id) ?? null;
}

/** The videos of several recording or clip rows (a list page): one call per stream object. */
export async function libraryVideos(env: Env, rows: VideoIndexRow[]): Promise<Map<string, Video>> {
  const byStream = new Map<string, VideoIndexRow[]>();
  for (const row of rows.filter(isLibraryRow)) {
    if (row.stream_id) byStream.set(row.stream_id, [...(byStream.get(row.stream_id) ?? []), row]);
  }
  const videos = new Map<string, Video>();
  await Promise.all(
    [...byStream].map(async ([streamId, streamRows]) => {
      const sources = (await streamObjectOf(env, streamId).librarySources(
        streamRows[0]!.workspace_id,
        streamRows.map((row) => ({ recordingId: row.recording_id, clipId: row.clip_id })),
      )) as (LibrarySource | null)[];
      streamRows.forEach((row, i) => {
        const from = sources[i];
        if (from) videos.set(row.id, libraryVideoView(row, from));
      });
    }),
  );
  return videos;
}

/** PATCH of a recording or clip video: title and metadata on its row; the updated video, null when gone. */
export async function updateLibraryVideo(env: Env, row: VideoIndexRow, patch: UpdateVideoRequest): Promise<Video | null> {
  const title = patch.title === undefined ? row.title : patch.title;
  const metadata = patch.metadata === undefined ? (row.metadata ?? null) : JSON.stringify(patch.metadata);
  await env.DB.prepare('UPDATE videos SET title = ?, metadata = ? WHERE id = ? AND workspace_id = ?')
    .bind(title, metadata, row.id, row.workspace_id)
    .run();
  return libraryVideo(env, { ...row, title, metadata });
}

/** DELETE of a recording or clip video: the recording or clip is deleted (its own delete path, media included). */
export async function deleteLibraryVideo(env: Env, row: VideoIndexRow): Promise<boolean> {
  if (!row.stream_id) return false;
  const object = streamObjectOf(env, row.stream_id);
  const deleted =
    row.source === 'recording' && row.recording_id
      ? await object.deleteRecording(row.workspace_id, row.recording_id)
      : row.source === 'clip' && row.clip_id
        ? await object.deleteClip(row.workspace_id, row.clip_id)
        : false;
  // The row goes with its recording or clip (their delete paths drop it); one left behind by a lost race goes too.
  if (!deleted) await env.DB.prepare('DELETE FROM videos WHERE id = ? AND workspace_id = ?').bind(row.id, row.workspace_id).run();
  return deleted;
}
