// The edge half of simulive (issue 12): a SIMULIVE event at LIVE has an origin broadcast its source as live on the
// event's stream. The source is a recording or a video of the library (issue 13: an upload or import, whose fast-start
// MP4 is `videos/{videoId}/video.mp4`, or a recording or clip video, a view of that recording's or clip's MP4). Checks
// the source (same workspace, ready, its MP4 in R2), picks an origin, and sends it POST /control/simulive with a media
// grant on the source and a one-time ticket for authorize (edge/event/simulive-ticket.ts).
import type { Env } from '../env.ts';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { recordingMp4Key, videoKeys, type SimuliveCommand } from '../../shared/schemas/internal.ts';
import type { SimuliveSource } from '../../shared/schemas/live-event.ts';
import type { VideoIndexRow } from '../video/library-rows.ts';
import { clipKeyPrefix, recordingKeyPrefix, sessionMediaPrefix } from '../stream-media-store.ts';
import { pickOrigin } from '../origin-registry.ts';
import { sendOriginCommand } from '../origin-commands.ts';
import { log } from '../log.ts';

/** The origin reads the source within this (download with retries, then the broadcast has a session grant of its own). */
const SOURCE_GRANT_TTL_MS = 3600_000;
/** Origins tried per dispatch: one refusing (full, shutting down, unreachable) hands the command to the next. */
const ORIGIN_ATTEMPTS = 3;

/** The request field a source came from: what a refusal names. */
export type SimuliveSourceField = 'simulive.recordingId' | 'simulive.videoId';

/** Where the MP4 of a ready source is, what the origin's grant must cover to read it, and its HLS for PLAYBACK mode. */
export type SimuliveMedia = { key: string; grantPrefix: string; hlsPrefix: string };

/**
 * A source as the index knows it (D1, the video's object), before looking at R2: `missing` (no such recording or
 * video in this workspace: bad input at create, gone at start) or `not_ready` (it exists but cannot play yet, or no
 * more: 409 `simulive-source-not-ready`). `detail` names the source and says why.
 */
export type SimuliveSourceState =
  | { state: 'ready'; field: SimuliveSourceField; media: SimuliveMedia }
  | { state: 'missing' | 'not_ready'; field: SimuliveSourceField; detail: string };

const recordingMedia = (recordingId: string, streamId: string, sessionId: string): SimuliveMedia => ({
  key: recordingMp4Key(recordingId),
  grantPrefix: `${recordingKeyPrefix(recordingId)}/`,
  hlsPrefix: sessionMediaPrefix(streamId, sessionId),
});

/** A recording as a source: of this workspace, not cleaned by retention, exportable (its MP4 is built). */
async function recordingState(db: D1Database, workspaceId: string, recordingId: string, field: SimuliveSourceField, named: string): Promise<SimuliveSourceState> {
  const row = await db
    .prepare('SELECT workspace_id, stream_id, session_id, exportable, cleaned FROM recordings WHERE id = ?')
    .bind(recordingId)
    .first<{ workspace_id: string; stream_id: string; session_id: string; exportable: number; cleaned: number }>();
  if (!row || row.workspace_id !== workspaceId) return { state: 'missing', field, detail: `${named} does not exist in this workspace` };
  if (row.cleaned) return { state: 'not_ready', field, detail: `${named} was deleted by the retention policy` };
  if (!row.exportable) return { state: 'not_ready', field, detail: `${named} is not exportable yet (its MP4 is still being built)` };
  return { state: 'ready', field, media: recordingMedia(recordingId, row.stream_id, row.session_id) };
}

/** A library video as a source: an upload or import once ready, or the recording or clip it is a view of. */
async function videoState(env: Pick<Env, 'DB' | 'VIDEOS'>, workspaceId: string, videoId: string): Promise<SimuliveSourceState> {
  const field = 'simulive.videoId';
  const row = await env.DB.prepare('SELECT * FROM videos WHERE id = ? AND workspace_id = ?').bind(videoId, workspaceId).first<VideoIndexRow>();
  if (!row) return { state: 'missing', field, detail: `video ${videoId} does not exist in this workspace` };
  if (row.source === 'recording' && row.recording_id) {
    return recordingState(env.DB, workspaceId, row.recording_id, field, `video ${videoId} (recording ${row.recording_id})`);
  }
  if (row.source === 'clip' && row.clip_id) {
    // A clip is in the library (has a row) once cut; the row's status follows it.
    if (row.status !== 'ready') return { state: 'not_ready', field, detail: `video ${videoId} (clip ${row.clip_id}) is ${row.status}, not ready` };
    const root = clipKeyPrefix(row.clip_id);
    return { state: 'ready', field, media: { key: `${root}/clip.mp4`, grantPrefix: `${root}/`, hlsPrefix: `${root}/hls` } };
  }
  // An upload or import: its own object is the truth (the D1 row is an index that may lag a step behind).
  const answer = await env.VIDEOS.get(env.VIDEOS.idFromName(videoId)).get(workspaceId);
  if (!answer.ok) return { state: 'missing', field, detail: `video ${videoId} does not exist in this workspace` };
  const { status } = answer.video;
  if (status !== 'ready') return { state: 'not_ready', field, detail: `video ${videoId} is ${status}, not ready (its MP4 is made by its processing)` };
  const keys = videoKeys(videoId);
  return { state: 'ready', field, media: { key: keys.mp4, grantPrefix: keys.prefix, hlsPrefix: keys.hls } };
}

/** Where a SIMULIVE event's source stands (create, /start and the dispatch all ask). */
export function simuliveSourceState(env: Pick<Env, 'DB' | 'VIDEOS'>, workspaceId: string, source: SimuliveSource): Promise<SimuliveSourceState> {
  if (source.videoId !== undefined) return videoState(env, workspaceId, source.videoId);
  const recordingId = source.recordingId ?? '';
  return recordingState(env.DB, workspaceId, recordingId, 'simulive.recordingId', `recording ${recordingId}`);
}

/** The source's HLS in R2 that PLAYBACK mode plays as the VOD (the EventDocument's simuliveSourcePrefix); null: none. */
export async function simuliveSourcePrefix(env: Pick<Env, 'DB' | 'VIDEOS'>, workspaceId: string, source: SimuliveSource): Promise<string | null> {
  const found = await simuliveSourceState(env, workspaceId, source);
  return found.state === 'ready' ? found.media.hlsPrefix : null;
}

export type SimuliveSourceCheck = { ok: true; media: SimuliveMedia } | { ok: false; detail: string };

/**
 * Whether `source` can be a simulive source for workspace `workspaceId` now: ready (above) and its MP4 in R2. `detail`
 * is for a 409 `simulive-source-not-ready`.
 */
export async function checkSimuliveSource(env: Pick<Env, 'DB' | 'MEDIA' | 'VIDEOS'>, workspaceId: string, source: SimuliveSource): Promise<SimuliveSourceCheck> {
  const found = await simuliveSourceState(env, workspaceId, source);
  if (found.state !== 'ready') return { ok: false, detail: found.detail };
  const mp4 = await env.MEDIA.head(found.media.key);
  if (!mp4) {
    const named = source.videoId !== undefined ? `video ${source.videoId}` : `recording ${source.recordingId}`;
    return { ok: false, detail: `${named} has no MP4 in storage (${found.media.key})` };
  }
  // No size bound here: the origin reads the source in ranges and holds it to its own SIMULIVE_MAX_SOURCE_BYTES and
  // free disk (origin/simulive/source-download.ts), reporting a refusal as the broadcast's failure.
  return { ok: true, media: found.media };
}

export type SimuliveDispatch =
  | { ok: true; originId: string }
  /** source_not_ready: will not change by retrying (end the event); no_origin: none took it now (retry later). */
  | { ok: false; code: 'source_not_ready' | 'no_origin'; detail: string };

/**
 * Starts the simulive broadcast of `source` on stream `streamId` (B's owed effect for `start_simulive`).
 *
 * Needs: the event's workspace (the source must be one of its recordings or videos), the stream's zone (origins of that region
 * only, as for encoders; null = any), and `issueTicket`, the StreamObject's `issueSimuliveTicket()` (a fresh one-time
 * ticket per origin tried; authorize admits protocol 'simulive' only with it). Resolves once an origin answered 202
 * (the broadcast's own publish then follows through authorize and the origin events) — or why not: retry
 * `no_origin` with backoff; `source_not_ready` will not get better by itself.
 */
export async function startSimulive(
  env: Pick<Env, 'DB' | 'MEDIA' | 'VIDEOS' | 'ORIGIN_SECRET'>,
  target: { streamId: string; workspaceId: string; source: SimuliveSource; zone: string | null },
  issueTicket: () => Promise<string>,
): Promise<SimuliveDispatch> {
  const checked = await checkSimuliveSource(env, target.workspaceId, target.source);
  if (!checked.ok) return { ok: false, code: 'source_not_ready', detail: checked.detail };
  const sourceId = target.source.videoId !== undefined ? { videoId: target.source.videoId } : { recordingId: target.source.recordingId! };
  const tried: string[] = [];
  const answers: string[] = [];
  for (let attempt = 0; attempt < ORIGIN_ATTEMPTS; attempt++) {
    const origin = await pickOrigin(env, { region: target.zone, exclude: tried });
    if (!origin) break;
    tried.push(origin.originId);
    const command: SimuliveCommand = {
      streamId: target.streamId,
      ticket: await issueTicket(),
      source: { ...sourceId, key: checked.media.key },
      grant: await issueMediaGrant(env.ORIGIN_SECRET, {
        originId: origin.originId,
        prefixes: [checked.media.grantPrefix],
        expiresAt: Date.now() + SOURCE_GRANT_TTL_MS,
      }),
    };
    try {
      const answer = await sendOriginCommand(env, origin.originId, origin.controlUrl, '/control/simulive', command);
      log('simulive_dispatched', { streamId: target.streamId, ...sourceId, originId: origin.originId, status: answer.status });
      if (answer.status === 202) return { ok: true, originId: origin.originId };
      // 409: that origin broadcasts the stream already (an earlier dispatch whose answer was lost): it is running.
      if (answer.status === 409) return { ok: true, originId: origin.originId };
      answers.push(`${origin.originId}: ${answer.status}`);
    } catch (error) {
      answers.push(`${origin.originId}: ${error instanceof Error ? error.name : 'unreachable'}`);
    }
  }
  const detail = tried.length === 0 ? 'no origin can take a broadcast now' : `no origin took the simulive broadcast (${answers.join(', ')})`;
  log('simulive_not_dispatched', { streamId: target.streamId, ...sourceId, detail });
  return { ok: false, code: 'no_origin', detail };
}
