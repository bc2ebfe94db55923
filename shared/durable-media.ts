// The layout of a session's durable media in R2, which the origin writes and the edge (playback, recordings) reads:
// `live/{streamId}/{sessionId}/` with master.m3u8, ladder.json, session.json, and per rendition its durable playlist
// `{rendition}/index.m3u8` (only segments already stored; EVENT; ENDLIST once final) and its segments.

export const durableSessionPrefix = (streamId: string, sessionId: string): string => `live/${streamId}/${sessionId}/`;

/** The session-level files of the timeline, uploaded once and again whenever they change. */
export const DURABLE_TIMELINE_FILES = ['master.m3u8', 'ladder.json', 'session.json'] as const;
/** A rendition's durable playlist, relative to the session prefix. */
export const durablePlaylistKey = (rendition: string): string => `${rendition}/index.m3u8`;

/**
 * A segment's file name: `{legTag}-{nnnnn}.ts`, legTag 6 lowercase hex chosen per ffmpeg launch (one leg), the number
 * the playlist's media sequence. Unique across legs, so no cache ever holds two bodies under one name.
 */
export const SEGMENT_NAME = /^([0-9a-f]{6})-(\d{5,})\.ts$/;
export const LEG_TAG = /^[0-9a-f]{6}$/;
