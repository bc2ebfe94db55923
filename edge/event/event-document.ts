// What a StreamObject stores about its stream's live event (issue 12), and the public LiveEvent shape built from it.
// The event lives inside its stream's object, so its document sits next to the stream's; its activities are rows of
// the object's `event_activities` table. Times in the state are epoch ms; the API answers ISO instants.
import type { LiveEvent, LiveEventActivity, LiveEventSecurity, SimuliveSource } from '../../shared/schemas/live-event.ts';
import type { LiveStream } from '../../shared/schemas/live-stream.ts';
import type { LiveEventOperation, LiveEventStatus } from '../../shared/live-event-vocabulary.ts';
import { allowedOperations, type EventState } from './event-machine.ts';

export interface EventDocument {
  eventId: string;
  workspaceId: string;
  streamId: string;
  name: string | null;
  customId: string | null;
  metadata: Record<string, string>;
  security: LiveEventSecurity;
  /** Opens to viewers at LIVE (C's gate decides what it plays when). */
  publicPlaybackId: string;
  /** The stream's own playback id: the producer's rehearsal and live view. */
  previewPlaybackId: string;
  /** The SIMULIVE source: a recording (`recordingId`) or a library video (`videoId`), exactly one. */
  simulive: SimuliveSource | null;
  /**
   * The source's HLS in R2, which PLAYBACK mode plays as the VOD (edge/event/simulive-dispatch.ts simuliveSourcePrefix):
   * a recording's session media (`live/{streamId}/{sessionId}`), an uploaded or imported video's `videos/{videoId}/hls`,
   * a clip's `clips/{clipId}/hls`.
   */
  simuliveSourcePrefix: string | null;
  resolution: LiveEvent['resolution'];
  state: EventState;
  createdAt: string;
  updatedAt: string;
}

/** One row of `event_activities`: a status change, numbered per event from 1. */
export type EventActivityRow = {
  sequence: number;
  status: string;
  operation: string | null;
  reason: string | null;
  at: string;
};

export const EVENT_TABLES = `
  CREATE TABLE IF NOT EXISTS event (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS event_activities (
    sequence INTEGER PRIMARY KEY, status TEXT NOT NULL, operation TEXT, reason TEXT, at TEXT NOT NULL,
    webhook_sequence INTEGER NOT NULL);
`;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const activityView = (row: EventActivityRow): LiveEventActivity => ({
  sequence: row.sequence,
  status: row.status as LiveEventStatus,
  operation: row.operation as LiveEventOperation | null,
  reason: row.reason,
  at: row.at,
});

/** Where a playback id plays: relative to the edge that answers (the route makes it absolute with its own origin). */
export const playbackUrlOf = (playbackId: string): string => `/hls/${playbackId}/master.m3u8`;

/**
 * The public LiveEvent. `stream` is the owned stream's view (its ingest URLs, without secrets: the create answer adds
 * them, like a stream's); a SIMULIVE event has no ingest of its own.
 */
export function liveEventView(doc: EventDocument, stream: Pick<LiveStream, 'ingest' | 'latencyMode'>, activities: EventActivityRow[]): LiveEvent {
  const { state } = doc;
  const accessPolicy = doc.security.accessPolicy;
  return {
    eventId: doc.eventId,
    name: doc.name,
    customId: doc.customId,
    type: state.type,
    broadcastMode: state.broadcastMode,
    resolution: doc.resolution,
    security: { accessPolicy, allowedDomains: doc.security.allowedDomains },
    // The stream's latency mode is the one truth (the origin reads it at authorize): low is ullEnabled.
    ullEnabled: stream.latencyMode === 'low',
    scheduledStartAt: iso(state.scheduledStartAt)!,
    scheduledEndAt: iso(state.scheduledEndAt),
    vod: { enabled: state.vod.enabled, startAt: iso(state.vod.startAt), endAt: iso(state.vod.endAt) },
    simulive: doc.simulive,
    streamId: doc.streamId,
    ingest: state.type === 'LIVE_TYPE_LIVE' ? stream.ingest : null,
    playbackIds: {
      public: { id: doc.publicPlaybackId, accessPolicy },
      preview: { id: doc.previewPlaybackId, accessPolicy },
    },
    playbackUrls: { public: playbackUrlOf(doc.publicPlaybackId), preview: playbackUrlOf(doc.previewPlaybackId) },
    status: state.status,
    allowedOperations: allowedOperations(state),
    liveStartedAt: iso(state.liveStartedAt),
    liveEndedAt: iso(state.liveEndedAt),
    activities: activities.map(activityView),
    metadata: doc.metadata,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}
