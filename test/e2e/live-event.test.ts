// A scheduled live event end to end (issue 12, seed 003) with the real edge, a real origin, ffmpeg as the encoder and
// a real webhook receiver verifying every delivery with the standardwebhooks library: scheduled a few seconds ahead it
// is PREPARING, then WAIT_FOR_PREVIEW (encoders still refused); /preview lets the encoder in and the producer rehearses
// on the preview playback id while public viewers get 403 event-not-live; /start opens public playback without one
// rehearsal segment (judged by program date-time); /end makes the VOD of the live part only (ffprobe duration within
// 1 s of it); /cancel and /archive close it and the public id answers 410. Every status change arrives as a signed
// video.live_event.* webhook, in the machine's order, numbered with the stream's own sequence.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { ffprobe, publish, type Publisher } from '../support/encoder.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import {
  createLiveEvent,
  fetchSegment,
  liveEventBody,
  mustOperate,
  operateLiveEvent,
  playbackAnswer,
  problemTypeOf,
  statusRank,
  waitForEventStatus,
  waitForPlayback,
  type MediaPlaylist,
} from '../support/live-events.ts';
import { LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS, LIVE_EVENT_WEBHOOK_TYPES } from '../../shared/live-event-vocabulary.ts';

/** Half a 2 s segment, plus clock and rounding slack: the start boundary is the segment boundary nearest to LIVE. */
const BOUNDARY_MS = 1100;
/**
 * Where /start and /end fall, on purpose not on segment boundaries: LIVE 0.7 s into a segment (by the rehearsal's
 * program date-times) and a live part of 12.7 s, neither a whole number of 2 s segments. Rounding each end to its own
 * nearest boundary would make a 14 s VOD of it (start 0.7 s early, end 0.6 s late: 1.3 s off); the rule (the end
 * measured from the start boundary by the live part's length) makes 12 s, 0.7 s off.
 */
const START_PHASE_MS = 700;
const LIVE_PART_MS = 12_700;
const SEGMENT_MS = 2000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

let stack: Stack;
let receiver: WebhookReceiver;
let publisher: Publisher | null = null;
let event: any;
const figures: Record<string, number | string> = {};
/** what the test saw: the preview's playlist at /start, the times it sent /start and /end */
let rehearsal: MediaPlaylist;
let started: { event: any; sentAt: number; answeredAt: number };
let ended: { event: any; sentAt: number; answeredAt: number };

beforeAll(async () => {
  stack = await startStack({ edgeVars: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1' } });
  receiver = await startWebhookReceiver();
  // Every type, so the stream's own webhooks arrive too and the shared numbering can be checked.
  const endpoint = await stack.api('POST', '/webhooks', { url: receiver.url });
  expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
  receiver.secret = endpoint.body.data.secret;
  // An endpoint may subscribe to the event types by name: the filter knows them.
  const filtered = await stack.api('POST', '/webhooks', { url: `${receiver.url}/events`, eventTypes: LIVE_EVENT_WEBHOOK_TYPES, enabled: false });
  expect(filtered.status, JSON.stringify(filtered.body)).toBe(201);
});

afterAll(async () => {
  console.log(JSON.stringify({ figure: 'live_event_e2e', ...figures }));
  await publisher?.kill();
  await receiver?.close();
  await stack?.stop();
});

const ofEvent = () => receiver.received.filter((r) => r.body?.liveEventId === event?.eventId);

describe('a scheduled live event, from rehearsal to VOD', () => {
  it('scheduled 5 s ahead: PREPARING, then WAIT_FOR_PREVIEW once an origin can take it; an encoder is refused until /preview', async () => {
    event = await createLiveEvent(stack, liveEventBody({ broadcastMode: 'BROADCAST_MODE_DVR' }, 5000));
    expect(event.eventId).toMatch(/^le_/);
    expect(['LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW']).toContain(event.status);
    expect(event.playbackIds.public.id).not.toBe(event.playbackIds.preview.id);
    expect(event.playbackUrls.public).toBe(`${stack.edgeUrl}/hls/${event.playbackIds.public.id}/master.m3u8`);
    expect(event.ingest.rtmp.url).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live\/.+/);
    const stream = await stack.getStream(event.streamId);
    expect(stream.record).toBe(true);

    const ready = await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_WAIT_FOR_PREVIEW', 15_000);
    expect(ready.allowedOperations).toContain('preview');
    expect(ready.allowedOperations).not.toContain('start');

    // /start before /preview: refused, naming what the status allows.
    const early = await operateLiveEvent(stack, event.eventId, 'start');
    expect(early.status).toBe(409);
    expect(problemTypeOf(early.body)).toBe('operation-not-allowed');
    expect(early.body.allowedOperations).toEqual(['preview', 'cancel']);

    // An encoder before /preview is refused by the edge at authorize: ffmpeg fails, the stream never goes live.
    const refusedFrom = stack.originLogs.length;
    const tooEarly = publish(event.ingest.rtmp.url, { seconds: 30 });
    const code = await Promise.race([tooEarly.exited, new Promise((r) => setTimeout(() => r('still publishing'), 20_000))]);
    await tooEarly.kill();
    expect(code, tooEarly.output()).not.toBe(0);
    expect(code).not.toBe('still publishing');
    // The origin's log line may land a moment after ffmpeg saw the refusal.
    const refusal = await waitFor('the origin to log the refusal', async () =>
      stack.originLogs.slice(refusedFrom).find((l) => l.includes('publish_refused')), 5000).catch(() =>
      `no publish_refused line; ffmpeg: ${tooEarly.output().slice(-300)}; origin: ${stack.originLogs.slice(refusedFrom).slice(-5).join(' | ')}`);
    expect(refusal, 'the origin logs why it refused the publish').toContain('event_not_open');
    expect((await stack.getStream(event.streamId)).status).toBe('NOT_STARTED');

    const publicAnswer = await playbackAnswer(stack, event.playbackIds.public.id);
    expect(publicAnswer).toMatchObject({ ok: false, status: 403, problemType: 'event-not-live' });
  });

  it('/preview: the encoder publishes; the preview id plays while the public id gets 403 event-not-live', async () => {
    const preview = await mustOperate(stack, event.eventId, 'preview');
    expect(preview.event.status).toBe('LIVE_STATUS_PREVIEW');
    publisher = publish(event.ingest.rtmp.url, { size: '640x360' });
    await stack.waitForStatus(event.streamId, 'STREAMING', 20_000);
    const playing = await waitForPlayback(stack, event.playbackIds.preview.id, 1, 30_000);
    figures.previewToPreviewPlayableMs = Date.now() - preview.sentAt;

    const publicAnswer = await playbackAnswer(stack, event.playbackIds.public.id);
    expect(publicAnswer).toMatchObject({ ok: false, status: 403, problemType: 'event-not-live' });
    if (!publicAnswer.ok) expect(publicAnswer.detail).toContain('LIVE_STATUS_PREVIEW');

    const segment = playing.media.segments[0]!;
    expect(await fetchSegment(stack, playing.mediaUrl, segment)).toMatchObject({ status: 200 });
    expect(segment.programDateTime, 'segments carry EXT-X-PROGRAM-DATE-TIME').not.toBeNull();
    const probe = await ffprobe(`${stack.edgeUrl}/hls/${event.playbackIds.preview.id}/master.m3u8`);
    expect(probe.streams.some((s: any) => s.codec_type === 'video')).toBe(true);

    // About 6 s of rehearsal. When each segment is first listed (it closes as the next keyframe arrives) against the
    // end its PROGRAM-DATE-TIME gives: how far the playlist's clock is from the wall clock the operations use.
    const firstListed = new Map<string, number>();
    rehearsal = await waitFor(
      '6 s of rehearsal on the preview id',
      async () => {
        const answer = await playbackAnswer(stack, event.playbackIds.preview.id);
        if (answer.ok) for (const s of answer.media.segments) if (!firstListed.has(s.uri)) firstListed.set(s.uri, Date.now());
        return answer.ok && answer.media.duration >= 6 ? answer.media : undefined;
      },
      30_000,
    );
    figures.pdtEndMinusListedMs = Math.round(
      median(rehearsal.segments.slice(1).map((s) => s.programDateTime! + s.duration * 1000 - firstListed.get(s.uri)!)),
    );
  });

  it('/start: public playback opens, and its playlist lists no rehearsal segment', async () => {
    // /start START_PHASE_MS into a segment: the rehearsal's boundaries (program date-times, the clock the cut uses)
    // continue every 2 s after its last listed segment; the next one at least 300 ms away, plus the phase.
    const lastRehearsal = rehearsal.segments.at(-1)!;
    const rehearsalEnd = lastRehearsal.programDateTime! + lastRehearsal.duration * 1000;
    const boundaryAfter = (at: number) => rehearsalEnd + Math.ceil((at - rehearsalEnd) / SEGMENT_MS) * SEGMENT_MS;
    await new Promise((r) => setTimeout(r, Math.max(0, boundaryAfter(Date.now() + 300) + START_PHASE_MS - Date.now())));
    started = await mustOperate(stack, event.eventId, 'start');
    expect(started.event.status).toBe('LIVE_STATUS_LIVE');
    const liveStartedAt = Date.parse(started.event.liveStartedAt);
    expect(liveStartedAt).toBeGreaterThanOrEqual(started.sentAt - 50);
    expect(liveStartedAt).toBeLessThanOrEqual(started.answeredAt + 50);

    // The gate opens at once (the operation purges cached answers); the first segment is listed once it has closed.
    await waitFor('the public id to answer a playlist', async () => ((await playbackAnswer(stack, event.playbackIds.public.id)).ok ? true : undefined), 10_000);
    figures.startToPublicPlaylistMs = Date.now() - started.sentAt;
    const live = await waitForPlayback(stack, event.playbackIds.public.id, 1, 30_000);
    figures.startToPublicSegmentMs = Date.now() - started.sentAt;
    expect(live.media.endList).toBe(false);
    for (const segment of live.media.segments) {
      expect(segment.programDateTime, segment.uri).not.toBeNull();
      expect(segment.programDateTime!, `${segment.uri} starts before LIVE`).toBeGreaterThanOrEqual(liveStartedAt - BOUNDARY_MS);
    }
    figures.publicStartBoundaryMinusLiveStartedAtMs = live.media.segments[0]!.programDateTime! - liveStartedAt;
    const phase = (liveStartedAt - rehearsalEnd) % SEGMENT_MS;
    figures.liveStartedAtPhaseMs = phase < 0 ? phase + SEGMENT_MS : phase;
    // Segments the rehearsal had finished before /start (by their program date-time) are never listed to the public.
    const beforeLive = rehearsal.segments.filter((s) => s.programDateTime! + s.duration * 1000 <= liveStartedAt - BOUNDARY_MS);
    expect(beforeLive.length).toBeGreaterThanOrEqual(1);
    const listed = new Set(live.media.segments.map((s) => s.uri));
    for (const s of beforeLive) expect(listed.has(s.uri), `rehearsal segment ${s.uri} listed`).toBe(false);
    expect(live.media.mediaSequence).toBeGreaterThan(rehearsal.segments[0]!.sequence);
    expect(await fetchSegment(stack, live.mediaUrl, live.media.segments[0]!)).toMatchObject({ status: 200 });
    figures.rehearsalSegmentsHidden = beforeLive.length;
    // The producer's preview id still has the whole session, rehearsal included.
    const preview = await playbackAnswer(stack, event.playbackIds.preview.id);
    expect(preview.ok && preview.media.segments[0]!.uri).toBe(rehearsal.segments[0]!.uri);
  });

  it('DVR: ~12 s later the public playlist still starts where the event went LIVE; /end → ENCODING → VOD of the live part only', async () => {
    const liveStartedAt = Date.parse(started.event.liveStartedAt);
    const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
    await sleepUntil(started.sentAt + 11_000);
    const dvr = await playbackAnswer(stack, event.playbackIds.public.id);
    if (!dvr.ok) throw new Error(`the public id stopped playing while LIVE: ${JSON.stringify(dvr)}`);
    expect(Math.abs(dvr.media.segments[0]!.programDateTime! - liveStartedAt)).toBeLessThanOrEqual(BOUNDARY_MS);
    expect(dvr.media.duration).toBeGreaterThanOrEqual(8);

    // /end LIVE_PART_MS after /start was sent: not a whole number of segments. A VOD is whole segments, so it is off
    // by the rounding: within half a segment of the live part when its end is measured from the start boundary by the
    // live part's length (cutBetween), whatever the phase of either instant.
    await sleepUntil(started.sentAt + LIVE_PART_MS);
    ended = await mustOperate(stack, event.eventId, 'end');
    expect(['LIVE_STATUS_ENCODING', 'LIVE_STATUS_VOD']).toContain(ended.event.status);
    const liveEndedAt = Date.parse(ended.event.liveEndedAt);
    expect(liveEndedAt).toBeGreaterThanOrEqual(ended.sentAt - 50);
    expect(liveEndedAt).toBeLessThanOrEqual(ended.answeredAt + 50);
    // The encoder is let go: /end completes the stream's broadcast.
    const encoderExit = await Promise.race([publisher!.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('still publishing'), 15_000))]);
    expect(encoderExit).toBe('exited');
    publisher = null;

    const vodEvent = await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_VOD', 60_000);
    figures.endToVodMs = Date.now() - ended.sentAt;
    expect(vodEvent.status).toBe('LIVE_STATUS_VOD');

    const vod = await waitFor('the VOD through the public id', async () => {
      const answer = await playbackAnswer(stack, event.playbackIds.public.id);
      return answer.ok && answer.media.endList ? answer : undefined;
    }, 15_000);
    const livePart = (liveEndedAt - liveStartedAt) / 1000;
    const probe = await ffprobe(`${stack.edgeUrl}/hls/${event.playbackIds.public.id}/master.m3u8`);
    const duration = Number(probe.format.duration);
    Object.assign(figures, {
      livePartSeconds: livePart,
      livePartSecondsAsSent: (ended.sentAt - started.sentAt) / 1000,
      vodFfprobeSeconds: duration,
      vodPlaylistSeconds: Math.round(vod.media.duration * 1000) / 1000,
      vodFfprobeMinusLivePartSeconds: Math.round((duration - livePart) * 1000) / 1000,
    });
    const last = vod.media.segments.at(-1)!;
    Object.assign(figures, {
      vodStartMinusLiveStartedAtMs: vod.media.segments[0]!.programDateTime! - liveStartedAt,
      vodEndMinusLiveEndedAtMs: last.programDateTime! + last.duration * 1000 - liveEndedAt,
      vodSegmentDurations: vod.media.segments.map((s) => s.duration).join(' '),
    });
    console.log(`VOD ${duration.toFixed(3)} s (playlist ${vod.media.duration.toFixed(3)} s) for a live part of ${livePart.toFixed(3)} s`);
    expect(Math.abs(duration - livePart)).toBeLessThanOrEqual(1);
    // Each end within half a segment of its instant, the end also carrying the start's rounding (at most a segment).
    for (const segment of vod.media.segments) {
      expect(segment.programDateTime!).toBeGreaterThanOrEqual(liveStartedAt - BOUNDARY_MS);
      expect(segment.programDateTime! + segment.duration * 1000).toBeLessThanOrEqual(liveEndedAt + BOUNDARY_MS + 1000);
    }
    expect(await fetchSegment(stack, vod.mediaUrl, vod.media.segments.at(-1)!)).toMatchObject({ status: 200 });
  });

  it('/cancel → CLOSED, /archive → ARCHIVED: the public id answers 410 event-ended', async () => {
    const closed = await mustOperate(stack, event.eventId, 'cancel');
    expect(closed.event.status).toBe('LIVE_STATUS_CLOSED');
    expect(closed.event.allowedOperations).toEqual(expect.arrayContaining(['archive', 'reopen']));
    const archived = await mustOperate(stack, event.eventId, 'archive');
    expect(archived.event.status).toBe('LIVE_STATUS_ARCHIVED');
    expect(archived.event.allowedOperations).toEqual([]);
    const refusedAgain = await operateLiveEvent(stack, event.eventId, 'start');
    expect(refusedAgain.status).toBe(409);

    // Playback answers are cached for up to 2 s (LIVE_TTL_MS).
    const gone = await waitFor('410 on the public id', async () => {
      const answer = await playbackAnswer(stack, event.playbackIds.public.id);
      return answer.status === 410 ? answer : undefined;
    }, 10_000);
    expect(gone).toMatchObject({ ok: false, problemType: 'event-ended' });
    const previewGone = await playbackAnswer(stack, event.playbackIds.preview.id);
    expect(previewGone.status).toBe(410);
  });

  it('every status change is one signed video.live_event.* webhook, in the machine order, numbered with the stream', async () => {
    await waitFor('the archived webhook', async () => (ofEvent().some((r) => r.body.status === 'LIVE_STATUS_ARCHIVED') ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive by now
    const got = ofEvent().filter((r) => r.body.type !== 'video.live_event.created' && r.body.type !== 'video.live_event.updated');
    for (const r of got) expect(r.verified, r.verifyError).toBe(true);
    const statuses = got.map((r) => r.body.status);
    console.log(`event webhooks: ${got.map((r) => `${r.body.sequence}:${r.body.type}`).join(' ')}`);
    expect(statuses).toEqual([
      'LIVE_STATUS_PREPARING',
      'LIVE_STATUS_WAIT_FOR_PREVIEW',
      'LIVE_STATUS_PREVIEW',
      'LIVE_STATUS_LIVE',
      'LIVE_STATUS_ENCODING',
      'LIVE_STATUS_VOD',
      'LIVE_STATUS_CLOSED',
      'LIVE_STATUS_ARCHIVED',
    ]);
    const ranks = statuses.map(statusRank);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const sequences = got.map((r) => r.body.sequence);
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1]);
    expect(new Set(got.map((r) => r.id)).size).toBe(got.length);
    got.forEach((r, i) => {
      expect(r.id).toBe(r.body.id);
      expect(r.body).toMatchObject({
        type: LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS[r.body.status as keyof typeof LIVE_EVENT_WEBHOOK_TYPE_OF_STATUS],
        event: 'LIVE_EVENT',
        liveEventId: event.eventId,
        streamId: event.streamId,
      });
      expect(r.body.data.eventId).toBe(event.eventId);
      expect(r.body.data.status).toBe(r.body.status);
      if (i > 0) expect(r.body.previousStatus).toBe(statuses[i - 1]);
    });
    expect(got.map((r) => r.body.operation)).toEqual([null, null, 'preview', 'start', 'end', null, 'cancel', 'archive']);
    // One numbering per stream: the stream's webhooks and its event's never share a sequence number.
    // Together they are 1..N without a gap (any still in flight arrive within the wait).
    const numbers = await waitFor('the stream and event webhooks numbered 1..N', async () => {
      const seen = receiver.received.filter((r) => r.body?.streamId === event.streamId).map((r) => r.body.sequence as number);
      const sorted = [...seen].sort((a, b) => a - b);
      return sorted.every((n, i) => n === i + 1) ? sorted : undefined;
    }, 10_000).catch(() => receiver.received.filter((r) => r.body?.streamId === event.streamId).map((r) => r.body.sequence as number));
    expect(new Set(numbers).size, `sequences ${numbers.join(',')}`).toBe(numbers.length);
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers.map((_, i) => i + 1));
    expect(numbers.length).toBeGreaterThan(got.length);

    // The event's own timeline says the same.
    const timeline = (await stack.api('GET', `/live/events/${event.eventId}`)).body.data.activities.map((a: any) => a.status);
    expect(timeline.filter((s: string) => s !== 'LIVE_STATUS_SCHEDULED')).toEqual(statuses);
    Object.assign(figures, { eventWebhooks: got.length });
  });
});
