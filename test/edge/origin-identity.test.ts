// Origin identity (issue 11): each origin has its own id and secret, issued through /admin/origins and derived from the
// edge's master key; the signer of an /internal call is who it speaks for (its sessions only); heartbeats announce the
// origin and answer the SRT passphrase key; zones come from the origins' regions.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import {
  ADMIN_TOKEN,
  ORIGIN,
  ORIGIN_SECRET,
  api,
  call,
  createStream,
  createWorkspace,
  getStream,
  heartbeatBody,
  json,
  originEvent,
  signedCall,
  type Workspace,
} from './helpers.ts';
import { deriveOriginSecret, deriveSrtPassphraseKey } from '../../shared/origin-credentials.ts';
import { srtPassphraseFor } from '../../shared/srt-passphrase.ts';
import { pickOrigin } from '../../edge/origin-registry.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('origin-identity');
});

function admin(method: string, path: string, body?: unknown, token = ADMIN_TOKEN) {
  return call(`/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function provision(id: string, region = 'local'): Promise<string> {
  const response = await admin('POST', '/origins', { id, region });
  expect(response.status).toBe(201);
  return (await json(response)).data.secret as string;
}

const heartbeatAs = (originId: string, secret: string, extra: Record<string, unknown> = {}, sessions: { streamId: string; sessionId: string }[] = []) =>
  signedCall('/internal/origins/heartbeat', heartbeatBody(originId, sessions, extra), { originId, secret });

async function listed(id: string) {
  const { data } = await json(await admin('GET', '/origins'));
  return (data as { id: string }[]).find((o) => o.id === id) as Record<string, any> | undefined;
}

describe('/admin/origins', () => {
  it('provisions an origin with its own secret (shown once), lists it with health, and refuses a second with its id', async () => {
    const created = await admin('POST', '/origins', { id: 'crud-a', region: 'eu-crud' });
    expect(created.status).toBe(201);
    const { data } = await json(created);
    expect(data).toMatchObject({ id: 'crud-a', region: 'eu-crud', secret: expect.stringMatching(/^ors_[0-9a-f]{64}$/) });
    expect(data.secret).toBe(await deriveOriginSecret(ORIGIN_SECRET, 'crud-a', 1));
    expect(data.secret).not.toContain(ORIGIN_SECRET);

    expect(await listed('crud-a')).toMatchObject({ health: 'never-heard', lastHeardAt: null, ingestHost: null, draining: false, sessions: [] });
    expect(JSON.stringify(await json(await admin('GET', '/origins')))).not.toContain(data.secret);

    expect((await admin('POST', '/origins', { id: 'crud-a', region: 'eu-crud' })).status).toBe(409);
    const generated = await json(await admin('POST', '/origins', { region: 'eu-crud' }));
    expect(generated.data.id).toMatch(/^origin-[a-z0-9]{10}$/);
    expect((await admin('POST', '/origins', { id: 'Not Valid', region: 'x' })).status).toBe(400);
    expect((await admin('GET', '/origins', undefined, 'wrong-token')).status).toBe(401);
  });

  it('health: healthy once heard, with what it announced; silent after 10 s unheard; disabled once deleted', async () => {
    const secret = await provision('health-a', 'eu-health');
    const beat = await heartbeatAs('health-a', secret, {
      region: 'eu-health',
      ingestHost: 'ingest.eu.example',
      ports: { rtmp: 1935, rtmps: 1936, srt: 9000 },
      capacity: { units: 6 },
      load: { units: 1.5, sessions: 1 },
    }, [{ streamId: 'ls_x', sessionId: 'ses_x' }]);
    expect(beat.status).toBe(200);
    expect(await listed('health-a')).toMatchObject({
      region: 'eu-health',
      ingestHost: 'ingest.eu.example',
      ports: { rtmp: 1935, rtmps: 1936, srt: 9000 },
      hlsUrl: ORIGIN.originUrl,
      capacity: { units: 6 },
      load: { units: 1.5, sessions: 1 },
      draining: false,
      health: 'healthy',
      sessions: ['ses_x'],
      lastHeardAt: expect.any(String),
    });
    await env.DB.prepare('UPDATE origins SET announced_at = announced_at - 11000 WHERE id = ?').bind('health-a').run();
    expect((await listed('health-a'))!.health).toBe('silent');

    expect((await admin('DELETE', '/origins/health-a')).status).toBe(204);
    expect(await listed('health-a')).toMatchObject({ health: 'disabled', disabledAt: expect.any(String) });
    expect((await heartbeatAs('health-a', secret, { region: 'eu-health' })).status).toBe(401);
    expect((await admin('DELETE', '/origins/nobody-here')).status).toBe(404);
    expect((await admin('POST', '/origins/nobody-here/rotate-secret')).status).toBe(404);
  });

  it('rotating the secret makes the old one fail at once and the new one work (and enables a disabled origin)', async () => {
    const old = await provision('rotate-a');
    expect((await heartbeatAs('rotate-a', old)).status).toBe(200);
    const rotated = await admin('POST', '/origins/rotate-a/rotate-secret');
    expect(rotated.status).toBe(200);
    const fresh = (await json(rotated)).data.secret as string;
    expect(fresh).not.toBe(old);
    const refused = await heartbeatAs('rotate-a', old);
    expect(refused.status).toBe(401);
    expect((await json(refused)).reason).toBe('mismatch');
    expect((await heartbeatAs('rotate-a', fresh)).status).toBe(200);

    expect((await admin('DELETE', '/origins/rotate-a')).status).toBe(204);
    expect((await heartbeatAs('rotate-a', fresh)).status).toBe(401);
    const again = (await json(await admin('POST', '/origins/rotate-a/rotate-secret'))).data.secret as string;
    expect((await heartbeatAs('rotate-a', again)).status).toBe(200);
    expect((await heartbeatAs('rotate-a', fresh)).status).toBe(401);
  });
});

describe('signed origin calls', () => {
  it('refuses an unknown origin, a missing origin header, another origin\'s secret and the master key itself', async () => {
    const secretA = await provision('signer-a');
    const secretB = await provision('signer-b');
    const unknown = await heartbeatAs('never-provisioned', secretA);
    expect(unknown.status).toBe(401);
    expect((await json(unknown)).reason).toBe('unknown-origin');
    expect((await heartbeatAs('signer-a', secretB)).status).toBe(401); // B's secret does not speak for A
    expect((await heartbeatAs('signer-a', ORIGIN_SECRET)).status).toBe(401); // the master verifies nothing
    const body = JSON.stringify(heartbeatBody('signer-a', []));
    const noHeader = await call('/internal/origins/heartbeat', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(noHeader.status).toBe(401);
    expect((await heartbeatAs('signer-a', secretA)).status).toBe(200);
  });

  it('a call may not name another origin than its signer, nor another region than its own', async () => {
    const secretA = await provision('namer-a');
    await provision('namer-b');
    const claimsB = await signedCall('/internal/origins/heartbeat', heartbeatBody('namer-b', []), { originId: 'namer-a', secret: secretA });
    expect(claimsB.status).toBe(403);
    expect((await heartbeatAs('namer-a', secretA, { region: 'elsewhere' })).status).toBe(403);
    const stream = await createStream(ws);
    const authorize = await signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', originId: 'namer-b', originUrl: ORIGIN.originUrl }, { originId: 'namer-a', secret: secretA });
    expect(authorize.status).toBe(403);
    expect((await getStream(ws, stream.streamId)).status).toBe('NOT_STARTED');
  });

  it("the heartbeat answers the SRT passphrase key, from which the stream's SRT secret derives (never the master)", async () => {
    const secret = await provision('srt-key-a');
    const answer = await json(await heartbeatAs('srt-key-a', secret));
    const key = await deriveSrtPassphraseKey(ORIGIN_SECRET);
    expect(answer.srtPassphraseKey).toBe(key);
    expect(answer.srtPassphraseKey).not.toBe(ORIGIN_SECRET);
    const stream = await createStream(ws);
    expect(stream.srtSecret).toBe(await srtPassphraseFor(key, stream.streamKey));
  });
});

describe('an origin speaks only for the sessions it holds', () => {
  it("origin B's events for origin A's session are refused (not-session-holder); after B takes the session over, A's are", async () => {
    const secretA = await provision('holder-a');
    const secretB = await provision('holder-b');
    const stream = await createStream(ws, { reconnectWindow: 60 });
    const authorizeAs = (originId: string, secret: string) =>
      signedCall('/internal/ingest/authorize', { streamKey: stream.streamKey, protocol: 'rtmp', originId, originUrl: ORIGIN.originUrl }, { originId, secret });
    const eventsAs = (originId: string, secret: string, events: unknown[]) => signedCall('/internal/events', { events }, { originId, secret });

    const grant = await json(await authorizeAs('holder-a', secretA));
    const publish = originEvent(stream.streamId, grant.sessionId, 'publish', { protocol: 'rtmp' });
    const byB = await json(await eventsAs('holder-b', secretB, [publish, originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'forged' })]));
    expect(byB.results.map((r: any) => [r.outcome, r.reason])).toEqual([
      ['refused', 'not-session-holder'],
      ['refused', 'not-session-holder'],
    ]);
    const byA = await json(await eventsAs('holder-a', secretA, [{ ...publish, id: `${publish.id}-a` }]));
    expect(byA.results[0].outcome).toBe('applied');
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');

    // The encoder leaves A and comes back through B within the window: B holds the session now.
    const left = await json(await eventsAs('holder-a', secretA, [originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'encoder left' })]));
    expect(left.results[0].outcome).toBe('applied');
    const resumed = await json(await authorizeAs('holder-b', secretB));
    expect(resumed).toMatchObject({ sessionId: grant.sessionId, resume: true });
    const lateFromA = await json(await eventsAs('holder-a', secretA, [originEvent(stream.streamId, grant.sessionId, 'publish_done', { reason: 'late' })]));
    expect(lateFromA.results[0]).toMatchObject({ outcome: 'refused', reason: 'not-session-holder' });
    const fromB = await json(await eventsAs('holder-b', secretB, [originEvent(stream.streamId, grant.sessionId, 'publish', { protocol: 'rtmp' })]));
    expect(fromB.results[0].outcome).toBe('applied');
    expect((await getStream(ws, stream.streamId)).status).toBe('STREAMING');
  });
});

describe('zones', () => {
  it('lists the regions with origins, healthy ones, capacity and the ingest host they announce', async () => {
    const [one, two, draining] = [await provision('zone-a1', 'zone-a'), await provision('zone-a2', 'zone-a'), await provision('zone-b1', 'zone-b')];
    await heartbeatAs('zone-a1', one, { region: 'zone-a', ingestHost: 'a.ingest.example', capacity: { units: 4 }, load: { units: 1, sessions: 1 } });
    await heartbeatAs('zone-a2', two, { region: 'zone-a', ingestHost: 'a.ingest.example' });
    await env.DB.prepare('UPDATE origins SET announced_at = announced_at - 60000 WHERE id = ?').bind('zone-a2').run();
    await heartbeatAs('zone-b1', draining, { region: 'zone-b', ingestHost: 'b.ingest.example', draining: true });
    await provision('zone-c1', 'zone-c'); // never heard
    const disabled = await provision('zone-d1', 'zone-d');
    await heartbeatAs('zone-d1', disabled, { region: 'zone-d' });
    await admin('DELETE', '/origins/zone-d1');

    const response = await api(ws, 'GET', '/zones');
    expect(response.status).toBe(200);
    const zones = (await json(response)).data as { id: string }[];
    const byId = Object.fromEntries(zones.map((z) => [z.id, z]));
    expect(byId['zone-a']).toEqual({ id: 'zone-a', origins: 2, healthyOrigins: 1, hasCapacity: true, ingestHost: 'a.ingest.example' });
    expect(byId['zone-b']).toEqual({ id: 'zone-b', origins: 1, healthyOrigins: 1, hasCapacity: false, ingestHost: 'b.ingest.example' });
    expect(byId['zone-c']).toEqual({ id: 'zone-c', origins: 1, healthyOrigins: 0, hasCapacity: false, ingestHost: null });
    expect(byId['zone-d']).toBeUndefined();
    expect((await call('/v1/zones')).status).toBe(401);
  });

  it("a stream's zone puts its ingest URLs on the zone's host; an unknown zone is a 400 naming the field; null returns to the default", async () => {
    const secret = await provision('urls-1', 'zone-urls');
    await heartbeatAs('urls-1', secret, { region: 'zone-urls', ingestHost: 'urls.ingest.example' });
    const stream = await createStream(ws, { zone: 'zone-urls' });
    expect(stream.zone).toBe('zone-urls');
    expect(stream.ingest.rtmp.url).toMatch(/^rtmp:\/\/urls\.ingest\.example:\d+\/live\/sk_/);
    expect(stream.ingest.srt.url).toMatch(/^srt:\/\/urls\.ingest\.example:/);
    expect((await getStream(ws, stream.streamId)).ingest.rtmps.serverUrl).toMatch(/^rtmps:\/\/urls\.ingest\.example:/);

    const unknown = await api(ws, 'POST', '/live/streams', { zone: 'atlantis' });
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).errors).toEqual([{ field: 'zone', message: expect.stringContaining('atlantis') }]);

    const cleared = await json(await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { zone: null }));
    expect(cleared.data.zone).toBeNull();
    expect(cleared.data.ingest.rtmp.serverUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:/);
    expect((await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { zone: 'atlantis' })).status).toBe(400);
    const moved = await json(await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, { zone: 'zone-urls' }));
    expect(moved.data.ingest.rtmp.serverUrl).toMatch(/^rtmp:\/\/urls\.ingest\.example:/);
  });

  it('an origin of another region is refused the publish with wrong_zone; one of the zone takes it', async () => {
    const inZone = await provision('wz-in', 'zone-wz');
    const outside = await provision('wz-out', 'zone-other');
    const stream = await createStream(ws, { zone: 'zone-wz' });
    const body = (originId: string) => ({ streamKey: stream.streamKey, protocol: 'rtmp', originId, originUrl: ORIGIN.originUrl });
    const refused = await signedCall('/internal/ingest/authorize', body('wz-out'), { originId: 'wz-out', secret: outside });
    expect(refused.status).toBe(403);
    expect((await json(refused)).reason).toBe('wrong_zone');
    expect((await getStream(ws, stream.streamId)).status).toBe('NOT_STARTED');
    const accepted = await signedCall('/internal/ingest/authorize', body('wz-in'), { originId: 'wz-in', secret: inZone });
    expect(accepted.status).toBe(200);
    // A stream without a zone is taken by any origin.
    const anywhere = await createStream(ws);
    expect((await signedCall('/internal/ingest/authorize', { ...body('wz-out'), streamKey: anywhere.streamKey }, { originId: 'wz-out', secret: outside })).status).toBe(200);
  });
});

describe('pickOrigin', () => {
  it('picks a healthy origin that is not draining, most free capacity first, within the region and not excluded', async () => {
    const region = 'zone-pick';
    const ids = ['pick-small', 'pick-big', 'pick-draining', 'pick-silent'];
    const secrets = await Promise.all(ids.map((id) => provision(id, region)));
    const beat = (i: number, extra: Record<string, unknown>) =>
      heartbeatAs(ids[i]!, secrets[i]!, { region, hlsUrl: `http://127.0.0.1:${9100 + i}`, originUrl: `http://127.0.0.1:${9100 + i}`, ...extra });
    await beat(0, { capacity: { units: 4 }, load: { units: 3, sessions: 3 } });
    await beat(1, { capacity: { units: 8 }, load: { units: 2, sessions: 2 } });
    await beat(2, { capacity: { units: 16 }, load: { units: 0, sessions: 0 }, draining: true });
    await beat(3, { capacity: { units: 32 }, load: { units: 0, sessions: 0 } });
    await env.DB.prepare('UPDATE origins SET announced_at = announced_at - 11000 WHERE id = ?').bind('pick-silent').run();

    expect(await pickOrigin(env, { region })).toEqual({ originId: 'pick-big', hlsUrl: 'http://127.0.0.1:9101', controlUrl: 'http://127.0.0.1:9101' });
    expect((await pickOrigin(env, { region, exclude: ['pick-big'] }))?.originId).toBe('pick-small');
    expect(await pickOrigin(env, { region, exclude: ['pick-big', 'pick-small'] })).toBeNull();
    expect(await pickOrigin(env, { region: 'no-such-region' })).toBeNull();
  });
});
