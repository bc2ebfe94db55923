// /v1/live/events through the Worker in workerd: create, list, get, update, delete, the control operations, and every
// error the API answers (auth, 400 naming the field, 404 across workspaces, 409 refusals naming allowed operations).
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { api, call, createWorkspace, json, liveEventBody, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';

vi.setConfig({ testTimeout: 20_000 });

const HOUR = 3600_000;
let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('events-api');
  other = await createWorkspace('events-api-other');
});

/** The test origin heartbeats: an origin can take the stream, so an event near its start reaches WAIT_FOR_PREVIEW. */
async function originReady() {
  expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200);
}

const body = (overrides: Record<string, unknown> = {}) => liveEventBody({ name: 'launch', ...overrides });

async function createEvent(workspace: Workspace = ws, overrides: Record<string, unknown> = {}) {
  const response = await api(workspace, 'POST', '/live/events', body(overrides));
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
  return (await json(response)).data;
}

async function problem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const answer = await json(response);
  expect(answer.type).toBe(`https://riverhead.dev/problems/${type}`);
  return answer;
}
const fields = (answer: any) => (answer.errors ?? []).map((e: any) => e.field);

const operate = (eventId: string, op: string, payload?: unknown, workspace: Workspace = ws) =>
  api(workspace, 'POST', `/live/events/${eventId}/${op}`, payload);

async function mustOperate(eventId: string, op: string, payload?: unknown) {
  const response = await operate(eventId, op, payload);
  if (response.status !== 200) throw new Error(`/${op}: ${response.status} ${await response.text()}`);
  return (await json(response)).data;
}

/** A recording row of the workspace's D1 index, as the recordings flow writes it (exportable: its MP4 is built). */
async function recordingOf(workspace: Workspace, exportable: boolean) {
  const id = `rec_${crypto.randomUUID().slice(0, 8)}`;
  const now = new Date().toISOString();
  await env.DB.prepare(
    `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at, watchable, exportable)
     VALUES (?, ?, 'ls_source', ?, 'ready', ?, ?, 1, ?)`,
  )
    .bind(id, workspace.id, `ses_${id}`, now, now, exportable ? 1 : 0)
    .run();
  return id;
}

describe('authentication', () => {
  it('every route needs an access token (401)', async () => {
    for (const [method, path] of [
      ['POST', '/v1/live/events'],
      ['GET', '/v1/live/events'],
      ['GET', '/v1/live/events/le_x'],
      ['PATCH', '/v1/live/events/le_x'],
      ['DELETE', '/v1/live/events/le_x'],
      ['POST', '/v1/live/events/le_x/start'],
    ] as const) {
      const response = await call(path, { method });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('a wrong secret is refused too', async () => {
    const response = await call('/v1/live/events', { headers: { authorization: `Basic ${btoa('tok_nope:secret')}` } });
    expect(response.status).toBe(401);
  });
});

describe('create', () => {
  it('schedules an event owning a recorded stream: ingest with the key once, a public and a preview playback id', async () => {
    await originReady();
    const event = await createEvent(ws, { customId: 'create-1', metadata: { show: 'launch' }, reconnectWindow: 30 });
    expect(event.eventId).toMatch(/^le_[A-Za-z0-9]{16}$/);
    expect(event.streamId).toMatch(/^ls_[A-Za-z0-9]{16}$/);
    expect(event).toMatchObject({
      name: 'launch',
      customId: 'create-1',
      type: 'LIVE_TYPE_LIVE',
      broadcastMode: 'BROADCAST_MODE_DVR',
      resolution: '720p',
      ullEnabled: false,
      status: 'LIVE_STATUS_WAIT_FOR_PREVIEW',
      allowedOperations: ['preview', 'cancel'],
      vod: { enabled: false, startAt: null, endAt: null },
      simulive: null,
      liveStartedAt: null,
      liveEndedAt: null,
      metadata: { show: 'launch' },
    });
    expect(event.ingest.rtmp.url).toMatch(/^rtmp:\/\/127\.0\.0\.1:1935\/live\/sk_[A-Za-z0-9]{32}$/);
    expect(new URL(event.ingest.srt.url).searchParams.get('passphrase')).toHaveLength(32);
    const { public: pub, preview } = event.playbackIds;
    expect(pub.id).not.toBe(preview.id);
    expect(event.playbackUrls).toEqual({
      public: `http://edge.test/hls/${pub.id}/master.m3u8`,
      preview: `http://edge.test/hls/${preview.id}/master.m3u8`,
    });
    expect(event.activities.map((a: any) => a.status)).toEqual(['LIVE_STATUS_PREPARING', 'LIVE_STATUS_WAIT_FOR_PREVIEW']);

    // The stream it owns: recorded, at the event's resolution, its own playback id is the event's preview id.
    const stream = (await json(await api(ws, 'GET', `/live/streams/${event.streamId}`))).data;
    expect(stream).toMatchObject({ record: true, maxResolution: '720p', reconnectWindow: 30 });
    expect(stream.playbackIds.map((p: any) => p.id)).toContain(preview.id);
    const { results } = await env.DB.prepare('SELECT id, stream_id, workspace_id, kind FROM playback_ids WHERE stream_id = ? ORDER BY id')
      .bind(event.streamId)
      .all();
    expect(results).toEqual(
      [pub.id, preview.id].sort().map((id) => ({ id, stream_id: event.streamId, workspace_id: ws.id, kind: 'live' })),
    );

    // The key is shown once.
    const fetched = (await json(await api(ws, 'GET', `/live/events/${event.eventId}`))).data;
    expect(fetched.ingest.rtmp.url).not.toContain('sk_');
    expect(fetched.ingest.srt.passphrase).toBeUndefined();
    expect(fetched.eventId).toBe(event.eventId);
  });

  it('more than 12 h ahead → SCHEDULED, only cancel allowed', async () => {
    const event = await createEvent(ws, { scheduledStartAt: new Date(Date.now() + 20 * HOUR).toISOString() });
    expect(event.status).toBe('LIVE_STATUS_SCHEDULED');
    expect(event.allowedOperations).toEqual(['cancel']);
  });

  it('SIMULIVE from an exportable recording of the workspace: no ingest', async () => {
    const recordingId = await recordingOf(ws, true);
    const event = await createEvent(ws, {
      type: 'LIVE_TYPE_SIMULIVE',
      broadcastMode: 'BROADCAST_MODE_PLAYBACK',
      simulive: { recordingId },
    });
    expect(event).toMatchObject({ type: 'LIVE_TYPE_SIMULIVE', simulive: { recordingId }, ingest: null });
  });
});

describe('create: bad input names the field (400)', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['type missing', { type: undefined }, 'type'],
    ['an unknown type', { type: 'LIVE_TYPE_TV' }, 'type'],
    ['broadcastMode missing', { broadcastMode: undefined }, 'broadcastMode'],
    ['resolution missing', { resolution: undefined }, 'resolution'],
    ['security missing', { security: undefined }, 'security'],
    ['ullEnabled missing', { ullEnabled: undefined }, 'ullEnabled'],
    ['scheduledStartAt missing', { scheduledStartAt: undefined }, 'scheduledStartAt'],
    ['scheduledStartAt not ISO', { scheduledStartAt: 'tomorrow' }, 'scheduledStartAt'],
    ['PLAYBACK mode for a LIVE type', { broadcastMode: 'BROADCAST_MODE_PLAYBACK' }, 'broadcastMode'],
    ['SIMULIVE without a recording', { type: 'LIVE_TYPE_SIMULIVE' }, 'simulive.recordingId'],
    ['simulive on a LIVE type', { simulive: { recordingId: 'rec_x' } }, 'simulive'],
    [
      'an end before the start',
      { scheduledStartAt: '2030-01-01T10:00:00Z', scheduledEndAt: '2030-01-01T09:00:00Z' },
      'scheduledEndAt',
    ],
    ['a VOD window ending before it starts', { vod: { enabled: true, startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' } }, 'vod.endAt'],
    ['a customId with spaces', { customId: 'my event' }, 'customId'],
    ['a customId too long', { customId: 'x'.repeat(129) }, 'customId'],
    ['a URL as allowed domain', { security: { accessPolicy: 'public', allowedDomains: ['https://example.com/'] } }, 'security.allowedDomains.0'],
    ['an unknown field', { bogus: 1 }, 'bogus'],
    ['an unknown resolution', { resolution: '4320p' }, 'resolution'],
  ];
  for (const [what, overrides, field] of cases) {
    it(what, async () => {
      const answer = await problem(await api(ws, 'POST', '/live/events', body(overrides)), 400, 'invalid-request');
      expect(fields(answer)).toContain(field);
    });
  }

  it('ullEnabled not a boolean → 400 naming it (true is low latency: test/edge/latency-mode.test.ts)', async () => {
    const answer = await problem(await api(ws, 'POST', '/live/events', body({ ullEnabled: 'yes' })), 400, 'invalid-request');
    expect(fields(answer)).toEqual(['ullEnabled']);
  });

  it('SIMULIVE from a recording that does not exist, or is another workspace\'s → 400 naming simulive.recordingId', async () => {
    const theirs = await recordingOf(other, true);
    for (const recordingId of ['rec_missing', theirs]) {
      const response = await api(ws, 'POST', '/live/events', body({ type: 'LIVE_TYPE_SIMULIVE', simulive: { recordingId } }));
      expect(fields(await problem(response, 400, 'invalid-request'))).toEqual(['simulive.recordingId']);
    }
  });

  it('SIMULIVE from a recording whose MP4 is not built yet → 409 simulive-source-not-ready', async () => {
    const recordingId = await recordingOf(ws, false);
    const response = await api(ws, 'POST', '/live/events', body({ type: 'LIVE_TYPE_SIMULIVE', simulive: { recordingId } }));
    await problem(response, 409, 'simulive-source-not-ready');
  });

  it('malformed JSON → 400 malformed-json; no body → 400', async () => {
    const response = await call('/v1/live/events', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: '{"type":',
    });
    await problem(response, 400, 'malformed-json');
    expect((await api(ws, 'POST', '/live/events', {})).status).toBe(400);
  });

  it('nothing is left behind by a refused create', async () => {
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM live_events').first<{ n: number }>();
    await api(ws, 'POST', '/live/events', body({ resolution: '4320p', customId: 'never-made' }));
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM live_events').first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });
});

describe('customId', () => {
  it('is unique per workspace (409 custom-id-taken), free in another workspace', async () => {
    await createEvent(ws, { customId: 'dup-1' });
    const answer = await problem(await api(ws, 'POST', '/live/events', body({ customId: 'dup-1' })), 409, 'custom-id-taken');
    expect(fields(answer)).toEqual(['customId']);
    expect((await createEvent(other, { customId: 'dup-1' })).customId).toBe('dup-1');
  });

  it('PATCH to a taken customId → 409, both keep their own; a free one is taken', async () => {
    const a = await createEvent(ws, { customId: 'patch-a' });
    const b = await createEvent(ws, { customId: 'patch-b' });
    await problem(await api(ws, 'PATCH', `/live/events/${b.eventId}`, { customId: 'patch-a' }), 409, 'custom-id-taken');
    expect((await json(await api(ws, 'GET', `/live/events/${b.eventId}`))).data.customId).toBe('patch-b');
    const renamed = (await json(await api(ws, 'PATCH', `/live/events/${b.eventId}`, { customId: 'patch-c' }))).data;
    expect(renamed.customId).toBe('patch-c');
    // patch-b is free again; the list finds each by its customId
    expect((await createEvent(ws, { customId: 'patch-b' })).customId).toBe('patch-b');
    const found = (await json(await api(ws, 'GET', '/live/events?customId=patch-a'))).data;
    expect(found.map((e: any) => e.eventId)).toEqual([a.eventId]);
  });

  it('a deleted event frees its customId', async () => {
    const event = await createEvent(ws, { customId: 'freed', scheduledStartAt: new Date(Date.now() + 20 * HOUR).toISOString() });
    expect((await api(ws, 'DELETE', `/live/events/${event.eventId}`)).status).toBe(204);
    expect((await createEvent(ws, { customId: 'freed' })).customId).toBe('freed');
  });
});

describe('another workspace\'s event does not exist (404)', () => {
  it('GET, PATCH, DELETE and every operation → 404 not-found', async () => {
    const theirs = await createEvent(other);
    const id = theirs.eventId;
    await problem(await api(ws, 'GET', `/live/events/${id}`), 404, 'not-found');
    await problem(await api(ws, 'PATCH', `/live/events/${id}`, { name: 'mine' }), 404, 'not-found');
    await problem(await api(ws, 'DELETE', `/live/events/${id}`), 404, 'not-found');
    for (const op of ['preview', 'start', 'end', 'cancel', 'archive', 'reopen']) await problem(await operate(id, op), 404, 'not-found');
    await problem(await api(ws, 'GET', '/live/events/le_doesnotexist'), 404, 'not-found');
    // and it is untouched
    expect((await json(await api(other, 'GET', `/live/events/${id}`))).data.name).toBe('launch');
  });
});

describe('control operations', () => {
  it('/start on a SCHEDULED event → 409 operation-not-allowed naming the allowed operations', async () => {
    const event = await createEvent(ws, { scheduledStartAt: new Date(Date.now() + 20 * HOUR).toISOString() });
    const answer = await problem(await operate(event.eventId, 'start'), 409, 'operation-not-allowed');
    expect(answer.allowedOperations).toEqual(['cancel']);
    expect(answer.detail).toContain('LIVE_STATUS_SCHEDULED');
  });

  it('every refused operation answers 409 with what is allowed now', async () => {
    await originReady();
    const event = await createEvent(ws);
    expect(event.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');
    for (const op of ['start', 'end', 'archive', 'reopen']) {
      const answer = await problem(await operate(event.eventId, op), 409, 'operation-not-allowed');
      expect(answer.allowedOperations).toEqual(['preview', 'cancel']);
    }
  });

  it('a body field an operation does not take → 400 naming it', async () => {
    const event = await createEvent(ws);
    const answer = await problem(await operate(event.eventId, 'preview', { scheduledStartAt: new Date().toISOString() }), 400, 'invalid-request');
    expect(fields(answer)).toEqual(['scheduledStartAt']);
    const bad = await problem(await operate(event.eventId, 'reopen', { scheduledStartAt: 'soon' }), 400, 'invalid-request');
    expect(fields(bad)).toEqual(['scheduledStartAt']);
  });

  it('preview → start → end → archive, each answered with the event; the timeline and D1 status follow', async () => {
    await originReady();
    const event = await createEvent(ws, { customId: 'flow-1' });
    const previewing = await mustOperate(event.eventId, 'preview');
    expect(previewing).toMatchObject({ status: 'LIVE_STATUS_PREVIEW', allowedOperations: ['start', 'cancel'] });
    await problem(await api(ws, 'DELETE', `/live/events/${event.eventId}`), 409, 'event-in-progress');

    const live = await mustOperate(event.eventId, 'start');
    expect(live.status).toBe('LIVE_STATUS_LIVE');
    expect(Date.parse(live.liveStartedAt)).toBeGreaterThan(Date.now() - 60_000);
    const row = await env.DB.prepare('SELECT status FROM live_events WHERE id = ?').bind(event.eventId).first<{ status: string }>();
    expect(row!.status).toBe('LIVE_STATUS_LIVE');

    // The schedule and mode are fixed once LIVE; security may still change.
    const late = await problem(await api(ws, 'PATCH', `/live/events/${event.eventId}`, { scheduledStartAt: new Date().toISOString() }), 409, 'operation-not-allowed');
    expect(late.detail).toContain('scheduledStartAt');
    await problem(await api(ws, 'PATCH', `/live/events/${event.eventId}`, { broadcastMode: 'BROADCAST_MODE_TRADITIONAL_LIVE' }), 409, 'operation-not-allowed');
    expect((await api(ws, 'PATCH', `/live/events/${event.eventId}`, { security: { accessPolicy: 'private' } })).status).toBe(200);

    const ended = await mustOperate(event.eventId, 'end');
    expect(ended).toMatchObject({ status: 'LIVE_STATUS_LIVE_END', allowedOperations: ['cancel', 'archive'] });
    expect(ended.liveEndedAt).not.toBeNull();
    const archived = await mustOperate(event.eventId, 'archive');
    expect(archived).toMatchObject({ status: 'LIVE_STATUS_ARCHIVED', allowedOperations: [] });
    expect(archived.activities.map((a: any) => [a.status, a.operation])).toEqual([
      ['LIVE_STATUS_PREPARING', null],
      ['LIVE_STATUS_WAIT_FOR_PREVIEW', null],
      ['LIVE_STATUS_PREVIEW', 'preview'],
      ['LIVE_STATUS_LIVE', 'start'],
      ['LIVE_STATUS_LIVE_END', 'end'],
      ['LIVE_STATUS_ARCHIVED', 'archive'],
    ]);
    const listed = (await json(await api(ws, 'GET', '/live/events?status=LIVE_STATUS_ARCHIVED'))).data;
    expect(listed.map((e: any) => e.eventId)).toContain(event.eventId);
  });

  it('SIMULIVE /start: its source must still be exportable (409 simulive-source-not-ready), then goes live', async () => {
    await originReady();
    const recordingId = await recordingOf(ws, true);
    const event = await createEvent(ws, { type: 'LIVE_TYPE_SIMULIVE', broadcastMode: 'BROADCAST_MODE_PLAYBACK', simulive: { recordingId } });
    expect(event.allowedOperations).toEqual(['start', 'cancel']);
    await env.DB.prepare('UPDATE recordings SET exportable = 0 WHERE id = ?').bind(recordingId).run();
    await problem(await operate(event.eventId, 'start'), 409, 'simulive-source-not-ready');
    await env.DB.prepare('DELETE FROM recordings WHERE id = ?').bind(recordingId).run();
    const gone = await problem(await operate(event.eventId, 'start'), 409, 'simulive-source-not-ready');
    expect(gone.detail).toContain('no longer exists');
    expect((await json(await api(ws, 'GET', `/live/events/${event.eventId}`))).data.status).toBe('LIVE_STATUS_WAIT_FOR_PREVIEW');

    const again = await recordingOf(ws, true);
    const other = await createEvent(ws, { type: 'LIVE_TYPE_SIMULIVE', broadcastMode: 'BROADCAST_MODE_PLAYBACK', simulive: { recordingId: again } });
    // PLAYBACK mode: the source VOD opens, no broadcast to dispatch
    expect((await mustOperate(other.eventId, 'start')).status).toBe('LIVE_STATUS_LIVE');
  });

  it('cancel → CLOSED, then reopen at a new start → SCHEDULED at that start', async () => {
    const event = await createEvent(ws);
    expect((await mustOperate(event.eventId, 'cancel')).status).toBe('LIVE_STATUS_CLOSED');
    await problem(await operate(event.eventId, 'cancel'), 409, 'operation-not-allowed');
    const start = new Date(Date.now() + 48 * HOUR).toISOString();
    const reopened = await mustOperate(event.eventId, 'reopen', { scheduledStartAt: start });
    expect(reopened.status).toBe('LIVE_STATUS_SCHEDULED');
    expect(reopened.scheduledStartAt).toBe(start);
  });
});

describe('update', () => {
  it('name, metadata, schedule and security; the playback ids follow the access policy', async () => {
    const event = await createEvent(ws);
    const start = new Date(Date.now() + 3 * HOUR).toISOString();
    const end = new Date(Date.now() + 4 * HOUR).toISOString();
    const updated = (
      await json(
        await api(ws, 'PATCH', `/live/events/${event.eventId}`, {
          name: 'renamed',
          metadata: { k: 'v' },
          scheduledStartAt: start,
          scheduledEndAt: end,
          security: { accessPolicy: 'private', allowedDomains: ['*.example.com'] },
        }),
      )
    ).data;
    expect(updated).toMatchObject({
      name: 'renamed',
      metadata: { k: 'v' },
      scheduledStartAt: start,
      scheduledEndAt: end,
      security: { accessPolicy: 'private', allowedDomains: ['*.example.com'] },
      playbackIds: { public: { accessPolicy: 'private' }, preview: { accessPolicy: 'private' } },
    });
    const { results } = await env.DB.prepare('SELECT DISTINCT access_policy FROM playback_ids WHERE stream_id = ?').bind(event.streamId).all();
    expect(results).toEqual([{ access_policy: 'private' }]);
  });

  it('bad patches → 400 naming the field', async () => {
    const event = await createEvent(ws);
    const patch = (b: unknown) => api(ws, 'PATCH', `/live/events/${event.eventId}`, b);
    expect(fields(await problem(await patch({}), 400, 'invalid-request'))).toEqual(['(body)']);
    expect(fields(await problem(await patch({ type: 'LIVE_TYPE_SIMULIVE' }), 400, 'invalid-request'))).toEqual(['type']);
    expect(fields(await problem(await patch({ ullEnabled: 'no' }), 400, 'invalid-request'))).toEqual(['ullEnabled']);
    // an end before the stored start
    const early = await problem(await patch({ scheduledEndAt: new Date(Date.now() + 60_000).toISOString() }), 400, 'invalid-request');
    expect(fields(early)).toEqual(['scheduledEndAt']);
    const mode = await problem(await patch({ broadcastMode: 'BROADCAST_MODE_PLAYBACK' }), 400, 'invalid-request');
    expect(fields(mode)).toEqual(['broadcastMode']);
  });
});

describe('list', () => {
  it('newest first, keyset pages, status filter, only the workspace\'s own', async () => {
    const mine = await createWorkspace('events-list');
    const far = new Date(Date.now() + 20 * HOUR).toISOString();
    const a = await createEvent(mine, { scheduledStartAt: far });
    const b = await createEvent(mine);
    const c = await createEvent(mine, { scheduledStartAt: far });
    await createEvent(other);

    const first = await json(await api(mine, 'GET', '/live/events?limit=2'));
    expect(first.data.map((e: any) => e.eventId)).toEqual([c.eventId, b.eventId]);
    expect(first.pagination.nextCursor).toEqual(expect.any(String));
    const second = await json(await api(mine, 'GET', `/live/events?limit=2&cursor=${first.pagination.nextCursor}`));
    expect(second.data.map((e: any) => e.eventId)).toEqual([a.eventId]);
    expect(second.pagination.nextCursor).toBeNull();

    const scheduled = (await json(await api(mine, 'GET', '/live/events?status=LIVE_STATUS_SCHEDULED'))).data;
    expect(scheduled.map((e: any) => e.eventId)).toEqual([c.eventId, a.eventId]);
    expect(scheduled.every((e: any) => e.playbackUrls.public.startsWith('http://edge.test/hls/'))).toBe(true);
  });

  it('bad queries → 400 naming the parameter', async () => {
    expect(fields(await problem(await api(ws, 'GET', '/live/events?status=LIVE'), 400, 'invalid-request'))).toEqual(['status']);
    expect(fields(await problem(await api(ws, 'GET', '/live/events?limit=0'), 400, 'invalid-request'))).toEqual(['limit']);
    expect(fields(await problem(await api(ws, 'GET', '/live/events?customId=a%20b'), 400, 'invalid-request'))).toEqual(['customId']);
    expect(fields(await problem(await api(ws, 'GET', '/live/events?cursor=nope'), 400, 'invalid-cursor'))).toEqual(['cursor']);
  });
});

describe('delete', () => {
  it('removes the event, its stream and its playback ids', async () => {
    const event = await createEvent(ws);
    expect((await api(ws, 'DELETE', `/live/events/${event.eventId}`)).status).toBe(204);
    await problem(await api(ws, 'GET', `/live/events/${event.eventId}`), 404, 'not-found');
    expect((await api(ws, 'GET', `/live/streams/${event.streamId}`)).status).toBe(404);
    const ids = await env.DB.prepare('SELECT COUNT(*) AS n FROM playback_ids WHERE stream_id = ?').bind(event.streamId).first<{ n: number }>();
    expect(ids!.n).toBe(0);
  });
});

describe('OpenAPI and webhooks', () => {
  it('documents each route under a stable operationId', async () => {
    const doc = await json(await call('/v1/openapi.json'));
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)
      .flatMap((methods) => Object.values(methods).map((m) => m.operationId))
      .filter((id): id is string => typeof id === 'string' && id.endsWith('live-event') || id?.endsWith('live-events') === true);
    expect(ids.sort()).toEqual(
      [
        'archive-live-event',
        'cancel-live-event',
        'create-live-event',
        'delete-live-event',
        'end-live-event',
        'get-live-event',
        'list-live-events',
        'preview-live-event',
        'reopen-live-event',
        'start-live-event',
        'update-live-event',
      ].sort(),
    );
    expect(doc.components.schemas.LiveEvent).toBeDefined();
  });

  it('a webhook endpoint may subscribe to live event types only', async () => {
    const response = await api(ws, 'POST', '/webhooks', {
      url: 'https://example.com/hooks/events',
      eventTypes: ['video.live_event.live', 'video.live_event.vod_ready', 'video.live_event.created'],
    });
    expect(response.status).toBe(201);
    const bad = await api(ws, 'POST', '/webhooks', { url: 'https://example.com/hooks/x', eventTypes: ['video.live_event.bogus'] });
    expect(bad.status).toBe(400);
  });
});
