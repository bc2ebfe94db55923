// Simulive on the real stack (issue 12): a recorded broadcast's recording becomes exportable, a SIMULIVE event is made
// from it and started; the edge has an origin broadcast the recording's MP4 in real time through the ingest pipeline
// (authorize with the one-time ticket), viewers play the new session through the event's public playback id, and the
// event leaves LIVE by itself when the source has played to its end. The new session's recording lasts as the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { originLogEvents, recordingOf as readRecording } from '../support/stack-reads.ts';
import { publish, type Publisher } from '../support/encoder.ts';
import { createLiveEvent, fetchSegment, liveEventBody, mustOperate, waitForEventStatus, waitForPlayback } from '../support/live-events.ts';

const SECONDS = 12;

let stack: Stack;
let encoder: Publisher | null = null;
/** the exported source recording, shared by the two broadcasts of it */
let recording: any;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await encoder?.kill();
  await stack?.stop();
});

const figure = (name: string, value: unknown) => console.log(`[figure] simulive ${name}=${JSON.stringify(value)}`);

const recordingOf = (streamId: string) => readRecording(stack, streamId);

/** The origin's structured log lines of one event. */
const originEvents = (event: string) => originLogEvents(stack, event);

describe('simulive', () => {
  it('broadcasts a recording as live through an origin, plays it through the edge, and ends at the end of the source', async () => {
    // The source: a recorded broadcast, exported to MP4.
    const source = await stack.createStream({ record: true, reconnectWindow: 1 });
    encoder = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${source.streamKey}`, { seconds: SECONDS });
    await stack.waitForStatus(source.streamId, 'RECORDING', 30_000);
    expect(await encoder.exited).toBe(0);
    recording = await waitFor('the source recording to be exportable', async () => {
      const r = await recordingOf(source.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.exportable ? r : undefined;
    }, 60_000);
    const sourceSeconds = Number(recording.duration);
    expect(Math.abs(sourceSeconds - SECONDS)).toBeLessThan(1);

    // A SIMULIVE event of it, far from its scheduled start: it goes LIVE on /start.
    const event = await createLiveEvent(stack, liveEventBody({
      type: 'LIVE_TYPE_SIMULIVE',
      broadcastMode: 'BROADCAST_MODE_DVR',
      simulive: { recordingId: recording.id },
      vod: { enabled: false, startAt: null, endAt: null },
    }, 3600_000));
    expect(event.ingest).toBeNull();
    await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_WAIT_FOR_PREVIEW', 30_000);
    const { sentAt } = await mustOperate(stack, event.eventId, 'start');

    // Viewers get the new session's segments through the edge, stamped after the start (not the source's old times).
    const playing = await waitForPlayback(stack, event.playbackIds.public.id, 2, 40_000);
    figure('startToTwoSegmentsMs', Date.now() - sentAt);
    for (const segment of playing.media.segments) {
      expect(segment.programDateTime).not.toBeNull();
      expect(segment.programDateTime!).toBeGreaterThan(sentAt - 1000);
    }
    const fetched = await fetchSegment(stack, playing.mediaUrl, playing.media.segments[0]!);
    expect(fetched.status).toBe(200);
    expect(fetched.bytes).toBeGreaterThan(10_000);
    const live = await stack.getStream(event.streamId);
    expect(['ACTIVE', 'RECORDING']).toContain(live.status);

    // It ends by itself at the end of the source, in real time: not before the source's duration has played.
    const ended = await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_LIVE_END', 60_000);
    const liveMs = Date.parse(ended.liveEndedAt) - Date.parse(ended.liveStartedAt);
    figure('liveMs', liveMs);
    expect(liveMs).toBeGreaterThan((sourceSeconds - 1) * 1000);
    expect(liveMs).toBeLessThan((sourceSeconds + 20) * 1000);
    const finished = originEvents('simulive_finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ streamId: event.streamId, code: 0, stoppedFor: null });
    expect(originEvents('simulive_source_ready')[0]?.ms).toEqual(expect.any(Number));
    figure('sourceDownloadMs', originEvents('simulive_source_ready')[0]?.ms);

    // The broadcast was an ordinary recorded session: its recording lasts as long as the source.
    const copy = await waitFor('the simulive session\'s recording to be exportable', async () => {
      const r = await recordingOf(event.streamId);
      if (r?.recordingStatus === 'failed') throw new Error(`recording failed: ${r.error}`);
      return r?.exportable ? r : undefined;
    }, 60_000);
    figure('durations', { source: sourceSeconds, simulive: copy.duration });
    expect(Math.abs(Number(copy.duration) - sourceSeconds)).toBeLessThan(1);
  }, 115_000);

  it('stops the broadcast when the event is ended before its source is over', async () => {
    expect(recording?.exportable).toBe(true);
    const event = await createLiveEvent(stack, liveEventBody({
      type: 'LIVE_TYPE_SIMULIVE',
      broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE',
      simulive: { recordingId: recording.id },
      vod: { enabled: false, startAt: null, endAt: null },
    }, 3600_000));
    await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_WAIT_FOR_PREVIEW', 30_000);
    await mustOperate(stack, event.eventId, 'start');
    await waitForPlayback(stack, event.playbackIds.public.id, 1, 40_000);
    const { sentAt } = await mustOperate(stack, event.eventId, 'end');
    const ended = await waitForEventStatus(stack, event.eventId, 'LIVE_STATUS_LIVE_END', 10_000);
    // The edge's kick reaches the origin, which stops ffmpeg long before the source would have ended.
    const stopped = await waitFor('the origin to stop the simulive', async () => originEvents('simulive_finished').find((e) => e.streamId === event.streamId), 10_000);
    figure('endToStoppedMs', Date.now() - sentAt);
    expect(stopped.stoppedFor).toEqual(expect.any(String));
    expect(stopped.code).not.toBe(0);
    expect(Date.parse(ended.liveEndedAt) - Date.parse(ended.liveStartedAt)).toBeLessThan((Number(recording.duration) - 3) * 1000);
  }, 60_000);
});
