// Issue 11 retention: a session's durable media that no recording needs goes SESSION_MEDIA_GRACE_SECONDS after the
// session ended (record=false, or its recording deleted); a workspace's recordingRetentionDays cleans its recordings
// (objects really gone from R2, the recording kept as `cleaned`), by the stream's own alarm or the scheduled sweep.
import { describe, it, expect, beforeAll, afterAll, vi, type MockInstance } from 'vitest';
import { env, exports } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { ADMIN_TOKEN, ORIGIN, api, call, createStream, createWorkspace, json, originEvent, signedCall, type Workspace } from './helpers.ts';
import { alarmOf, recordingOf, stub } from './stream-faults.ts';

const DAY_MS = 86_400_000;

// The origins' control ports: every command is answered 200 (the flows under test here do not depend on them).
let originFetch: MockInstance<typeof fetch>;
beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(null, { status: 200 }));
});
afterAll(() => originFetch.mockRestore());

const admin = (method: string, path: string, body?: unknown) =>
  call(`/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function keys(prefix: string): Promise<string[]> {
  return (await env.MEDIA.list({ prefix })).objects.map((o) => o.key);
}

/** A broadcast whose origin is silent (so nothing waits on it), with durable media in R2, completed. */
async function endedBroadcast(ws: Workspace, record: boolean) {
  const stream = await createStream(ws, { record, reconnectWindow: 30 });
  const grant = await json(await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', ...ORIGIN }));
  const sessionId = grant.sessionId as string;
  await env.DB.prepare('UPDATE origin_heartbeats SET heard_at = heard_at - 60000 WHERE origin_id = ?').bind(ORIGIN.originId).run();
  const prefix = `live/${stream.streamId}/${sessionId}/`;
  await env.MEDIA.put(`${prefix}master.m3u8`, '#EXTM3U\n');
  await env.MEDIA.put(`${prefix}720p/index.m3u8`, '#EXTM3U\n');
  await env.MEDIA.put(`${prefix}720p/a1b2c3-00000.ts`, 'segment bytes');
  const endedAt = Date.now();
  await api(ws, 'POST', `/live/streams/${stream.streamId}/complete`);
  const recordingId = `rec_${sessionId.replace(/^ses_/, '')}`;
  if (record) {
    await vi.waitFor(async () => expect((await recordingOf(stream.streamId, ws.id, recordingId))?.watchable).toBe(true), { timeout: 5000 });
    await env.MEDIA.put(`recordings/${recordingId}/recording.mp4`, 'mp4 bytes');
    await env.MEDIA.put(`recordings/${recordingId}/screenshot.jpg`, 'jpeg bytes');
  }
  return { streamId: stream.streamId as string, sessionId, prefix, recordingId, endedAt };
}

/** When the stream's object will delete a prefix (its media_retention row), or null. */
const deletionOf = (streamId: string, prefix: string) =>
  runInDurableObject(stub(streamId), (_o, state) =>
    state.storage.sql.exec<{ delete_at: number }>('SELECT delete_at FROM media_retention WHERE prefix = ?', prefix).toArray()[0]?.delete_at ?? null,
  );

/** The broadcast as if it had ended `ms` earlier: in its object's sessions and in the D1 recordings index. */
async function endedEarlier(b: { streamId: string; sessionId: string; recordingId: string }, ms: number): Promise<void> {
  await runInDurableObject(stub(b.streamId), (_o, state) => {
    state.storage.sql.exec('UPDATE sessions SET ended_at = ended_at - ? WHERE id = ?', ms, b.sessionId);
  });
  await env.DB.prepare('UPDATE recordings SET ended_at = ended_at - ? WHERE id = ?').bind(ms, b.recordingId).run();
}

/** Runs the stream's alarm until `done` holds (other deadlines may come first), a bounded number of times. */
async function runAlarmsUntil(streamId: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 10 && !(await done()); i++) {
    await runDurableObjectAlarm(stub(streamId));
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('session media', () => {
  it('of an unrecorded session is deleted once the grace after its end has passed', async () => {
    const ws = await createWorkspace('retention-unrecorded');
    const b = await endedBroadcast(ws, false);
    expect(await keys(b.prefix)).toHaveLength(3);
    const alarm = (await alarmOf(b.streamId))!;
    expect(alarm).toBeGreaterThanOrEqual(b.endedAt + DAY_MS);
    expect(alarm).toBeLessThan(Date.now() + DAY_MS + 5_000);
    await runAlarmsUntil(b.streamId, async () => (await keys(b.prefix)).length === 0);
    expect(await keys(b.prefix)).toEqual([]);
    expect(await alarmOf(b.streamId)).toBeNull();
  });

  it('of a recorded session stays while the recording lives; deleting the recording frees it after the grace', async () => {
    const ws = await createWorkspace('retention-deleted');
    const b = await endedBroadcast(ws, true);
    expect((await api(ws, 'DELETE', `/recordings/${b.recordingId}`)).status).toBe(204);
    expect(await keys(`recordings/${b.recordingId}/`)).toEqual([]); // its own objects go at once
    expect(await keys(b.prefix)).toHaveLength(3); // the session's media waits out the grace
    const deleteAt = (await deletionOf(b.streamId, b.prefix))!;
    expect(deleteAt).toBeGreaterThanOrEqual(b.endedAt + DAY_MS);
    expect(deleteAt).toBeLessThan(Date.now() + DAY_MS);
    await runAlarmsUntil(b.streamId, async () => (await keys(b.prefix)).length === 0);
    expect(await keys(b.prefix)).toEqual([]);
  });
});

describe('recording retention', () => {
  it('is a workspace setting, readable and settable through the admin API', async () => {
    const ws = await createWorkspace('retention-setting');
    expect((await json(await admin('GET', `/workspaces/${ws.id}`))).data).toMatchObject({ id: ws.id, recordingRetentionDays: null });
    const set = await admin('PATCH', `/workspaces/${ws.id}`, { recordingRetentionDays: 30 });
    expect(set.status).toBe(200);
    expect((await json(set)).data.recordingRetentionDays).toBe(30);
    expect((await json(await admin('GET', `/workspaces/${ws.id}`))).data.recordingRetentionDays).toBe(30);
    expect((await admin('PATCH', `/workspaces/${ws.id}`, { recordingRetentionDays: 0 })).status).toBe(400);
    expect((await admin('PATCH', `/workspaces/ws_nope`, { recordingRetentionDays: 3 })).status).toBe(404);
    expect((await json(await admin('PATCH', `/workspaces/${ws.id}`, { recordingRetentionDays: null }))).data.recordingRetentionDays).toBeNull();
  });

  it('cleans a recording on its stream alarm when its retention runs out: objects gone, listed as cleaned', async () => {
    const ws = await createWorkspace('retention-alarm');
    await admin('PATCH', `/workspaces/${ws.id}`, { recordingRetentionDays: 1 });
    const b = await endedBroadcast(ws, true);
    await vi.waitFor(async () => expect((await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data.cleanable).toBe(true));
    const before = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(before).toMatchObject({ watchable: true, cleanable: true, cleaned: false });
    const expiresAt = Date.parse(before.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(b.endedAt + DAY_MS);
    expect(expiresAt).toBeLessThan(Date.now() + DAY_MS);
    await vi.waitFor(async () => expect((await recordingOf(b.streamId, ws.id, b.recordingId))?.expiresAt).toBe(before.expiresAt));

    await runAlarmsUntil(b.streamId, async () => (await recordingOf(b.streamId, ws.id, b.recordingId))?.cleaned === true);
    const after = (await json(await api(ws, 'GET', `/recordings/${b.recordingId}`))).data;
    expect(after).toMatchObject({ cleaned: true, cleanable: true, watchable: false, exportable: false, recordingUrl: null, mp4Url: null });
    expect(await keys(`recordings/${b.recordingId}/`)).toEqual([]);
    expect(await keys(b.prefix)).toEqual([]);
    const playback = await call(`/hls/${after.playbackId}/master.m3u8`);
    expect(playback.status).toBe(404);
    await playback.arrayBuffer();
    expect((await json(await api(ws, 'GET', '/recordings'))).data.map((r: any) => r.id)).toContain(b.recordingId);
    const [session] = (await json(await api(ws, 'GET', `/live/streams/${b.streamId}/sessions`))).data;
    expect(session).toMatchObject({ recordingStatus: 'none', recordingUrl: null, mp4Url: null });
  });

  it('a policy set later applies to recordings already made: the scheduled sweep cleans those past it', async () => {
    const ws = await createWorkspace('retention-sweep');
    const old = await endedBroadcast(ws, true);
    const recent = await endedBroadcast(ws, true);
    await vi.waitFor(async () => {
      const row = await env.DB.prepare('SELECT ended_at FROM recordings WHERE id = ?').bind(old.recordingId).first<{ ended_at: number | null }>();
      expect(row?.ended_at).not.toBeNull();
    });
    expect((await json(await api(ws, 'GET', `/recordings/${old.recordingId}`))).data).toMatchObject({ cleanable: false, expiresAt: null });
    // The first broadcast ended three days ago.
    await endedEarlier(old, 3 * DAY_MS);
    expect((await admin('PATCH', `/workspaces/${ws.id}`, { recordingRetentionDays: 2 })).status).toBe(200);
    const listed = (await json(await api(ws, 'GET', '/recordings'))).data;
    expect(listed.find((r: any) => r.id === recent.recordingId)).toMatchObject({ cleanable: true, cleaned: false });

    const worker = (exports as unknown as { default: { scheduled(options: { scheduledTime: number; cron: string }): Promise<unknown> } }).default;
    await worker.scheduled({ scheduledTime: Date.now(), cron: '*/10 * * * *' });
    await vi.waitFor(async () => expect((await recordingOf(old.streamId, ws.id, old.recordingId))?.cleaned).toBe(true), { timeout: 5000 });
    expect(await keys(`recordings/${old.recordingId}/`)).toEqual([]);
    expect(await keys(old.prefix)).toEqual([]);
    // The recent one is within the policy: untouched.
    expect(await recordingOf(recent.streamId, ws.id, recent.recordingId)).toMatchObject({ cleaned: false, watchable: true });
    expect(await keys(recent.prefix)).toHaveLength(3);
    expect(await keys(`recordings/${recent.recordingId}/`)).toHaveLength(2);
    // On demand, the sweep finds nothing more to do.
    const sweep = await json(await admin('POST', '/retention/sweep'));
    expect(sweep.data).toMatchObject({ cleaned: 0, failedStreams: 0 });
  });
});
