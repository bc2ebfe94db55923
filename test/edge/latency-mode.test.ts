// latencyMode through the Worker in workerd (issue 15): streams take it on create and PATCH (refused with 409
// stream-live naming the field while live), the origin's authorize answer carries it, and an event's ullEnabled is its
// stream's latency mode (create and PATCH, the same live rule) instead of the old 400 low-latency-unavailable.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { api, authorize, createStream, createWorkspace, getStream, json, liveEventBody, sendHeartbeat, ORIGIN, type Workspace } from './helpers.ts';

vi.setConfig({ testTimeout: 20_000 });

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('latency-mode');
});

async function problem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const answer = await json(response);
  expect(answer.type).toBe(`https://riverhead.dev/problems/${type}`);
  return answer as { detail: string; errors?: { field: string; message: string }[] };
}
const fields = (answer: { errors?: { field: string }[] }) => (answer.errors ?? []).map((e) => e.field);
const patchStream = (streamId: string, body: unknown) => api(ws, 'PATCH', `/live/streams/${streamId}`, body);

describe('a live stream', () => {
  it("defaults to 'standard', takes 'low' on create, refuses other values naming the field", async () => {
    expect((await createStream(ws)).latencyMode).toBe('standard');
    const low = await createStream(ws, { latencyMode: 'low' });
    expect(low.latencyMode).toBe('low');
    expect((await getStream(ws, low.streamId)).latencyMode).toBe('low');
    const listed = (await json(await api(ws, 'GET', '/live/streams?limit=100'))).data.find((s: any) => s.streamId === low.streamId);
    expect(listed.latencyMode).toBe('low');
    const bad = await problem(await api(ws, 'POST', '/live/streams', { latencyMode: 'ultra' }), 400, 'invalid-request');
    expect(fields(bad)).toEqual(['latencyMode']);
  });

  it('PATCH changes it while not live; while live 409 stream-live naming latencyMode, and the same mode is no change', async () => {
    const stream = await createStream(ws);
    const patched = await patchStream(stream.streamId, { latencyMode: 'low' });
    expect(patched.status).toBe(200);
    expect((await json(patched)).data.latencyMode).toBe('low');

    const grant = await authorize(stream.streamKey);
    expect(grant.status).toBe(200);
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
    const refused = await problem(await patchStream(stream.streamId, { latencyMode: 'standard' }), 409, 'stream-live');
    expect(fields(refused)).toEqual(['latencyMode']);
    expect(refused.detail).toContain('not live');
    // Nothing of a refused PATCH is stored, not even its other fields.
    await problem(await patchStream(stream.streamId, { latencyMode: 'standard', metadata: { a: 'b' } }), 409, 'stream-live');
    const after = await getStream(ws, stream.streamId);
    expect(after.latencyMode).toBe('low');
    expect(after.metadata).toEqual({});
    // The mode it already has, and other settings, still change while live.
    expect((await patchStream(stream.streamId, { latencyMode: 'low', metadata: { a: 'b' } })).status).toBe(200);

    // Not live any more: it changes again.
    expect((await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`)).status).toBe(200);
    expect((await json(await patchStream(stream.streamId, { latencyMode: 'standard' }))).data.latencyMode).toBe('standard');
  });

  it("the origin's authorize answer carries the stream's latency mode", async () => {
    const low = await createStream(ws, { latencyMode: 'low' });
    const standard = await createStream(ws);
    expect((await json(await authorize(low.streamKey))).latencyMode).toBe('low');
    expect((await json(await authorize(standard.streamKey))).latencyMode).toBe('standard');
  });
});

describe("an event's ullEnabled", () => {
  async function createEvent(overrides: Record<string, unknown> = {}) {
    const response = await api(ws, 'POST', '/live/events', liveEventBody(overrides));
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
    return (await json(response)).data;
  }
  const patchEvent = (eventId: string, body: unknown) => api(ws, 'PATCH', `/live/events/${eventId}`, body);

  it("true is accepted and makes the event's stream 'low'; false is 'standard'", async () => {
    const ull = await createEvent({ ullEnabled: true });
    expect(ull.ullEnabled).toBe(true);
    expect((await getStream(ws, ull.streamId)).latencyMode).toBe('low');
    expect((await json(await api(ws, 'GET', `/live/events/${ull.eventId}`))).data.ullEnabled).toBe(true);
    const plain = await createEvent();
    expect(plain.ullEnabled).toBe(false);
    expect((await getStream(ws, plain.streamId)).latencyMode).toBe('standard');
  });

  it('PATCH maps to the stream while it is not live; 409 stream-live naming ullEnabled while it is', async () => {
    expect((await sendHeartbeat(ORIGIN.originId, [])).status).toBe(200); // an origin can take it: /preview opens ingest
    const event = await createEvent({ scheduledStartAt: new Date(Date.now() + 60_000).toISOString() });
    const on = await patchEvent(event.eventId, { ullEnabled: true });
    expect(on.status).toBe(200);
    expect((await json(on)).data.ullEnabled).toBe(true);
    expect((await getStream(ws, event.streamId)).latencyMode).toBe('low');

    expect((await api(ws, 'POST', `/live/events/${event.eventId}/preview`)).status).toBe(200);
    const grant = await authorize(event.ingest.rtmp.streamKey);
    expect(grant.status).toBe(200);
    expect((await json(grant)).latencyMode).toBe('low');
    const refused = await problem(await patchEvent(event.eventId, { ullEnabled: false, name: 'renamed' }), 409, 'stream-live');
    expect(fields(refused)).toEqual(['ullEnabled']);
    const unchanged = (await json(await api(ws, 'GET', `/live/events/${event.eventId}`))).data;
    expect(unchanged.ullEnabled).toBe(true);
    expect(unchanged.name).toBeNull(); // the refused PATCH stored nothing
    expect((await patchEvent(event.eventId, { ullEnabled: true, name: 'renamed' })).status).toBe(200); // no change: fine

    // The stream's own PATCH is held to the same rule.
    expect(fields(await problem(await patchStream(event.streamId, { latencyMode: 'standard' }), 409, 'stream-live'))).toEqual(['latencyMode']);
  });
});
