// The live event inside its stream's StreamObject (issue 12), driven through the real object in workerd: its RPC, the
// ingest authorize route, origin events, and alarms run with runDurableObjectAlarm. Webhooks are read where the Queue
// consumer puts them (D1 webhook_events), so their order and the one per-stream sequence are checked end to end.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { api, authorize, createWorkspace, json, originEvent, sendEvents, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';
import { createEventViaRpc } from './event-rpc.ts';
import { PREPARE_AHEAD_MS } from '../../shared/live-event-vocabulary.ts';
import type { CreateLiveEventRequest } from '../../shared/schemas/live-event.ts';
import type { StreamObject } from '../../edge/stream-object.ts';
import type { EventCommandResult } from '../../edge/event/event-flow.ts';

// Recordings settle in the background (finalize asked of an origin that is gone, then R2 read): seconds, not 5.
vi.setConfig({ testTimeout: 20_000 });

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('live-events');
});

const stub = (streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId));
/** The object's RPC, typed as the class (the stub's own types go too deep for the compiler here). */
const object = (streamId: string) => stub(streamId) as unknown as StreamObject;
/** Runs inside the object (its private parts reached as `any`: the stub's own types go too deep here as well). */
const inObject = <R>(streamId: string, run: (o: any, state: DurableObjectState) => R | Promise<R>): Promise<R> =>
  runInDurableObject(stub(streamId) as any, run as any) as Promise<R>;
const HOUR = 3600_000;

/** Makes the test origin able to take work (healthy, announced) or not (silent for a minute). */
async function originReady(ready: boolean) {
  if (ready) expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200);
  else await env.DB.prepare('UPDATE origins SET announced_at = ? WHERE id = ?').bind(Date.now() - 60_000, ORIGIN.originId).run();
}

function request(overrides: Partial<CreateLiveEventRequest> = {}): CreateLiveEventRequest {
  return {
    type: 'LIVE_TYPE_LIVE',
    broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE',
    resolution: '720p',
    security: { accessPolicy: 'public', allowedDomains: [] },
    ullEnabled: false,
    scheduledStartAt: new Date(Date.now() + HOUR).toISOString(),
    vod: { enabled: false, startAt: null, endAt: null },
    metadata: {},
    ...overrides,
  };
}

/** An event and its stream through the object's RPC (what A's route calls), with the key an encoder would use. */
const createEvent = (overrides: Partial<CreateLiveEventRequest> = {}) => createEventViaRpc(ws.id, request(overrides), { record: false });

type Created = Awaited<ReturnType<typeof createEvent>>;

const getEvent = async (e: Created) => (await object(e.streamId).getEvent(ws.id, e.eventId))!;
const operate = (e: Created, op: 'preview' | 'start' | 'end' | 'cancel' | 'archive' | 'reopen', body: { scheduledStartAt?: string } = {}) =>
  object(e.streamId).eventOperation(ws.id, e.eventId, op, body) as Promise<EventCommandResult>;

async function ok(result: Promise<EventCommandResult>) {
  const answer = await result;
  if (!answer.ok) throw new Error(`refused: ${JSON.stringify(answer)}`);
  return answer.event;
}

const alarmAt = (streamId: string) => inObject(streamId, (_o, state) => state.storage.getAlarm());
const eventDeadline = (streamId: string) => inObject(streamId, (o) => o.eventFlow.nextDeadline(Date.now()) as number | null);

/** The object's alarm as the platform would fire it at `at` (hours ahead): the object takes its scheduled time as now. */
async function alarmAsAt(streamId: string, at: number) {
  await inObject(streamId, async (o, state) => {
    o.sql.exec('UPDATE stream SET alarm_at = ? WHERE id = 1', at);
    await state.storage.setAlarm(at);
  });
  expect(await runDurableObjectAlarm(stub(streamId))).toBe(true);
}
const streamOf = async (e: Created) => (await json(await api(ws, 'GET', `/live/streams/${e.streamId}`))).data;

/** The webhooks the Queue consumer recorded for the stream, once `count` are there (or after 5 s). */
async function webhooks(streamId: string, count: number): Promise<any[]> {
  let rows: { body: string }[] = [];
  for (let i = 0; i < 50 && rows.length < count; i++) {
    await new Promise((r) => setTimeout(r, 100));
    rows = (await env.DB.prepare('SELECT body FROM webhook_events WHERE stream_id = ? ORDER BY sequence').bind(streamId).all<{ body: string }>()).results;
  }
  return rows.map((r) => JSON.parse(r.body));
}

async function until(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 50; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A LIVE-type event in PREVIEW with an encoder publishing: its session. */
async function previewing(overrides: Partial<CreateLiveEventRequest> = {}) {
  await originReady(true);
  const e = await createEvent({ scheduledStartAt: new Date(Date.now() + 60_000).toISOString(), ...overrides });
  expect(e.event.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
  await ok(operate(e, 'preview'));
  const response = await authorize(e.streamKey);
  expect(response.status).toBe(200);
  const grant = await json(response);
  return { ...e, sessionId: grant.sessionId as string };
}

describe('creating an event', () => {
  it('more than 12 h ahead: SCHEDULED, alarm at start − 12 h, which moves it to PREPARING, and readiness to WAIT_FOR_PREVIEW', async () => {
    await originReady(false);
    const start = Date.now() + PREPARE_AHEAD_MS + 60_000;
    const e = await createEvent({ scheduledStartAt: new Date(start).toISOString() });
    expect(e.event).toMatchObject({ status: 'LIVE_STATUS_SCHEDULED', streamId: e.streamId, allowedOperations: ['cancel'], ingest: expect.any(Object) });
    expect(e.event.playbackIds.public.id).toBe(e.publicPlaybackId);
    expect(e.event.playbackIds.preview.id).toBe(e.previewPlaybackId);
    // The stream is made for the event: recorded, the event's resolution.
    const stream = await streamOf(e);
    expect(stream).toMatchObject({ record: true, maxResolution: '720p', status: 'NOT_STARTED' });

    expect(await alarmAt(e.streamId)).toBe(start - PREPARE_AHEAD_MS);
    expect(await runDurableObjectAlarm(stub(e.streamId))).toBe(true); // run as at its time: 12 h before the start
    let event = await getEvent(e);
    expect(event.status).toBe('LIVE_STATUS_PREPARING');
    // No origin can take it: PREPARING looks again every 2 s.
    const recheck = (await alarmAt(e.streamId))!;
    expect(recheck - Date.now()).toBeGreaterThan(0);
    expect(recheck - Date.now()).toBeLessThanOrEqual(2_000);
    expect(await runDurableObjectAlarm(stub(e.streamId))).toBe(true);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_PREPARING');

    await originReady(true);
    expect(await runDurableObjectAlarm(stub(e.streamId))).toBe(true);
    event = await getEvent(e);
    expect(event.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
    expect(event.allowedOperations).toEqual(['preview', 'cancel']);
    expect(event.activities.map((a) => a.status)).toEqual(['LIVE_STATUS_SCHEDULED', 'LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW']);
    expect(await alarmAt(e.streamId)).toBeNull(); // nothing to wait for until /preview

    const received = await webhooks(e.streamId, 5);
    expect(received.map((w) => w.type)).toEqual([
      'video.live_stream.created',
      'video.live_event.created',
      'video.live_event.scheduled',
      'video.live_event.preparing',
      'video.live_event.wait_for_preview',
    ]);
    expect(received.map((w) => w.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(received[4]).toMatchObject({
      event: 'LIVE_EVENT',
      liveEventId: e.eventId,
      streamId: e.streamId,
      status: 'LIVE_STATUS_WAIT_FOR_PREVIEW',
      previousStatus: 'LIVE_STATUS_PREPARING',
      operation: null,
      data: { eventId: e.eventId, status: 'LIVE_STATUS_WAIT_FOR_PREVIEW' },
    });
    expect(received[4].data.activities).toBeUndefined();
  });

  it('within 12 h with an origin ready: PREPARING and WAIT_FOR_PREVIEW in the creating commit', async () => {
    await originReady(true);
    const e = await createEvent({ scheduledStartAt: new Date(Date.now() + HOUR).toISOString() });
    expect(e.event.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
    const received = await webhooks(e.streamId, 4);
    expect(received.map((w) => [w.sequence, w.type])).toEqual([
      [1, 'video.live_stream.created'],
      [2, 'video.live_event.created'],
      [3, 'video.live_event.preparing'],
      [4, 'video.live_event.wait_for_preview'],
    ]);
  });
});

describe('ingest gating and operations', () => {
  it('refuses encoders before PREVIEW (naming the status and /preview), admits them in PREVIEW; refusals name the allowed operations', async () => {
    await originReady(true);
    const e = await createEvent();
    const refused = await authorize(e.streamKey);
    expect(refused.status).toBe(403);
    const problem = await json(refused);
    expect(problem.reason).toBe('event_not_open');
    expect(problem.detail).toContain('LIVE_STATUS_WAIT_FOR_PREVIEW');
    expect(problem.detail).toContain('/preview');

    const early = await operate(e, 'start');
    expect(early).toMatchObject({ ok: false, code: 'refused', httpStatus: 409, type: 'operation-not-allowed', allowedOperations: ['preview', 'cancel'] });

    const previewed = await ok(operate(e, 'preview'));
    expect(previewed).toMatchObject({ status: 'LIVE_STATUS_PREVIEW', allowedOperations: ['start', 'cancel'] });
    const admitted = await authorize(e.streamKey);
    expect(admitted.status).toBe(200);
    expect((await streamOf(e)).status).toBe('STREAMING');
  });

  it('SCHEDULED refuses /preview and /start with the allowed operations named', async () => {
    await originReady(false);
    const e = await createEvent({ scheduledStartAt: new Date(Date.now() + 2 * PREPARE_AHEAD_MS).toISOString() });
    for (const op of ['preview', 'start', 'end', 'archive', 'reopen'] as const) {
      const answer = await operate(e, op);
      expect(answer).toMatchObject({ ok: false, httpStatus: 409, allowedOperations: ['cancel'] });
      if (!answer.ok && answer.code === 'refused') expect(answer.detail).toContain('LIVE_STATUS_SCHEDULED');
    }
    expect((await authorize(e.streamKey)).status).toBe(403);
  });

  it('/start keeps the rehearsal session as the live one; /end completes the stream: ENCODING, then VOD once its recording is watchable', async () => {
    const e = await previewing({ vod: { enabled: true, startAt: null, endAt: null } });
    const live = await ok(operate(e, 'start'));
    expect(live.status).toBe('LIVE_STATUS_LIVE');
    expect(live.liveStartedAt).not.toBeNull();
    expect(await inObject(e.streamId, (o) => o.eventFlow.load().state.liveSessionId)).toBe(e.sessionId);

    // Some of the session's media is in R2: the recording becomes watchable once the session ends.
    await env.MEDIA.put(`live/${e.streamId}/${e.sessionId}/master.m3u8`, '#EXTM3U\n');
    const ended = await ok(operate(e, 'end'));
    // ENCODING lasts until the session's media is final: seconds (here the answer may already find the VOD made).
    expect(['LIVE_STATUS_ENCODING', 'LIVE_STATUS_VOD']).toContain(ended.status);
    expect(ended.liveEndedAt).not.toBeNull();
    expect(['STOPPED', 'COMPLETED']).toContain((await streamOf(e)).status);
    // The encoder may not come back: ingest is closed.
    const refused = await authorize(e.streamKey);
    expect((await json(refused)).reason).toBe('event_not_open');

    await until(async () => (await getEvent(e)).status === 'LIVE_STATUS_VOD', 'the VOD');
    const event = await getEvent(e);
    expect(event.activities.map((a) => [a.status, a.operation])).toEqual([
      ['LIVE_STATUS_PREPARING', null],
      ['LIVE_STATUS_WAIT_FOR_PREVIEW', null],
      ['LIVE_STATUS_PREVIEW', 'preview'],
      ['LIVE_STATUS_LIVE', 'start'],
      ['LIVE_STATUS_ENCODING', 'end'],
      ['LIVE_STATUS_VOD', null],
    ]);

    // The stream's webhooks and the event's, in one sequence without gaps.
    const received = await webhooks(e.streamId, 12);
    expect(received.map((w) => w.sequence)).toEqual(received.map((_w, i) => i + 1));
    const types = received.map((w) => w.type);
    expect(types.filter((t) => t.startsWith('video.live_event.'))).toEqual([
      'video.live_event.created',
      'video.live_event.preparing',
      'video.live_event.wait_for_preview',
      'video.live_event.preview',
      'video.live_event.live',
      'video.live_event.encoding',
      'video.live_event.vod',
    ]);
    expect(types.indexOf('video.live_stream.active')).toBeGreaterThan(types.indexOf('video.live_event.preview'));
    expect(types.indexOf('video.live_stream.recording.ready')).toBeLessThan(types.indexOf('video.live_event.vod'));
  });

  it('/start with no encoder yet: the first session opened after it is the live one; a recording that failed ends the event', async () => {
    await originReady(true);
    const e = await createEvent({ scheduledStartAt: new Date(Date.now() + 60_000).toISOString(), vod: { enabled: true, startAt: null, endAt: null } });
    await ok(operate(e, 'preview'));
    await ok(operate(e, 'start'));
    const grant = await json(await authorize(e.streamKey));
    expect(await inObject(e.streamId, (o) => o.eventFlow.load().state.liveSessionId)).toBe(grant.sessionId);
    await ok(operate(e, 'end')); // no media reached R2: the recording fails, so does the VOD
    await until(async () => (await getEvent(e)).status === 'LIVE_STATUS_LIVE_END', 'LIVE_END');
    expect((await getEvent(e)).activities.at(-1)).toMatchObject({ status: 'LIVE_STATUS_LIVE_END', reason: expect.stringContaining('VOD could not be made') });
  });

  it('cancel from PREVIEW kicks the encoder and closes ingest; archive; reopen schedules it again', async () => {
    const e = await previewing();
    const closed = await ok(operate(e, 'cancel'));
    expect(closed).toMatchObject({ status: 'LIVE_STATUS_CLOSED', allowedOperations: ['archive', 'reopen'] });
    expect(['STOPPED', 'COMPLETED', 'ERROR']).toContain((await streamOf(e)).status);
    expect((await json(await authorize(e.streamKey))).reason).toBe('event_not_open');

    const later = new Date(Date.now() + 2 * PREPARE_AHEAD_MS).toISOString();
    const reopened = await ok(operate(e, 'reopen', { scheduledStartAt: later }));
    expect(reopened).toMatchObject({ status: 'LIVE_STATUS_SCHEDULED', scheduledStartAt: later });
    // The event's own deadline is the new 12 h boundary (the alarm may be earlier: the kick to the gone origin retries).
    const boundary = Date.parse(later) - PREPARE_AHEAD_MS;
    expect(await inObject(e.streamId, (o) => o.eventFlow.nextDeadline(Date.now()))).toBe(boundary);
    expect(await alarmAt(e.streamId)).toBeLessThanOrEqual(boundary);
    await ok(operate(e, 'cancel'));
    expect(await ok(operate(e, 'archive'))).toMatchObject({ status: 'LIVE_STATUS_ARCHIVED', allowedOperations: [] });
  });
});

describe('alarms and the stream', () => {
  it('the scheduled end ends the live part; the VOD waits for its window, plays in it, and ends with it', async () => {
    // Started a minute ago (PREPARING at once), so its end can come before the session's stats deadline (10 s).
    const e = await previewing({
      scheduledStartAt: new Date(Date.now() - 60_000).toISOString(),
      vod: { enabled: true, startAt: new Date(Date.now() + 5 * HOUR).toISOString(), endAt: new Date(Date.now() + 6 * HOUR).toISOString() },
    });
    await ok(operate(e, 'start'));
    await env.MEDIA.put(`live/${e.streamId}/${e.sessionId}/master.m3u8`, '#EXTM3U\n');
    const end = Date.now() + 3_000;
    await ok(object(e.streamId).updateEvent(ws.id, e.eventId, { scheduledEndAt: new Date(end).toISOString() }));
    expect(await alarmAt(e.streamId)).toBe(end);
    expect(await runDurableObjectAlarm(stub(e.streamId))).toBe(true); // run as at its time
    await until(async () => (await getEvent(e)).status === 'LIVE_STATUS_VOD_READY', 'VOD_READY');
    const ready = await getEvent(e);
    expect(ready.activities.at(-2)).toMatchObject({ status: 'LIVE_STATUS_ENCODING', reason: 'the scheduled end passed' });
    expect(Date.parse(ready.liveEndedAt!)).toBe(end);

    // Hours ahead: the alarm is armed no later than the window's start (effects owed to the gone origin retry before).
    const vodStart = Date.parse(ready.vod.startAt!);
    expect(await eventDeadline(e.streamId)).toBe(vodStart);
    expect(await alarmAt(e.streamId)).toBeLessThanOrEqual(vodStart);
    await alarmAsAt(e.streamId, vodStart - 1);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_VOD_READY'); // not a millisecond early
    await alarmAsAt(e.streamId, vodStart);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_VOD');
    const vodEnd = Date.parse(ready.vod.endAt!);
    expect(await eventDeadline(e.streamId)).toBe(vodEnd);
    await alarmAsAt(e.streamId, vodEnd);
    const over = await getEvent(e);
    expect(over.status).toBe('LIVE_STATUS_LIVE_END');
    expect(over.activities.slice(-2).map((a) => [a.status, a.reason, Date.parse(a.at)])).toEqual([
      ['LIVE_STATUS_VOD', 'the VOD window began', vodStart],
      ['LIVE_STATUS_LIVE_END', 'the VOD window ended', vodEnd],
    ]);
    expect(await eventDeadline(e.streamId)).toBeNull();
  });

  it('the stream stopping while PREVIEW is re-enabled for the rehearsal; its reconnect window running out while LIVE ends the event', async () => {
    const e = await previewing();
    await sendEvents([originEvent(e.streamId, e.sessionId, 'publish_done', { reason: 'encoder left' })]);
    // The 10 s window ends (alarms run as at their time): STOPPED, then enabled again.
    await until(async () => (await runDurableObjectAlarm(stub(e.streamId)), (await streamOf(e)).status === 'NOT_STARTED'), 'the stream enabled again');
    const activities = (await streamOf(e)).activities.map((a: any) => a.event);
    expect(activities.slice(activities.lastIndexOf('ON_PUBLISH_DONE'))).toEqual(['ON_PUBLISH_DONE', 'STOPPED', 'ENABLED']);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_PREVIEW');
    const again = await json(await authorize(e.streamKey));
    expect(again.sessionId).not.toBe(e.sessionId);

    await ok(operate(e, 'start'));
    await sendEvents([originEvent(e.streamId, again.sessionId, 'publish_done', { reason: 'encoder left' })]);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_LIVE'); // the window is still open
    await until(async () => (await runDurableObjectAlarm(stub(e.streamId)), (await getEvent(e)).status === 'LIVE_STATUS_LIVE_END'), 'LIVE_END');
    const event = await getEvent(e);
    expect(event.activities.at(-1)).toMatchObject({ status: 'LIVE_STATUS_LIVE_END', operation: null, reason: 'reconnect window expired' });
  });
});

describe('simulive', () => {
  it('refuses encoders; goes LIVE at its scheduled start and owes the broadcast; a source that cannot play ends the live part', async () => {
    await originReady(true);
    const e = await createEvent({
      type: 'LIVE_TYPE_SIMULIVE',
      simulive: { recordingId: 'rec_does_not_exist' },
      scheduledStartAt: new Date(Date.now() + HOUR).toISOString(),
    });
    expect(e.event).toMatchObject({ status: 'LIVE_STATUS_WAIT_FOR_PREVIEW', allowedOperations: ['start', 'cancel'], ingest: null });
    const refused = await json(await authorize(e.streamKey));
    expect(refused.reason).toBe('event_not_open');
    expect(refused.detail).toContain('SIMULIVE');
    // A simulive goes live by itself at its scheduled start (the alarm).
    const start = Date.parse(e.event.scheduledStartAt);
    expect(await eventDeadline(e.streamId)).toBe(start);
    await alarmAsAt(e.streamId, start - 1);
    expect((await getEvent(e)).status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
    await alarmAsAt(e.streamId, start);
    const live = await getEvent(e);
    expect(['LIVE_STATUS_LIVE', 'LIVE_STATUS_LIVE_END']).toContain(live.status);
    expect(live.activities.find((a) => a.status === 'LIVE_STATUS_LIVE')).toMatchObject({ operation: null, reason: 'the scheduled start', at: new Date(start).toISOString() });
    await until(async () => (await getEvent(e)).status === 'LIVE_STATUS_LIVE_END', 'LIVE_END');
    expect((await getEvent(e)).activities.at(-1)?.reason).toContain('the simulive source cannot play');
  });

  it('the simulive source ending (publish_done simulive_source_ended) ends a LIVE event at once, without the reconnect window', async () => {
    const e = await previewing();
    await ok(operate(e, 'start'));
    await sendEvents([originEvent(e.streamId, e.sessionId, 'publish_done', { reason: 'simulive_source_ended' })]);
    const event = await getEvent(e);
    expect(event.status).toBe('LIVE_STATUS_LIVE_END');
    expect(event.activities.at(-1)).toMatchObject({ reason: 'the simulive source ended' });
    expect(['STOPPED', 'COMPLETED', 'ERROR']).toContain((await streamOf(e)).status);
  });
});

describe('a broken stream', () => {
  it('an origin error while LIVE ends the event; its session never ended, so its VOD fails instead of waiting for ever', async () => {
    const e = await previewing({ vod: { enabled: true, startAt: null, endAt: null } });
    await ok(operate(e, 'start'));
    await sendEvents([originEvent(e.streamId, e.sessionId, 'error', { reason: 'ffmpeg exited' })]);
    const event = await getEvent(e);
    expect(event.status).toBe('LIVE_STATUS_LIVE_END');
    expect(event.activities.slice(-2).map((a) => a.status)).toEqual(['LIVE_STATUS_ENCODING', 'LIVE_STATUS_LIVE_END']);
    expect(event.activities.at(-1)?.reason).toContain('did not end normally');
  });
});

describe('playback state, updates and deletion', () => {
  it('eventPlayback answers for the public and preview ids only; PATCH changes security any time and the schedule only before LIVE', async () => {
    const e = await previewing({ security: { accessPolicy: 'private', allowedDomains: ['*.example.com'] } });
    const playback = (id: string) => inObject(e.streamId, (o) => o.eventFlow.eventPlayback(id));
    expect(await playback(e.publicPlaybackId)).toMatchObject({ role: 'public', status: 'LIVE_STATUS_PREVIEW', accessPolicy: 'private', allowedDomains: ['*.example.com'] });
    expect(await playback(e.previewPlaybackId)).toMatchObject({ role: 'preview', liveSessionId: null });
    expect(await playback('someone-else')).toBeNull();

    await ok(operate(e, 'start'));
    const late = (await object(e.streamId).updateEvent(ws.id, e.eventId, { scheduledStartAt: new Date(Date.now() + HOUR).toISOString() })) as EventCommandResult;
    expect(late).toMatchObject({ ok: false, httpStatus: 409 });
    const secured = await ok(object(e.streamId).updateEvent(ws.id, e.eventId, { security: { accessPolicy: 'public', allowedDomains: [] }, name: 'Launch' }) as Promise<EventCommandResult>);
    expect(secured).toMatchObject({ name: 'Launch', security: { accessPolicy: 'public', allowedDomains: [] } });
    expect(await playback(e.previewPlaybackId)).toMatchObject({ accessPolicy: 'public', liveSessionId: e.sessionId });
    expect((await streamOf(e)).playbackIds).toEqual([{ id: e.previewPlaybackId, accessPolicy: 'public' }]);
    await until(async () => !(await inObject(e.streamId, (o) => o.sql.exec("SELECT 1 FROM pending_effects WHERE key LIKE 'event_index%'").toArray().length)), 'the index');
    const rows = await env.DB.prepare('SELECT access_policy FROM playback_ids WHERE id IN (?, ?)').bind(e.publicPlaybackId, e.previewPlaybackId).all<{ access_policy: string }>();
    expect(rows.results.map((r) => r.access_policy)).toEqual(['public', 'public']);
    const received = await webhooks(e.streamId, 8);
    expect(received.map((w) => w.type)).toContain('video.live_event.updated');
  });

  it('delete is refused while PREVIEW or LIVE, then takes the event and its stream', async () => {
    const e = await previewing();
    expect(await object(e.streamId).deleteEvent(ws.id, e.eventId)).toMatchObject({ ok: false, code: 'refused', httpStatus: 409 });
    await ok(operate(e, 'cancel'));
    expect((await object(e.streamId).deleteEvent(ws.id, e.eventId)).ok).toBe(true);
    expect(await object(e.streamId).getEvent(ws.id, e.eventId)).toBeNull();
    expect(await object(e.streamId).get(ws.id)).toBeNull();
    const received = await webhooks(e.streamId, 10);
    const types = received.map((w) => w.type);
    expect(types.slice(-2)).toEqual(['video.live_event.deleted', 'video.live_stream.deleted']);
    expect(received.map((w) => w.sequence)).toEqual(received.map((_w, i) => i + 1));
  });

  it('deleting the stream through the streams API takes its event with it', async () => {
    await originReady(true);
    const e = await createEvent();
    expect((await api(ws, 'DELETE', `/live/streams/${e.streamId}`)).status).toBe(204);
    expect(await object(e.streamId).getEvent(ws.id, e.eventId)).toBeNull();
    await until(async () => (await env.DB.prepare('SELECT 1 FROM live_events WHERE id = ?').bind(e.eventId).first()) === null, 'the index row gone');
    const types = (await webhooks(e.streamId, 6)).map((w) => w.type);
    expect(types.slice(-2)).toEqual(['video.live_stream.deleted', 'video.live_event.deleted']);
  });
});
