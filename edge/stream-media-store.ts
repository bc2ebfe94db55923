// A StreamObject's sessions, recordings and clips: their rows in the object's SQLite, and their public shapes.
import type { SessionStats, RecordingArtifacts, ClipArtifacts } from '../shared/schemas/internal.ts';
import type { Session, Recording, Clip, MediaInfo, RecordingStatus } from '../shared/schemas/recording.ts';
import type { StreamDocument } from './live-stream-view.ts';
import { durableSessionPrefix } from '../shared/durable-media.ts';

export const MEDIA_TABLES = `
  CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, reconnects INTEGER NOT NULL,
    origin_id TEXT NOT NULL, origin_url TEXT NOT NULL, last_seen INTEGER, record INTEGER NOT NULL, stats TEXT);
  CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, playback_id TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, source_ready_at INTEGER, artifacts TEXT, error TEXT);
  CREATE TABLE IF NOT EXISTS media_retention (prefix TEXT PRIMARY KEY, delete_at INTEGER NOT NULL);
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

/** Where a recording's MP4 export stands: queued (no origin took it yet), running on export_origin, ready, failed. */
export type ExportStatus = 'queued' | 'running' | 'ready' | 'failed';

// A type alias (not an interface) so it satisfies SqlStorage's row constraint.
// `status` is the recording's playability: waiting (live) → processing (stopped, media being made final) → ready
// (watchable from the session's durable media) or failed (no media reached storage). The MP4 is export_*.
export type RecordingRow = {
  id: string;
  session_id: string;
  playback_id: string;
  status: RecordingStatus;
  created_at: number;
  updated_at: number;
  source_ready_at: number | null;
  /** the export's artifacts (mp4Key, screenshotKey, size, mediaInfo), once built */
  artifacts: string | null;
  error: string | null;
  /** the durable prefix its VOD HLS plays from (`live/{streamId}/{sessionId}`), set when it became watchable */
  media_prefix: string | null;
  watchable_at: number | null;
  /** seconds of media the origin reported durable (media_durable), before any MP4 measured it */
  durable_duration: number | null;
  export_status: ExportStatus | null;
  /** the origin the export job went to: only it may report the job's progress, result or failure */
  export_origin: string | null;
  export_progress: number | null;
  /** export jobs handed to an origin so far (a job that goes silent is handed out again, a bounded number of times) */
  export_jobs: number;
  /** when a running job that has not been heard from counts as lost (epoch ms) */
  export_deadline: number | null;
  /** when the running job was handed to export_origin (edge clock): its origin's later beats must list it */
  export_dispatched_at: number | null;
  export_error: string | null;
  /** when the workspace's retention cleans it (epoch ms, from the D1 index); null = kept */
  expires_at: number | null;
  cleaned_at: number | null;
};

/** Columns added to `recordings` after its first version, with their SQL types: added to older objects' tables. */
const RECORDING_COLUMNS_V2: [string, string][] = [
  ['media_prefix', 'TEXT'],
  ['watchable_at', 'INTEGER'],
  ['durable_duration', 'REAL'],
  ['export_status', 'TEXT'],
  ['export_origin', 'TEXT'],
  ['export_progress', 'REAL'],
  ['export_jobs', 'INTEGER NOT NULL DEFAULT 0'],
  ['export_deadline', 'INTEGER'],
  ['export_error', 'TEXT'],
  ['expires_at', 'INTEGER'],
  ['cleaned_at', 'INTEGER'],
];

/**
 * Brings an object's `recordings` table to the current columns (after MEDIA_TABLES). A recording made before durable
 * media was built by its origin in one go: a ready one is watchable and exportable from its own HLS and MP4.
 */
export function migrateMediaTables(sql: SqlStorage): void {
  const clipColumns = new Set(sql.exec<{ name: string }>('PRAGMA table_info(clips)').toArray().map((c) => c.name));
  if (!clipColumns.has('origin_id')) sql.exec('ALTER TABLE clips ADD COLUMN origin_id TEXT');
  const present = new Set(sql.exec<{ name: string }>('PRAGMA table_info(recordings)').toArray().map((c) => c.name));
  // Apart from RECORDING_COLUMNS_V2: adding it must not rerun the pre-durable-media conversion below.
  if (!present.has('export_dispatched_at')) sql.exec('ALTER TABLE recordings ADD COLUMN export_dispatched_at INTEGER');
  const missing = RECORDING_COLUMNS_V2.filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  for (const [name, type] of missing) sql.exec(`ALTER TABLE recordings ADD COLUMN ${name} ${type}`);
  for (const row of sql.exec<{ id: string; artifacts: string }>("SELECT id, artifacts FROM recordings WHERE status = 'ready' AND artifacts IS NOT NULL").toArray()) {
    const artifacts = JSON.parse(row.artifacts) as RecordingArtifacts;
    sql.exec(
      "UPDATE recordings SET media_prefix = ?, watchable_at = updated_at, export_status = 'ready', export_progress = 1 WHERE id = ?",
      artifacts.hlsPrefix,
      row.id,
    );
  }
}

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
  /** the origin the clip job went to: only it may report the clip ready or failed (null: clips cut before this column) */
  origin_id: string | null;
};

/** One recording per session; its id follows from the session's so the origin and the edge agree without asking. */
export const recordingIdFor = (sessionId: string): string => `rec_${sessionId.replace(/^ses_/, '')}`;
/** Where recordings made before durable media kept their HLS and MP4. */
export const legacyRecordingKeyPrefix = (streamId: string, sessionId: string): string => `recordings/${streamId}/${sessionId}`;
/** A recording's own objects (its MP4 and screenshot): the export job's output prefix. */
export const recordingKeyPrefix = (recordingId: string): string => `recordings/${recordingId}`;
/** A session's durable media in R2 without the trailing slash (a recording's mediaPrefix); layout in shared/durable-media.ts. */
export const sessionMediaPrefix = (streamId: string, sessionId: string): string => durableSessionPrefix(streamId, sessionId).replace(/\/$/, '');
export const clipKeyPrefix = (clipId: string): string => `clips/${clipId}`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A recording as the API shows it; `expiresAt` from the D1 index when the caller has it (a policy change lands there first). */
export function recordingView(row: RecordingRow, streamId: string, expiresAt: number | null = row.expires_at): Recording {
  const artifacts = row.artifacts ? (JSON.parse(row.artifacts) as RecordingArtifacts) : null;
  const cleaned = row.cleaned_at !== null;
  const watchable = row.watchable_at !== null && !cleaned;
  const exportable = row.export_status === 'ready' && artifacts !== null && !cleaned;
  const exporting = row.export_status === 'queued' || row.export_status === 'running';
  return {
    id: row.id,
    stream: streamId,
    sessionId: row.session_id,
    time: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    sourceReadyAt: iso(row.source_ready_at),
    duration: artifacts?.duration ?? row.durable_duration,
    size: exportable ? artifacts.size : null,
    queued: row.status === 'waiting' || row.status === 'processing' || (exporting && !cleaned),
    watchable,
    exportable,
    exportProgress: row.export_status === 'ready' ? 1 : row.export_progress,
    cleanable: expiresAt !== null,
    cleaned,
    expiresAt: iso(expiresAt),
    screenshot: exportable ? `/hls/${row.playback_id}/thumbnail.jpg` : null,
    error: row.error ?? row.export_error,
    mediaInfo: exportable ? ((artifacts.mediaInfo as MediaInfo | undefined) ?? null) : null,
    recordingStatus: row.status,
    playbackId: row.playback_id,
    recordingUrl: watchable ? `/hls/${row.playback_id}/master.m3u8` : null,
    mp4Url: exportable ? `/hls/${row.playback_id}/recording.mp4` : null,
  };
}

export function sessionView(row: SessionRow, doc: StreamDocument, recording: RecordingRow | undefined): Session {
  const stats = row.stats ? (JSON.parse(row.stats) as SessionStats) : null;
  const view = recording ? recordingView(recording, doc.streamId) : null;
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
    frameRate: stats?.frameRate ?? null,
    keyframeInterval: stats?.keyframeInterval ?? null,
    record: row.record === 1,
    // A recording cleaned by retention has no media left: as if the session had none.
    recordingStatus: !recording || view!.cleaned ? 'none' : view!.watchable ? 'ready' : recording.status === 'failed' ? 'failed' : 'waiting',
    recordingUrl: view?.recordingUrl ?? null,
    mp4Url: view?.mp4Url ?? null,
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
