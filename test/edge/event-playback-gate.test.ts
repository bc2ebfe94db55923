// What a request on an event's playback IDs gets (edge/event/event-playback-gate.ts), one row per status and role.
import { describe, it, expect } from 'vitest';
import { gateEventPlayback, publicSegments, type EventPlaybackState } from '../../edge/event/event-playback-gate.ts';
import type { LiveEventStatus } from '../../shared/live-event-vocabulary.ts';

const START = Date.parse('2026-12-01T18:00:00.000Z');
const LIVE_AT = START + 5000;
const ENDED_AT = START + 3600_000;
const NOW = START + 7200_000;

function state(status: LiveEventStatus, patch: Partial<EventPlaybackState> = {}): EventPlaybackState {
  const wentLive = !['LIVE_STATUS_SCHEDULED', 'LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW', 'LIVE_STATUS_PREVIEW'].includes(status);
  return {
    role: 'public',
    status,
    type: 'LIVE_TYPE_LIVE',
    broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE',
    accessPolicy: 'public',
    allowedDomains: [],
    scheduledStartAt: START,
    liveStartedAt: wentLive ? LIVE_AT : null,
    liveEndedAt: wentLive && status !== 'LIVE_STATUS_LIVE' ? ENDED_AT : null,
    liveSessionId: wentLive ? 'ses_live' : null,
    vod: { startAt: null, endAt: null },
    simuliveSourcePrefix: null,
    ...patch,
  };
}

describe('the public playback ID', () => {
  it.each(['LIVE_STATUS_SCHEDULED', 'LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW', 'LIVE_STATUS_PREVIEW'] as const)(
    '%s: 403 event-not-live, naming the status and the scheduled start',
    (status) => {
      expect(gateEventPlayback(state(status), NOW, null)).toEqual({
        kind: 'refuse',
        httpStatus: 403,
        type: 'event-not-live',
        detail: `this event is not live yet (${status}); it is scheduled to start at 2026-12-01T18:00:00.000Z`,
      });
    },
  );

  it('LIVE, TRADITIONAL_LIVE: the sliding window, from the go-live moment', () => {
    expect(gateEventPlayback(state('LIVE_STATUS_LIVE'), NOW, null)).toEqual({ kind: 'live', window: { type: 'sliding', fromMs: LIVE_AT } });
  });

  it('LIVE, DVR: everything since the go-live moment', () => {
    expect(gateEventPlayback(state('LIVE_STATUS_LIVE', { broadcastMode: 'BROADCAST_MODE_DVR' }), NOW, null)).toEqual({
      kind: 'live',
      window: { type: 'dvr', fromMs: LIVE_AT },
    });
  });

  it('ENCODING: 403 event-vod-not-open (seconds, while the session’s media becomes final)', () => {
    const answer = gateEventPlayback(state('LIVE_STATUS_ENCODING'), NOW, null);
    expect(answer).toMatchObject({ kind: 'refuse', httpStatus: 403, type: 'event-vod-not-open' });
  });

  it('VOD_READY before its window: 403 event-vod-not-open naming vod.startAt; once it has begun, the VOD', () => {
    const ready = state('LIVE_STATUS_VOD_READY', { vod: { startAt: NOW + 60_000, endAt: null } });
    expect(gateEventPlayback(ready, NOW, null)).toEqual({
      kind: 'refuse',
      httpStatus: 403,
      type: 'event-vod-not-open',
      detail: "this event's VOD opens at 2026-12-01T20:01:00.000Z",
    });
    expect(gateEventPlayback(ready, NOW + 60_000, null)).toEqual({ kind: 'vod', sessionId: 'ses_live', fromMs: LIVE_AT, toMs: ENDED_AT });
  });

  it('VOD: the live part of its session; 410 once vod.endAt has passed', () => {
    const vod = state('LIVE_STATUS_VOD', { vod: { startAt: null, endAt: NOW + 1000 } });
    expect(gateEventPlayback(vod, NOW, null)).toEqual({ kind: 'vod', sessionId: 'ses_live', fromMs: LIVE_AT, toMs: ENDED_AT });
    expect(gateEventPlayback(vod, NOW + 1000, null)).toMatchObject({ kind: 'refuse', httpStatus: 410, type: 'event-ended' });
  });

  it('VOD of an event that never had media: 404', () => {
    expect(gateEventPlayback(state('LIVE_STATUS_VOD', { liveSessionId: null }), NOW, null)).toMatchObject({ kind: 'refuse', httpStatus: 404 });
  });

  it.each(['LIVE_STATUS_LIVE_END', 'LIVE_STATUS_CLOSED', 'LIVE_STATUS_ARCHIVED'] as const)('%s: 410 event-ended', (status) => {
    expect(gateEventPlayback(state(status), NOW, null)).toEqual({
      kind: 'refuse',
      httpStatus: 410,
      type: 'event-ended',
      detail: `this event has ended (${status}); it no longer plays`,
    });
  });

  it('PLAYBACK mode (simulive): the source VOD once started, refused before', () => {
    const playback = { type: 'LIVE_TYPE_SIMULIVE', broadcastMode: 'BROADCAST_MODE_PLAYBACK', simuliveSourcePrefix: 'live/ls_src/ses_src' } as const;
    expect(gateEventPlayback(state('LIVE_STATUS_LIVE', playback), NOW, null)).toEqual({ kind: 'source-vod', prefix: 'live/ls_src/ses_src' });
    expect(gateEventPlayback(state('LIVE_STATUS_WAIT_FOR_PREVIEW', playback), NOW, null)).toMatchObject({ type: 'event-not-live' });
  });
});

describe('the preview playback ID', () => {
  it.each(['LIVE_STATUS_PREPARING', 'LIVE_STATUS_PREVIEW', 'LIVE_STATUS_LIVE', 'LIVE_STATUS_ENCODING', 'LIVE_STATUS_VOD', 'LIVE_STATUS_LIVE_END'] as const)(
    '%s: the whole session (the route answers not-live when the stream has none)',
    (status) => {
      expect(gateEventPlayback(state(status, { role: 'preview' }), NOW, null)).toEqual({ kind: 'live', window: { type: 'dvr', fromMs: null } });
    },
  );

  it.each(['LIVE_STATUS_CLOSED', 'LIVE_STATUS_ARCHIVED'] as const)('%s: 410 event-ended', (status) => {
    expect(gateEventPlayback(state(status, { role: 'preview' }), NOW, null)).toMatchObject({ kind: 'refuse', httpStatus: 410, type: 'event-ended' });
  });
});

describe('allowed domains', () => {
  const restricted = state('LIVE_STATUS_LIVE', { allowedDomains: ['example.com', '*.example.org'] });
  it('a page on an allowed domain plays', () => {
    expect(gateEventPlayback(restricted, NOW, 'player.example.org')).toMatchObject({ kind: 'live' });
    expect(gateEventPlayback(restricted, NOW, 'example.com')).toMatchObject({ kind: 'live' });
  });
  it('another page, or none named: 403 domain-not-allowed, before any status answer', () => {
    expect(gateEventPlayback(restricted, NOW, 'evil.test')).toEqual({
      kind: 'refuse',
      httpStatus: 403,
      type: 'domain-not-allowed',
      detail: 'this event does not play on evil.test: not one of its allowed domains',
    });
    expect(gateEventPlayback(restricted, NOW, null)).toMatchObject({ type: 'domain-not-allowed' });
    expect(gateEventPlayback({ ...restricted, status: 'LIVE_STATUS_SCHEDULED' }, NOW, 'evil.test')).toMatchObject({ type: 'domain-not-allowed' });
    expect(gateEventPlayback({ ...restricted, role: 'preview' }, NOW, 'evil.test')).toMatchObject({ type: 'domain-not-allowed' });
  });
});

describe("the public ID's segments (publicSegments)", () => {
  // A rehearsal on leg a1b2c3 (segments 0-4), an encoder reconnect (leg d4e5f6 from 0) after the go-live at 10 s.
  const T = START;
  const seg = (leg: string, n: number, atMs: number, discontinuity = false) => [
    ...(discontinuity ? ['#EXT-X-DISCONTINUITY'] : []),
    '#EXTINF:2.000000,',
    `#EXT-X-PROGRAM-DATE-TIME:${new Date(atMs).toISOString().replace('Z', '+0000')}`,
    `${leg}-${String(n).padStart(5, '0')}.ts`,
  ];
  const playlist = [
    '#EXTM3U',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-MEDIA-SEQUENCE:0',
    ...Array.from({ length: 8 }, (_, i) => seg('a1b2c3', i, T + i * 2000)).flat(),
    ...Array.from({ length: 3 }, (_, i) => seg('d4e5f6', i, T + 20_000 + i * 2000, i === 0)).flat(),
    '',
  ].join('\n');

  it('LIVE: listed from the go-live boundary on, and the next of a leg on the air; never the rehearsal or an unknown leg', () => {
    const live = publicSegments(playlist, { fromMs: T + 10_400, toMs: null }); // nearest boundary: segment 5 (10 s)
    expect(live.allows('a1b2c3-00004.ts')).toBe(false);
    expect(live.allows('a1b2c3-00000.ts')).toBe(false);
    for (const listed of ['a1b2c3-00005.ts', 'a1b2c3-00007.ts', 'd4e5f6-00000.ts', 'd4e5f6-00002.ts']) expect(live.allows(listed)).toBe(true);
    expect(live.allows('d4e5f6-00003.ts')).toBe(true); // newer than the list: the next segment of the leg on the air
    expect(live.allows('ffffff-00009.ts')).toBe(false);
    expect(live.allows('index.m3u8')).toBe(false);
    expect(live.allows('a1b2c3-00004.ts?x')).toBe(false);
  });
  it('LIVE before any segment reaches the go-live: nothing', () => {
    const early = publicSegments(playlist, { fromMs: T + 60_000, toMs: null });
    for (const name of ['a1b2c3-00007.ts', 'd4e5f6-00002.ts', 'd4e5f6-00003.ts']) expect(early.allows(name)).toBe(false);
  });
  it('VOD: only between the boundaries, nothing newer than its final list', () => {
    const vod = publicSegments(playlist, { fromMs: T + 10_000, toMs: T + 21_600 }); // segments 5, 6, 7 and d4e5f6-0 until 22 s
    expect(['a1b2c3-00004.ts', 'a1b2c3-00005.ts', 'a1b2c3-00007.ts', 'd4e5f6-00000.ts', 'd4e5f6-00001.ts', 'd4e5f6-00003.ts'].map((n) => vod.allows(n))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});
