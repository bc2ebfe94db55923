// A StreamObject's sessions, recordings and clips: their rows in the object's SQLite, and their public shapes.
import type { SessionStats, RecordingArtifacts, ClipArtifacts } from '../shared/schemas/internal.ts';
import type { Session, Recording, Clip, MediaInfo, RecordingStatus } from '../shared/schemas/recording.ts';
import type { StreamDocument } from './live-stream-view.ts';

export const MEDIA_TABLES = `
  CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, reconnects INTEGER NOT NULL,
    origin_id TEXT NOT NULL, origin_url TEXT NOT NULL, last_seen INTEGER, record INTEGER NOT NULL, stats TEXT);
  CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, playback_id TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, source_ready_at INTEGER, artifacts TEXT, error TEXT);
  CREATE TABLE IF NOT EXISTS clips (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, playback_id TEXT NOT NULL, name TEXT, status TEXT NOT NULL,
    start_time REAL NOT NULL, end_time REAL NOT NULL, accurate INTEGER NOT NULL, artifacts TEXT, error TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
`;

// A type alias (not an interface) so it satisfies SqlStorage's row constraint.
export type SessionRow = {
  id: string;
  started_at: number;
  ended_at: number | null;
  reconnects: number;
  origin_id: string;
  origin_url: string;
  last_seen: number | null;
  record: number;
  stats: string | null;
};

// A type alias (not an interface) so it satisfies SqlStorage's row constraint.
export type RecordingRow = {
  id: string;
  session_id: string;
  playback_id: string;
  status: RecordingStatus;
  created_at: number;
  updated_at: number;
  source_ready_at: number | null;
  artifacts: string | null;
  error: string | null;
};

// A type alias (not an interface) so it satisfies SqlStorage's row constraint.
export type ClipRow = {
  id: string;
  session_id: string;
  playback_id: string;
  name: string | null;
  status: Clip['status'];
  start_time: number;
  end_time: number;
  accurate: number;
  artifacts: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
};

/** One recording per session; its id follows from the session's so the origin and the edge agree without asking. */
export const recordingIdFor = (sessionId: string): string => `rec_${sessionId.replace(/^ses_/, '')}`;
export const recordingKeyPrefix = (streamId: string, sessionId: string): string => `recordings/${streamId}/${sessionId}`;
export const clipKeyPrefix = (clipId: string): string => `clips/${clipId}`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function recordingView(row: RecordingRow, streamId: string): Recording {
  const artifacts = row.artifacts ? (JSON.parse(row.artifacts) as RecordingArtifacts) : null;
  const ready = row.status === 'ready' && artifacts !== null;
  return {
    id: row.id,
    stream: streamId,
    sessionId: row.session_id,
    time: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    sourceReadyAt: iso(row.source_ready_at),
    duration: artifacts?.duration ?? null,
    size: artifacts?.size ?? null,
    queued: row.status === 'waiting' || row.status === 'processing',
    watchable: ready,
    exportable: ready,
    screenshot: ready ? `/hls/${row.playback_id}/thumbnail.jpg` : null,
    error: row.error,
    mediaInfo: (artifacts?.mediaInfo as MediaInfo | undefined) ?? null,
    recordingStatus: row.status,
    playbackId: row.playback_id,
    recordingUrl: ready ? `/hls/${row.playback_id}/master.m3u8` : null,
    mp4Url: ready ? `/hls/${row.playback_id}/recording.mp4` : null,
  };
}

export function sessionView(row: SessionRow, doc: StreamDocument, recording: RecordingRow | undefined): Session {
  const stats = row.stats ? (JSON.parse(row.stats) as SessionStats) : null;
  const ready = recording?.status === 'ready';
  return {
    id: row.id,
    name: doc.settings.metadata.livestream_name ?? `${doc.streamId} ${new Date(row.started_at).toISOString()}`,
    parentId: doc.streamId,
    createdAt: row.started_at,
    startedAt: iso(row.started_at)!,
    endedAt: iso(row.ended_at),
    lastSeen: row.last_seen,
    reconnects: row.reconnects,
    sourceSegments: stats?.sourceSegments ?? 0,
    transcodedSegments: stats?.transcodedSegments ?? 0,
    sourceSegmentsDuration: stats?.sourceSegmentsDuration ?? 0,
    transcodedSegmentsDuration: stats?.transcodedSegmentsDuration ?? 0,
    sourceBytes: stats?.sourceBytes ?? 0,
    transcodedBytes: stats?.transcodedBytes ?? 0,
    ingestRate: stats?.ingestRate ?? 0,
    outgoingRate: stats?.outgoingRate ?? 0,
    isHealthy: stats?.isHealthy ?? null,
    issues: stats?.issues ?? null,
    record: row.record === 1,
    recordingStatus: !recording ? 'none' : ready ? 'ready' : recording.status === 'failed' ? 'failed' : 'waiting',
    recordingUrl: ready ? `/hls/${recording!.playback_id}/master.m3u8` : null,
    mp4Url: ready ? `/hls/${recording!.playback_id}/recording.mp4` : null,
    playbackId: recording?.playback_id ?? doc.playbackIds[0]!.id,
    profiles: doc.settings.profiles,
  };
}

export function clipView(row: ClipRow, streamId: string): Clip {
  const artifacts = row.artifacts ? (JSON.parse(row.artifacts) as ClipArtifacts) : null;
  return {
    id: row.id,
    livestreamId: streamId,
    sessionId: row.session_id,
    name: row.name,
    status: row.status,
    startTime: row.start_time,
    endTime: row.end_time,
    accurate: row.accurate === 1,
    duration: artifacts?.duration ?? null,
    actualStartTime: artifacts?.actualStart ?? null,
    actualEndTime: artifacts?.actualEnd ?? null,
    size: artifacts?.size ?? null,
    playbackId: row.playback_id,
    playbackUrl: `/hls/${row.playback_id}/master.m3u8`,
    mp4Url: `/hls/${row.playback_id}/clip.mp4`,
    error: row.error,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}
