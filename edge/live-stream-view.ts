// Turns a StreamObject's stored document into the public LiveStream shape (ingest URLs, playback IDs, settings).
import type { LiveStream, Activity, Profile, PlaylistWindow, LatencyMode } from '../shared/schemas/live-stream.ts';
import type { LifecycleState } from './lifecycle.ts';
import type { Env } from './env.ts';

export interface StreamSettings {
  metadata: Record<string, string>;
  reconnectWindow: number;
  record: boolean;
  maxResolution: LiveStream['maxResolution'];
  profiles: Profile[] | null;
  srtLatency: number;
  /** The zone the stream is ingested in (absent in documents older than zones: none). */
  zone?: string | null;
  /** That zone's ingest host, resolved when the zone was set (GET /v1/zones); null: the default INGEST_HOST. */
  zoneIngestHost?: string | null;
  /** What viewers' live playlists list (absent in documents older than it: the default, 'sliding'). */
  playlistWindow?: PlaylistWindow;
  /** Standard HLS or LL-HLS (issue 15; absent in documents older than it: 'standard'); fixed while live. */
  latencyMode?: LatencyMode;
}

/** What one StreamObject stores about its stream; secrets never leave the edge except through the ingest API. */
export interface StreamDocument {
  streamId: string;
  workspaceId: string;
  keyHash: string;
  srtSecret: string;
  playbackIds: { id: string; accessPolicy: 'public' | 'private' }[];
  settings: StreamSettings;
  lifecycle: LifecycleState;
  createdAt: string;
  updatedAt: string;
}

export type IngestEndpoints = Pick<Env, 'INGEST_HOST' | 'RTMP_PORT' | 'RTMPS_PORT' | 'SRT_PORT'>;

export const srtStreamIdFor = (streamKey: string): string => `#!::r=${streamKey},m=publish`;

export function ingestFor(
  endpoints: IngestEndpoints,
  srtLatency: number,
  secrets?: { streamKey: string; srtSecret: string },
): LiveStream['ingest'] {
  const host = endpoints.INGEST_HOST;
  const rtmpServer = `rtmp://${host}:${endpoints.RTMP_PORT}/live`;
  const rtmpsServer = `rtmps://${host}:${endpoints.RTMPS_PORT}/live`;
  const srtPort = Number(endpoints.SRT_PORT);
  const srtBase = `srt://${host}:${srtPort}`;
  if (!secrets) {
    return {
      rtmp: { url: rtmpServer, serverUrl: rtmpServer },
      rtmps: { url: rtmpsServer, serverUrl: rtmpsServer },
      srt: { url: srtBase, host, port: srtPort, streamId: srtStreamIdFor('{streamKey}'), latency: srtLatency },
    };
  }
  const streamId = srtStreamIdFor(secrets.streamKey);
  // ffmpeg and OBS read the SRT `latency` URL option in microseconds.
  const query = new URLSearchParams({
    streamid: streamId,
    passphrase: secrets.srtSecret,
    latency: String(srtLatency * 1000),
    mode: 'caller',
  });
  return {
    rtmp: { url: `${rtmpServer}/${secrets.streamKey}`, serverUrl: rtmpServer, streamKey: secrets.streamKey },
    rtmps: { url: `${rtmpsServer}/${secrets.streamKey}`, serverUrl: rtmpsServer, streamKey: secrets.streamKey },
    srt: {
      url: `${srtBase}?${query.toString()}`,
      host,
      port: srtPort,
      streamId,
      passphrase: secrets.srtSecret,
      latency: srtLatency,
    },
  };
}

/** The endpoints encoders are told: the stream's zone's ingest host when it has one, the default otherwise. */
export function zoneEndpoints(endpoints: IngestEndpoints, settings: Pick<StreamSettings, 'zoneIngestHost'>): IngestEndpoints {
  return settings.zoneIngestHost ? { ...endpoints, INGEST_HOST: settings.zoneIngestHost } : endpoints;
}

export function liveStreamView(
  doc: StreamDocument,
  endpoints: IngestEndpoints,
  extras: { activities?: Activity[]; secrets?: { streamKey: string; srtSecret: string } } = {},
): LiveStream {
  const { lifecycle, settings } = doc;
  const session = lifecycle.session;
  return {
    streamId: doc.streamId,
    status: lifecycle.status,
    enabled: lifecycle.enabled,
    ...(extras.secrets ? { streamKey: extras.secrets.streamKey, srtSecret: extras.secrets.srtSecret } : {}),
    ingest: ingestFor(zoneEndpoints(endpoints, settings), settings.srtLatency, extras.secrets),
    playbackIds: doc.playbackIds,
    reconnectWindow: settings.reconnectWindow,
    record: settings.record,
    metadata: settings.metadata,
    maxResolution: settings.maxResolution,
    profiles: settings.profiles,
    srtLatency: settings.srtLatency,
    zone: settings.zone ?? null,
    playlistWindow: settings.playlistWindow ?? 'sliding',
    latencyMode: settings.latencyMode ?? 'standard',
    ...(extras.activities ? { activities: extras.activities } : {}),
    currentSession:
      session && (lifecycle.status === 'STREAMING' || lifecycle.status === 'RECORDING' || lifecycle.status === 'DISCONNECTED')
        ? {
            id: session.id,
            startedAt: new Date(session.startedAt).toISOString(),
            reconnects: session.reconnects,
            lastSeen: session.lastSeen === null ? null : new Date(session.lastSeen).toISOString(),
          }
        : null,
    errorReason: lifecycle.errorReason,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}
