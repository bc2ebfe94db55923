// The lifecycle through the public and internal APIs: StreamObject state, alarms run on demand, D1 and the Queue.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { signRequest } from '../../shared/request-signing.ts';
import {
  api,
  authorize,
  call,
  createStream,
  createWorkspace,
  getStream,
  json,
  originEvent,
  sendEvents,
  signedCall,
  sendHeartbeat,
  ORIGIN,
  type Workspace,
} from './helpers.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('lifecycle');
});

const stub = (streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId));
const events = (streamId: string) => getStream(ws, streamId).then((s) => s.activities.map((a: any) => a.event));

async function publishing(body: unknown = {}) {
  const stream = await createStream(ws, body);
  const response = await authorize(stream.streamKey);
  expect(response.status).toBe(200);
  const grant = await json(response);
  return { stream, grant };
}

async function refusal(response: Response) {
  expect(response.status).toBe(403);
  return (await json(response)).reason as string;
}

describe('publish and authorize', () => {
  it('accepts the key: STREAMING at once, with the session and settings the origin needs', async () => {
    const { stream, grant } = await publishing({ record: true, maxResolution: '720p' });
    expect(grant).toMatchObject({ streamId: stream.streamId, resume: false, record: true, maxResolution: '720p', profiles: null });
    expect(grant.sessionId).toMatch(/^ses_/);
    expect(grant.srtPassphrase).toBeUndefined();
    const live = await getStream(ws, stream.streamId);
    expect(live.status).toBe('STREAMING');
    expect(live.currentSession).toMatchObject({ id: grant.sessionId, reconnects: 0 });
    const listed = (await json(await api(ws, 'GET', '/live/streams?status=STREAMING&limit=100'))).data;
    expect(listed.map((s: any) => s.streamId)).toContain(stream.streamId);
  });

  it('hands SRT callers the passphrase', async () => {
    const stream = await createStream(ws);
    const grant = await json(await authorize(stream.streamKey, 'srt'));
    expect(grant.srtPassphrase).toBe(stream.srtSecret);
  });

  it('refuses an unknown key, a second publisher, a disabled and a finished stream', async () => {
    expect(await refusal(await authorize('sk_not_a_key'))).toBe('unknown_stream_key');
    const { stream } = await publishing();
    expect(await refusal(await authorize(stream.streamKey))).toBe('already_live');

    const disabled = await createStream(ws);
    await api(ws, 'PUT', `/live/streams/${disabled.streamId}/live-disable`);
    expect(await refusal(await authorize(disabled.streamKey))).toBe('stream_disabled');

    await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    expect(await refusal(await authorize(stream.streamKey))).toBe('stream_finished');
  });

  it('refuses a deleted stream key', async () => {
    const stream = await createStream(ws);
    await api(ws, 'DELETE', `/live/streams/${stream.streamId}`);
    expect(await refusal(await authorize(stream.streamKey))).toBe('unknown_stream_key');
  });
});

describe('reconnect window', () => {
  it('encoder lost → DISCONNECTED; reconnect before the alarm → same session resumed', async () => {
    const { stream, grant } = await publishing();
    const done = await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' })]);
    expect((await json(done)).results[0].outcome).toBe('applied');
    expect((await getStream(ws, stream.streamId)).status).toBe('DISCONNECTED');
    const alarmAt = await runInDurableObject(stub(stream.streamId), (_o, state) => state.storage.getAlarm());
    expect(alarmAt).toBeGreaterThan(Date.now() + 55_000);

    const again = await json(await authorize(stream.streamKey));
    expect(again).toMatchObject({ sessionId: grant.sessionId, resume: true });
    const live = await getStream(ws, stream.streamId);
    expect(live.status).toBe('STREAMING');
    expect(live.currentSession.reconnects).toBe(1);
  });

  it('alarm at the end of the window → STOPPED, and the key is refused until live-enable', async () => {
    const { stream, grant } = await publishing({ reconnectWindow: 30 });
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' })]);
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
    expect(await events(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'STOPPED']);
    expect(await refusal(await authorize(stream.streamKey))).toBe('stream_finished');

    const enabled = await api(ws, 'PUT', `/live/streams/${stream.streamId}/live-enable`);
    expect((await json(enabled)).data.status).toBe('NOT_STARTED');
    const next = await json(await authorize(stream.streamKey));
    expect(next.resume).toBe(false);
    expect(next.sessionId).not.toBe(grant.sessionId);
  });

  it('no stats for 10 s counts as encoder lost; the window then runs', async () => {
    const { stream, grant } = await publishing();
    const stats = {
      sourceSegments: 1, transcodedSegments: 3, sourceSegmentsDuration: 2, transcodedSegmentsDuration: 6,
      sourceBytes: 1000, transcodedBytes: 2000, ingestRate: 500, outgoingRate: 1000, isHealthy: true, issues: null,
    };
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'stats', stats)]);
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
    const heartbeatAlarm = await runInDurableObject(stub(stream.streamId), (_o, state) => state.storage.getAlarm());
    expect(heartbeatAlarm).toBeLessThanOrEqual(Date.now() + 10_000);

    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    const lost = await getStream(ws, stream.streamId);
    expect(lost.status).toBe('DISCONNECTED');
    expect(lost.activities.at(-1).reason).toMatch(/no stats/);
    // The origin is heard without the session: the encoder is gone, so the window's end stops the stream. (An origin
    // not heard since would keep it in doubt: test/edge/stream-liveness.test.ts.)
    await sendHeartbeat(ORIGIN.originId, []);
    expect(await runDurableObjectAlarm(stub(stream.streamId))).toBe(true);
    expect((await getStream(ws, stream.streamId)).status).toBe('STOPPED');
  });
});

describe('commands while live', () => {
  it('reset-stream-key: the old key is refused at once, the publisher is dropped, the new key resumes', async () => {
    const { stream, grant } = await publishing();
    const reset = await api(ws, 'POST', `/live/streams/${stream.streamId}/reset-stream-key`);
    expect(reset.status).toBe(200);
    const { data } = await json(reset);
    expect(data.streamKey).not.toBe(stream.streamKey);
    expect(data.ingest.rtmp.url).toContain(data.streamKey);
    expect(data.status).toBe('DISCONNECTED');
    expect(await refusal(await authorize(stream.streamKey))).toBe('unknown_stream_key');
    const resumed = await json(await authorize(data.streamKey));
    expect(resumed).toMatchObject({ resume: true, sessionId: grant.sessionId });
  });

  it('delete while live stops, deletes, and refuses the key', async () => {
    const { stream } = await publishing();
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}`)).status).toBe(204);
    expect(await refusal(await authorize(stream.streamKey))).toBe('unknown_stream_key');
  });

  it('complete when not live is a 409 conflict', async () => {
    const stream = await createStream(ws);
    const response = await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
    expect(response.status).toBe(409);
    expect((await json(response)).type).toBe('https://riverhead.dev/problems/not-live');
    expect((await api(ws, 'PUT', `/live/streams/${stream.streamId}/live-enable`)).status).toBe(409);
  });

  it('recording_started moves a record=true stream to RECORDING', async () => {
    const { stream, grant } = await publishing({ record: true });
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'recording_started')]);
    expect((await getStream(ws, stream.streamId)).status).toBe('RECORDING');
  });

  it('an origin error → ERROR with the reason', async () => {
    const { stream, grant } = await publishing();
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'error', { reason: 'transcoder failed' })]);
    const errored = await getStream(ws, stream.streamId);
    expect(errored).toMatchObject({ status: 'ERROR', errorReason: 'transcoder failed' });
  });
});

describe('signed origin calls', () => {
  it('refuses a bad signature, a stale or future timestamp and missing headers, and nothing changes', async () => {
    const stream = await createStream(ws);
    const body = { streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN };
    // Each timestamp is taken right before its own call: one taken once at the start drifted inside the 60 s window
    // when the calls before it took over a second (a loaded machine), and the "future" call was then accepted.
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    const wrongSecret = await signedCall('/internal/ingest/authorize', body, { secret: 'not-the-secret' });
    const stale = await signedCall('/internal/ingest/authorize', body, { now: nowSeconds() - 65 });
    const future = await signedCall('/internal/ingest/authorize', body, { now: nowSeconds() + 65 });
    const unsigned = await call('/internal/ingest/authorize', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    for (const [name, response] of Object.entries({ wrongSecret, stale, future, unsigned })) {
      expect(response.status, name).toBe(401);
    }
    expect((await json(stale)).reason).toBe('stale');
    expect((await getStream(ws, stream.streamId)).status).toBe('NOT_STARTED');
  });

  it('a signature over a different body is refused', async () => {
    const stream = await createStream(ws);
    const signed = JSON.stringify({ streamKey: 'sk_other', protocol: 'rtmp', ...ORIGIN });
    const sent = JSON.stringify({ streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN });
    const headers = await signRequest('test-origin-secret', 'POST', '/internal/ingest/authorize', signed);
    const response = await call('/internal/ingest/authorize', {
      method: 'POST',
      body: sent,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(401);
    expect((await getStream(ws, stream.streamId)).status).toBe('NOT_STARTED');
  });

  it('a replayed event id is a duplicate and changes nothing', async () => {
    const { stream, grant } = await publishing();
    const event = originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' });
    const first = await json(await sendEvents([event]));
    expect(first.results).toEqual([{ id: event.id, outcome: 'applied' }]);
    await authorize(stream.streamKey); // back live, so a re-applied publish_done would show
    const replay = await json(await sendEvents([event]));
    expect(replay.results).toEqual([{ id: event.id, outcome: 'duplicate' }]);
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
    expect(await events(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'ON_PUBLISH']);
  });

  it('applies a batch in order per stream', async () => {
    const { stream, grant } = await publishing();
    const batch = [
      originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' }),
      originEvent(stream.streamId, grant.sessionId, 'error', { reason: 'late failure' }),
    ];
    const { results } = await json(await sendEvents(batch));
    expect(results.map((r: any) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await events(stream.streamId)).toEqual(['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'ERROR']);
  });

  it('refuses malformed event batches with 400', async () => {
    const response = await signedCall('/internal/events', { events: [{ id: 'x', type: 'teleport' }] });
    expect(response.status).toBe(400);
  });
});

describe('webhook events', () => {
  it('every transition puts exactly one complete event on the Queue, numbered in order per stream', async () => {
    const { stream, grant } = await publishing({ reconnectWindow: 10 });
    await sendEvents([originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'eof' })]);
    await runDurableObjectAlarm(stub(stream.streamId));
    const expected = ['CREATED', 'ON_PUBLISH', 'ON_PUBLISH_DONE', 'STOPPED'];
    let rows: { body: string }[] = [];
    for (let i = 0; i < 50 && rows.length < expected.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = (
        await env.DB.prepare('SELECT body FROM webhook_events WHERE stream_id = ? ORDER BY sequence')
          .bind(stream.streamId)
          .all<{ body: string }>()
      ).results;
    }
    const received = rows.map((r) => JSON.parse(r.body));
    expect(received.map((e) => e.event)).toEqual(expected);
    expect(received.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(received.map((e) => e.type)).toEqual([
      'video.live_stream.created',
      'video.live_stream.active',
      'video.live_stream.disconnected',
      'video.live_stream.stopped',
    ]);
    expect(new Set(received.map((e) => e.id)).size).toBe(4);
    expect(received[1]).toMatchObject({ status: 'STREAMING', sessionId: grant.sessionId, workspaceId: ws.id });
    expect(received[1].data.streamId).toBe(stream.streamId);
    expect(JSON.stringify(received)).not.toContain(stream.streamKey);
    expect(JSON.stringify(received)).not.toContain(stream.srtSecret);
  });
});

describe('authorize checks', () => {
  it('a check answers with the passphrase and changes nothing; refusals are the same as for a publish', async () => {
    const stream = await createStream(ws);
    const check = await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'srt', check: true, ...ORIGIN });
    expect(check.status).toBe(200);
    expect((await json(check)).srtPassphrase).toBe(stream.srtSecret);
    expect(await events(stream.streamId)).toEqual(['CREATED']);
    await authorize(stream.streamKey, 'srt');
    const busy = await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'srt', check: true, ...ORIGIN });
    expect(await refusal(busy)).toBe('already_live');
  });
});
