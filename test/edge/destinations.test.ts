// Issue 14 at the edge: /v1/live/streams/{id}/destinations (every route and refusal), the targets authorize hands the
// holding origin, the full set sent again as POST /control/destinations when they change while live (an owed effect,
// retried, never holding up the API answer), and the holder's destination_status events moving each destination's
// status and becoming destination.* webhooks; the hosts a destination may name (webhooks' address rules) and its
// stream key sealed at rest. The origin's control port is a stand-in at the network boundary (globalThis.fetch), as in
// the other edge tests: it records every command and answers what the test says.
import { describe, it, expect, beforeAll, afterAll, beforeEach, vi, type MockInstance } from 'vitest';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { ORIGIN, api, authorize, call, createStream, createWorkspace, json, originEvent, sendEvents, sendHeartbeat, signedCall, type Workspace } from './helpers.ts';
import { owedEffects, receivedWebhooks, stub } from './stream-faults.ts';
import { DestinationsCommand } from '../../shared/schemas/internal.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { deriveOriginSecret } from '../../shared/origin-credentials.ts';
import { SEALED_PREFIX, destinationKeyCipher, openStreamKey, sealStreamKey } from '../../edge/stream/destination-keys.ts';

const YOUTUBE_KEY = 'abcd-efgh-ijkl-mnop-qrst';
const TWITCH_KEY = 'live_987654321_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876';
const RTMP_KEY = 'secret-relay-key-7f3a';

interface Command {
  host: string;
  path: string;
  text: string;
  headers: Headers;
  body: any;
}
const commands: Command[] = [];
/** What the origin answers /control/destinations with; a promise holds the answer back (a slow origin). */
let destinationsAnswer: () => Promise<number> = async () => 200;
let originFetch: MockInstance<typeof fetch>;
beforeAll(() => {
  originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const url = new URL(request.url);
    const text = typeof init?.body === 'string' ? init.body : '';
    commands.push({ host: url.host, path: url.pathname, text, headers: new Headers(init?.headers ?? request.headers), body: text ? JSON.parse(text) : null });
    // A holder asked about its encoder (a publish through another origin) no longer has it: the session moves.
    if (url.pathname === '/control/holds') return Response.json({ publishing: false });
    const status = url.pathname === '/control/destinations' ? await destinationsAnswer() : 200;
    return new Response(null, { status });
  });
});
afterAll(() => originFetch.mockRestore());
beforeEach(() => {
  destinationsAnswer = async () => 200;
});

const syncs = (streamId: string) => commands.filter((c) => c.path === '/control/destinations' && c.body?.streamId === streamId);

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('destinations');
});

const base = (streamId: string) => `/live/streams/${streamId}/destinations`;
const create = (streamId: string, body: unknown) => api(ws, 'POST', base(streamId), body);

async function createOk(streamId: string, body: unknown) {
  const response = await create(streamId, body);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await json(response)).data;
}

async function problemOf(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return json(response);
}

async function live(body: unknown = {}) {
  const stream = await createStream(ws, body);
  return { stream, streamId: stream.streamId as string, streamKey: stream.streamKey as string };
}

describe('/v1/live/streams/{streamId}/destinations', () => {
  it('create, list, get, PATCH, delete; the stream key is never shown', async () => {
    const { streamId } = await live();
    const yt = await createOk(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    expect(yt).toMatchObject({
      streamId,
      name: 'YouTube',
      platform: 'youtube',
      url: 'rtmp://a.rtmp.youtube.com/live2',
      rendition: 'source',
      enabled: true,
      status: 'idle',
      lastError: null,
      startedAt: null,
      bytesSent: 0,
      reconnects: 0,
    });
    expect(yt.destinationId).toMatch(/^dst_[A-Za-z0-9]{16}$/);
    expect(yt).not.toHaveProperty('streamKey');
    const tw = await createOk(streamId, { platform: 'twitch', streamKey: TWITCH_KEY, name: 'Twitch main', rendition: '720p' });
    expect(tw).toMatchObject({ url: 'rtmp://live.twitch.tv/app', name: 'Twitch main', rendition: '720p' });
    const fb = await createOk(streamId, { platform: 'facebook', streamKey: 'FB-1234567890123456-0-AbCdEfGhIjKl', enabled: false });
    expect(fb).toMatchObject({ url: 'rtmps://live-api-s.facebook.com:443/rtmp', status: 'disabled' });
    const own = await createOk(streamId, { platform: 'rtmp', url: 'rtmps://relay.example.com:443/live', streamKey: RTMP_KEY });
    expect(own.name).toBe('relay.example.com');

    const listed = await api(ws, 'GET', base(streamId));
    expect(listed.status).toBe(200);
    const listText = await listed.text();
    expect(JSON.parse(listText).data.map((d: any) => d.destinationId)).toEqual([yt.destinationId, tw.destinationId, fb.destinationId, own.destinationId]);
    for (const key of [YOUTUBE_KEY, TWITCH_KEY, RTMP_KEY, 'AbCdEfGhIjKl']) expect(listText).not.toContain(key);

    const got = await api(ws, 'GET', `${base(streamId)}/${tw.destinationId}`);
    expect(got.status).toBe(200);
    expect((await json(got)).data).toEqual(tw);

    const patched = await api(ws, 'PATCH', `${base(streamId)}/${tw.destinationId}`, { name: 'Twitch backup', rendition: 'source', enabled: false });
    expect(patched.status).toBe(200);
    expect((await json(patched)).data).toMatchObject({ name: 'Twitch backup', rendition: 'source', enabled: false, status: 'disabled' });

    const keyOnly = await api(ws, 'PATCH', `${base(streamId)}/${own.destinationId}`, { streamKey: 'another-key' });
    expect(keyOnly.status).toBe(200);
    expect(await keyOnly.text()).not.toContain('another-key');

    expect((await api(ws, 'DELETE', `${base(streamId)}/${tw.destinationId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `${base(streamId)}/${tw.destinationId}`)).status).toBe(404);
    expect((await json(await api(ws, 'GET', base(streamId)))).data).toHaveLength(3);
  });

  it('refuses bad input with a 400 problem naming the field', async () => {
    const { streamId } = await live({ maxResolution: '720p' });
    const cases: [unknown, string, RegExp][] = [
      [{ platform: 'youtube', streamKey: TWITCH_KEY }, 'streamKey', /YouTube stream key/],
      [{ platform: 'twitch', streamKey: YOUTUBE_KEY }, 'streamKey', /Twitch stream key/],
      [{ platform: 'rtmp', streamKey: RTMP_KEY }, 'url', /required for platform rtmp/],
      [{ platform: 'rtmp', url: 'http://example.com/live', streamKey: RTMP_KEY }, 'url', /rtmp:\/\/ or rtmps:\/\//],
      [{ platform: 'rtmp', url: 'rtmp://bob:hunter2@example.com/live', streamKey: RTMP_KEY }, 'url', /user name or password/],
      [{ platform: 'rtmp', url: 'rtmp://example.com/live', streamKey: 'with space' }, 'streamKey', /printable/],
      [{ platform: 'youtube', streamKey: YOUTUBE_KEY, rendition: '1080p' }, 'rendition', /one of: source, 720p, 480p, 360p/],
    ];
    for (const [body, field, message] of cases) {
      const problem = await problemOf(await create(streamId, body), 400);
      expect(problem.type, JSON.stringify(body)).toBe('https://riverhead.dev/problems/invalid-destination');
      expect(problem.errors.map((e: any) => e.field)).toEqual([field]);
      expect(problem.errors[0].message).toMatch(message);
      expect(JSON.stringify(problem)).not.toContain('hunter2');
      expect(JSON.stringify(problem)).not.toContain(TWITCH_KEY);
    }
    // Schema refusals: unknown platform, missing key, unknown field.
    for (const [body, field] of [
      [{ platform: 'myspace', streamKey: 'x' }, 'platform'],
      [{ platform: 'youtube' }, 'streamKey'],
      [{ platform: 'youtube', streamKey: YOUTUBE_KEY, password: 'x' }, 'password'],
    ] as const) {
      const problem = await problemOf(await create(streamId, body), 400);
      expect(problem.errors.map((e: any) => e.field)).toContain(field);
    }
    // PATCH: a bad url, and a platform the stored key does not fit.
    const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net/live', streamKey: TWITCH_KEY });
    const badUrl = await problemOf(await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { url: 'rtmp://u@relay.example.net/live' }), 400);
    expect(badUrl.errors[0].field).toBe('url');
    const badPlatform = await problemOf(await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { platform: 'youtube' }), 400);
    expect(badPlatform.errors[0]).toMatchObject({ field: 'streamKey', message: expect.stringMatching(/stored key/) });
    const moved = await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { platform: 'twitch' });
    expect((await json(moved)).data).toMatchObject({ platform: 'twitch', url: 'rtmp://live.twitch.tv/app' });
    expect((await problemOf(await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { rendition: '4k' }), 400)).errors[0].field).toBe('rendition');
  });

  it('holds at most 10 destinations per stream', async () => {
    const { streamId } = await live();
    for (let i = 0; i < 10; i++) await createOk(streamId, { platform: 'rtmp', url: `rtmp://relay.example.net:${2000 + i}/live`, streamKey: `k${i}` });
    const problem = await problemOf(await create(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net/live', streamKey: 'k' }), 400);
    expect(problem.detail).toMatch(/at most 10 destinations/);
  });

  it('answers 404 for an unknown stream or destination, and for another workspace', async () => {
    const { streamId } = await live();
    const d = await createOk(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    expect((await create('ls_nope', { platform: 'youtube', streamKey: YOUTUBE_KEY })).status).toBe(404);
    expect((await api(ws, 'GET', base('ls_nope'))).status).toBe(404);
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'x' }], ['DELETE', undefined]] as const) {
      expect((await api(ws, method, `${base(streamId)}/dst_nope`, body)).status, method).toBe(404);
    }
    const other = await createWorkspace('destinations-other');
    expect((await api(other, 'GET', base(streamId))).status).toBe(404);
    expect((await api(other, 'GET', `${base(streamId)}/${d.destinationId}`)).status).toBe(404);
    expect((await api(other, 'DELETE', `${base(streamId)}/${d.destinationId}`)).status).toBe(404);
    expect((await api(ws, 'GET', `${base(streamId)}/${d.destinationId}`)).status).toBe(200);
    // A deleted stream takes its destinations (and their keys) with it.
    await api(ws, 'DELETE', `/live/streams/${streamId}`);
    expect((await api(ws, 'GET', base(streamId))).status).toBe(404);
    const left = await runInDurableObject(stub(streamId), (_o, state) => state.storage.sql.exec('SELECT COUNT(*) AS n FROM destinations').one().n);
    expect(left).toBe(0);
  });

  it('documents stable operationIds', async () => {
    const spec = await json(await call('/v1/openapi.json'));
    const ids = Object.values(spec.paths as Record<string, Record<string, { operationId?: string }>>)
      .flatMap((p) => Object.values(p).map((op) => op.operationId))
      .filter((id) => id?.includes('destination'));
    expect(ids.sort()).toEqual(['create-destination', 'delete-destination', 'get-destination', 'list-destinations', 'update-destination']);
  });
});

describe("a destination's host", () => {
  /** The API called on a loopback host (`npm start`, the e2e stack): local development, loopback destinations allowed. */
  const onLoopback = (method: string, path: string, body: unknown) =>
    (exports as unknown as { default: Fetcher }).default.fetch(
      new Request(`http://127.0.0.1/v1${path}`, { method, headers: { authorization: ws.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    );

  it('is refused with a 400 naming url when it is a private, link-local, metadata, unspecified or loopback address', async () => {
    const { streamId } = await live();
    for (const [url, message] of [
      ['rtmp://10.0.0.7:1935/live', /private, loopback, link-local or reserved address/],
      ['rtmp://169.254.169.254/live', /private, loopback, link-local or reserved address/],
      ['rtmps://[fd00:ec2::254]:443/live', /private, loopback, link-local or reserved address/],
      ['rtmp://0.0.0.0/live', /private, loopback, link-local or reserved address/],
      ['rtmp://0xa9fea9fe/live', /private, loopback, link-local or reserved address/],
      ['rtmp://metadata.google.internal/live', /cloud metadata host/],
      ['rtmp://127.0.0.1:1935/live', /a local address cannot be a simulcast destination/],
      ['rtmp://localhost:1935/live', /a local address cannot be a simulcast destination/],
      ['rtmp://[::1]/live', /a local address cannot be a simulcast destination/],
    ] as const) {
      const problem = await problemOf(await create(streamId, { platform: 'rtmp', url, streamKey: RTMP_KEY }), 400);
      expect(problem.type, url).toBe('https://riverhead.dev/problems/invalid-destination');
      expect(problem.errors, url).toEqual([{ field: 'url', message: expect.stringMatching(message) }]);
      expect(problem.detail).toMatch(/^url: /);
    }
    // PATCH to such a URL too; the destination keeps its own.
    const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net/live', streamKey: RTMP_KEY });
    expect((await problemOf(await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { url: 'rtmp://192.168.0.10/live' }), 400)).errors[0].field).toBe('url');
    expect((await json(await api(ws, 'GET', `${base(streamId)}/${d.destinationId}`))).data.url).toBe('rtmp://relay.example.net/live');
    expect((await json(await api(ws, 'GET', base(streamId)))).data).toHaveLength(1);
  });

  it('may be loopback in local development (the API called on loopback), never a private or metadata address', async () => {
    const { streamId, streamKey } = await live();
    const created = await onLoopback('POST', base(streamId), { platform: 'rtmp', url: 'rtmp://127.0.0.1:1936/live', streamKey: RTMP_KEY });
    expect(created.status, await created.clone().text()).toBe(201);
    const d = (await json(created)).data;
    expect((await onLoopback('PATCH', `${base(streamId)}/${d.destinationId}`, { url: 'rtmp://localhost:1937/live' })).status).toBe(200);
    expect((await onLoopback('POST', base(streamId), { platform: 'rtmp', url: 'rtmp://169.254.169.254/live', streamKey: RTMP_KEY })).status).toBe(400);
    expect((await onLoopback('POST', base(streamId), { platform: 'rtmp', url: 'rtmp://10.0.0.7/live', streamKey: RTMP_KEY })).status).toBe(400);
    // Stored, it is relayed wherever the API is called from (a PATCH of its name does not judge it again).
    expect((await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { name: 'lab nginx' })).status).toBe(200);
    expect((await json(await authorize(streamKey))).simulcast).toEqual([{ destinationId: d.destinationId, url: `rtmp://localhost:1937/live/${RTMP_KEY}`, rendition: 'source', revision: 2 }]);
  });
});

describe('targets for the holding origin', () => {
  it('authorize hands out the enabled destinations with their full publish URL and revision', async () => {
    const { streamId, streamKey } = await live();
    const yt = await createOk(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    await createOk(streamId, { platform: 'twitch', streamKey: TWITCH_KEY, enabled: false });
    const own = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live/', streamKey: RTMP_KEY, rendition: '480p' });
    expect(syncs(streamId)).toHaveLength(0); // nothing live: nothing sent
    const grant = await json(await authorize(streamKey));
    expect(grant.simulcast).toEqual([
      { destinationId: yt.destinationId, url: `rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}`, rendition: 'source', revision: 1 },
      { destinationId: own.destinationId, url: `rtmp://relay.example.net:1936/live/${RTMP_KEY}`, rendition: '480p', revision: 1 },
    ]);
    // While live, every enabled destination is connecting until the holder reports.
    const listed = (await json(await api(ws, 'GET', base(streamId)))).data;
    expect(listed.map((d: any) => d.status)).toEqual(['connecting', 'disabled', 'connecting']);
  });

  it('changes while live send the full desired set to the holder, signed; a new url/key/rendition is a new revision', async () => {
    const { streamId, streamKey } = await live();
    const a = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: 'key-a' });
    const { sessionId } = await json(await authorize(streamKey));
    const lastSync = async (count: number) => {
      await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(count), { timeout: 3000 });
      const sent = syncs(streamId).at(-1)!;
      expect(sent.host).toBe(new URL(ORIGIN.originUrl).host);
      expect(DestinationsCommand.parse(sent.body)).toEqual(sent.body);
      expect(sent.body).toMatchObject({ streamId, sessionId });
      return sent;
    };

    const b = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1937/live', streamKey: 'key-b' });
    const added = await lastSync(1);
    expect(added.body.targets).toEqual([
      { destinationId: a.destinationId, url: 'rtmp://relay.example.net:1936/live/key-a', rendition: 'source', revision: 1 },
      { destinationId: b.destinationId, url: 'rtmp://relay.example.net:1937/live/key-b', rendition: 'source', revision: 1 },
    ]);
    // Signed with the holder's own secret, like every edge → origin command.
    const secret = await deriveOriginSecret('test-origin-secret', ORIGIN.originId, 1);
    expect(await verifyRequest(secret, 'POST', '/control/destinations', added.text, added.headers)).toEqual({ ok: true });

    await api(ws, 'PATCH', `${base(streamId)}/${b.destinationId}`, { streamKey: 'key-b2' });
    expect((await lastSync(2)).body.targets[1]).toEqual({ destinationId: b.destinationId, url: 'rtmp://relay.example.net:1937/live/key-b2', rendition: 'source', revision: 2 });

    // A name change does not touch the targets: nothing is sent.
    await api(ws, 'PATCH', `${base(streamId)}/${a.destinationId}`, { name: 'renamed' });
    await api(ws, 'PATCH', `${base(streamId)}/${a.destinationId}`, { enabled: false });
    expect((await lastSync(3)).body.targets.map((t: any) => t.destinationId)).toEqual([b.destinationId]);
    await api(ws, 'PATCH', `${base(streamId)}/${a.destinationId}`, { enabled: true });
    expect((await lastSync(4)).body.targets.map((t: any) => [t.destinationId, t.revision])).toEqual([[a.destinationId, 1], [b.destinationId, 2]]);
    await api(ws, 'DELETE', `${base(streamId)}/${b.destinationId}`);
    expect((await lastSync(5)).body.targets.map((t: any) => t.destinationId)).toEqual([a.destinationId]);
    expect(await owedEffects(streamId)).not.toContain('destinations_sync');
  });

  it('an origin that is slow or failing never holds up the answer; the sync is retried from the alarm', async () => {
    const { streamId, streamKey } = await live();
    await authorize(streamKey);
    // The origin takes 1.5 s, then does not know the session yet (404: it is still setting up the publish the
    // authorize answer opened): owed again, with backoff.
    destinationsAnswer = () => new Promise<number>((resolve) => setTimeout(() => resolve(404), 1500));
    const startedAt = Date.now();
    const response = await create(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    expect(response.status).toBe(201);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(1));

    await vi.waitFor(async () => {
      const row = await runInDurableObject(stub(streamId), (_o, state) =>
        state.storage.sql.exec<{ attempts: number; next_at: number }>("SELECT attempts, next_at FROM pending_effects WHERE key = 'destinations_sync'").toArray()[0],
      );
      expect(row?.attempts).toBe(1);
      expect(row!.next_at).toBeGreaterThan(Date.now());
    }, { timeout: 5000 });
    destinationsAnswer = async () => 200;
    await runDurableObjectAlarm(stub(streamId));
    await vi.waitFor(async () => expect(await owedEffects(streamId)).not.toContain('destinations_sync'));
    expect(syncs(streamId)).toHaveLength(2);
    expect(syncs(streamId)[1]!.body.targets).toHaveLength(1);

    // A refusal of the command itself (400) is not retried; an origin unreachable (5xx) is.
    destinationsAnswer = async () => 400;
    await create(streamId, { platform: 'twitch', streamKey: TWITCH_KEY });
    await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(3));
    await vi.waitFor(async () => expect(await owedEffects(streamId)).not.toContain('destinations_sync'));
    destinationsAnswer = async () => 503;
    await create(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: RTMP_KEY });
    await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(4));
    await vi.waitFor(async () => expect(await owedEffects(streamId)).toContain('destinations_sync'));
    // The broadcast ends: the owed sync is moot and goes without another command.
    await api(ws, 'POST', `/live/streams/${streamId}/complete`);
    await runDurableObjectAlarm(stub(streamId));
    await vi.waitFor(async () => expect(await owedEffects(streamId)).not.toContain('destinations_sync'));
    expect(syncs(streamId)).toHaveLength(4);
  }, 15_000);
});

describe('failover', () => {
  it("moves the targets with the session: the new holder gets them from authorize, later changes, and only its reports count", async () => {
    const A = { originId: 'origin-dst-a', originUrl: 'http://127.0.0.5:9' };
    const B = { originId: 'origin-dst-b', originUrl: 'http://127.0.0.6:9' };
    const via = (origin: typeof A, streamKey: string) => signedCall('/internal/ingest/authorize', { streamKey, protocol: 'rtmp', ...origin }, { originId: origin.originId });
    const { streamId, streamKey } = await live({ reconnectWindow: 30 });
    const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: RTMP_KEY });
    const first = await json(await via(A, streamKey));
    await sendHeartbeat(A.originId, [{ streamId, sessionId: first.sessionId }], { originUrl: A.originUrl, hlsUrl: A.originUrl });
    await sendHeartbeat(B.originId, [], { originUrl: B.originUrl, hlsUrl: B.originUrl });
    const taken = await json(await via(B, streamKey));
    expect(taken).toMatchObject({ sessionId: first.sessionId, resume: true });
    expect(taken.simulcast).toEqual([{ destinationId: d.destinationId, url: `rtmp://relay.example.net:1936/live/${RTMP_KEY}`, rendition: 'source', revision: 1 }]);

    await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { rendition: '720p' });
    await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(1));
    expect(syncs(streamId)[0]).toMatchObject({ host: '127.0.0.6:9', body: { sessionId: first.sessionId, targets: [{ rendition: '720p', revision: 2 }] } });

    const report = (origin: typeof A) =>
      sendEvents([originEvent(streamId, first.sessionId, 'destination_status', { destinationId: d.destinationId, revision: 2, status: 'live', error: null, bytesSent: 1, reconnects: 0 })], origin.originId);
    expect((await json(await report(A))).results[0]).toMatchObject({ outcome: 'refused', reason: 'not-session-holder' });
    expect((await json(await report(B))).results[0]).toMatchObject({ outcome: 'applied' });
    expect((await json(await api(ws, 'GET', `${base(streamId)}/${d.destinationId}`))).data.status).toBe('live');
  });
});

describe('stream keys at rest', () => {
  const storedKeys = (streamId: string) =>
    runInDurableObject(stub(streamId), (_o, state) =>
      state.storage.sql.exec<{ id: string; stream_key: string; revision: number }>('SELECT id, stream_key, revision FROM destinations ORDER BY created_at, id').toArray(),
    );
  /** Every table of the stream object's SQLite, as text. */
  const storageDump = (streamId: string) =>
    runInDurableObject(stub(streamId), (_o, state) => {
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'").toArray();
      return tables.map(({ name }) => `${name}: ${JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray())}`).join('\n');
    });
  const setStored = (streamId: string, id: string, value: string) =>
    runInDurableObject(stub(streamId), (_o, state) => void state.storage.sql.exec('UPDATE destinations SET stream_key = ? WHERE id = ?', value, id));

  it('are sealed with a key derived from the master, a fresh IV per write; authorize still hands out the full URL', async () => {
    const { streamId, streamKey } = await live();
    const a = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: RTMP_KEY });
    const b = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1937/live', streamKey: RTMP_KEY });
    const yt = await createOk(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    const rows = await storedKeys(streamId);
    expect(rows.map((r) => r.id)).toEqual([a.destinationId, b.destinationId, yt.destinationId]);
    for (const row of rows) expect(row.stream_key.startsWith(SEALED_PREFIX)).toBe(true);
    expect(rows[0]!.stream_key).not.toBe(rows[1]!.stream_key); // the same key, sealed twice, looks different
    const dump = await storageDump(streamId);
    expect(dump).toContain(rows[0]!.stream_key);
    for (const key of [RTMP_KEY, YOUTUBE_KEY, btoa(RTMP_KEY), btoa(YOUTUBE_KEY)]) expect(dump).not.toContain(key);
    // The edge's master opens them, under the purpose label, for their own destination.
    const cipher = await destinationKeyCipher('test-origin-secret');
    expect(await openStreamKey(cipher, a.destinationId, rows[0]!.stream_key)).toBe(RTMP_KEY);

    const grant = await json(await authorize(streamKey));
    expect(grant.simulcast.map((t: any) => t.url)).toEqual([
      `rtmp://relay.example.net:1936/live/${RTMP_KEY}`,
      `rtmp://relay.example.net:1937/live/${RTMP_KEY}`,
      `rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}`,
    ]);
    // A PATCH of another field keeps the sealed value (no restart); the same key sent again changes nothing either.
    await api(ws, 'PATCH', `${base(streamId)}/${a.destinationId}`, { name: 'renamed', streamKey: RTMP_KEY });
    expect((await storedKeys(streamId))[0]).toEqual(rows[0]);
    expect(syncs(streamId)).toHaveLength(0);
    // A new key: sealed anew, a new revision, sent to the holder in full.
    await api(ws, 'PATCH', `${base(streamId)}/${a.destinationId}`, { streamKey: 'rotated-key-5e1b' });
    const after = (await storedKeys(streamId))[0]!;
    expect(after).toMatchObject({ revision: 2, stream_key: expect.stringMatching(/^sealed-v1 /) });
    expect(after.stream_key).not.toContain('rotated-key-5e1b');
    await vi.waitFor(() => expect(syncs(streamId)).toHaveLength(1), { timeout: 3000 });
    expect(syncs(streamId)[0]!.body.targets[0]).toMatchObject({ url: 'rtmp://relay.example.net:1936/live/rotated-key-5e1b', revision: 2 });
  });

  it('a row stored before sealing is read as it is; a sealed key copied onto another destination does not open', async () => {
    const { streamId, streamKey } = await live();
    const old = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: RTMP_KEY });
    const other = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1937/live', streamKey: 'other-key-0c4d' });
    const moved = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1938/live', streamKey: 'moved-key-77aa' });
    await setStored(streamId, old.destinationId, 'legacy-plain-key');
    await setStored(streamId, moved.destinationId, (await storedKeys(streamId))[1]!.stream_key);
    const logs = vi.spyOn(console, 'log');
    try {
      const grant = await json(await authorize(streamKey));
      expect(grant.simulcast.map((t: any) => [t.destinationId, t.url])).toEqual([
        [old.destinationId, 'rtmp://relay.example.net:1936/live/legacy-plain-key'],
        [other.destinationId, 'rtmp://relay.example.net:1937/live/other-key-0c4d'],
      ]);
      expect(logs.mock.calls.map((args) => args.map(String).join(' ')).join('\n')).toMatch(new RegExp(`destination_key_unreadable.*${moved.destinationId}`));
    } finally {
      logs.mockRestore();
    }
    // The unreadable one is relayed again once it is given a key; the plain one is sealed when its key is next written.
    expect((await problemOf(await api(ws, 'PATCH', `${base(streamId)}/${moved.destinationId}`, { name: 'x' }), 400)).errors[0].field).toBe('streamKey');
    expect((await api(ws, 'PATCH', `${base(streamId)}/${moved.destinationId}`, { streamKey: 'moved-key-new' })).status).toBe(200);
    expect((await api(ws, 'PATCH', `${base(streamId)}/${old.destinationId}`, { streamKey: 'legacy-replaced' })).status).toBe(200);
    const rows = await storedKeys(streamId);
    expect(rows.every((row) => row.stream_key.startsWith(SEALED_PREFIX))).toBe(true);
    await vi.waitFor(() => expect(syncs(streamId).length).toBeGreaterThanOrEqual(2), { timeout: 3000 });
    expect(syncs(streamId).at(-1)!.body.targets.map((t: any) => t.url)).toEqual([
      'rtmp://relay.example.net:1936/live/legacy-replaced',
      'rtmp://relay.example.net:1937/live/other-key-0c4d',
      'rtmp://relay.example.net:1938/live/moved-key-new',
    ]);
  });

  it('open only with the same master and destination, untampered', async () => {
    const cipher = await destinationKeyCipher('test-origin-secret');
    const sealed = await sealStreamKey(cipher, 'dst_a', RTMP_KEY);
    expect(sealed.startsWith(SEALED_PREFIX)).toBe(true);
    expect(await sealStreamKey(cipher, 'dst_a', RTMP_KEY)).not.toBe(sealed);
    expect(await openStreamKey(cipher, 'dst_a', sealed)).toBe(RTMP_KEY);
    expect(await openStreamKey(cipher, 'dst_b', sealed)).toBeNull();
    expect(await openStreamKey(await destinationKeyCipher('another-master-secret'), 'dst_a', sealed)).toBeNull();
    const at = SEALED_PREFIX.length + 20;
    const tampered = sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1);
    expect(await openStreamKey(cipher, 'dst_a', tampered)).toBeNull();
    expect(await openStreamKey(cipher, 'dst_a', `${SEALED_PREFIX}!!`)).toBeNull();
    expect(await openStreamKey(cipher, 'dst_a', 'plain-old-key')).toBe('plain-old-key');
  });
});

describe('destination_status from the holder', () => {
  const status = (streamId: string, sessionId: string, destinationId: string, data: Partial<{ revision: number; status: string; error: string | null; bytesSent: number; reconnects: number }>) =>
    originEvent(streamId, sessionId, 'destination_status', { destinationId, revision: 1, status: 'connecting', error: null, bytesSent: 0, reconnects: 0, ...data });

  it('moves the status and emits connected, disconnected and failed webhooks about the destination', async () => {
    const { streamId, streamKey } = await live();
    const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: RTMP_KEY });
    const other = await createOk(streamId, { platform: 'youtube', streamKey: YOUTUBE_KEY });
    const { sessionId } = await json(await authorize(streamKey));
    const get = async (id = d.destinationId) => (await json(await api(ws, 'GET', `${base(streamId)}/${id}`))).data;
    const send = async (...events: unknown[]) => (await json(await sendEvents(events))).results.map((r: any) => r.outcome);

    expect(await send(status(streamId, sessionId, d.destinationId, { status: 'connecting' }))).toEqual(['applied']);
    expect((await get()).status).toBe('connecting');
    const liveAt = new Date().toISOString();
    expect(await send({ ...status(streamId, sessionId, d.destinationId, { status: 'live', bytesSent: 1000 }), at: liveAt })).toEqual(['applied']);
    expect(await get()).toMatchObject({ status: 'live', startedAt: liveAt, bytesSent: 1000, reconnects: 0, lastError: null });
    expect(await send(
      status(streamId, sessionId, d.destinationId, { status: 'live', bytesSent: 5000 }),
      status(streamId, sessionId, d.destinationId, { status: 'retrying', error: 'Connection refused', bytesSent: 5000 }),
    )).toEqual(['applied', 'applied']);
    expect(await get()).toMatchObject({ status: 'retrying', lastError: 'Connection refused', startedAt: liveAt });
    expect((await get(other.destinationId)).status).toBe('connecting'); // the other one is untouched
    await send(status(streamId, sessionId, d.destinationId, { status: 'live', bytesSent: 9000, reconnects: 1 }));
    expect(await get()).toMatchObject({ status: 'live', bytesSent: 9000, reconnects: 1 });
    // ffmpeg names the URL it failed on: the key in it is never shown.
    await send(status(streamId, sessionId, other.destinationId, { status: 'failed', error: `rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}: NetStream.Publish.BadName` }));
    expect(await get(other.destinationId)).toMatchObject({ status: 'failed', lastError: 'rtmp://a.rtmp.youtube.com/live2/[stream key]: NetStream.Publish.BadName' });

    // Webhooks: CREATED, ON_PUBLISH, then one per change, in order, each naming its destination.
    const hooks = await receivedWebhooks(streamId, 6);
    const about = hooks.filter((h: any) => h.subject?.kind === 'destination');
    expect(about.map((h: any) => [h.type, h.subject.id, h.reason])).toEqual([
      ['video.live_stream.destination.connected', d.destinationId, null],
      ['video.live_stream.destination.disconnected', d.destinationId, 'Connection refused'],
      ['video.live_stream.destination.connected', d.destinationId, null],
      ['video.live_stream.destination.failed', other.destinationId, 'rtmp://a.rtmp.youtube.com/live2/[stream key]: NetStream.Publish.BadName'],
    ]);
    expect(about.every((h: any) => h.sessionId === sessionId && h.status === 'STREAMING')).toBe(true);
    expect(hooks.map((h) => h.sequence)).toEqual(hooks.map((_, i) => i + 1));
    expect(JSON.stringify(hooks)).not.toContain(RTMP_KEY);
    expect(JSON.stringify(hooks)).not.toContain(YOUTUBE_KEY);
    const activities = (await json(await api(ws, 'GET', `/live/streams/${streamId}`))).data.activities.map((a: any) => a.event);
    expect(activities).toContain('DESTINATION_FAILED');

    // The broadcast ends: idle; the holder's late 'stopped' for that session still says disconnected.
    await api(ws, 'POST', `/live/streams/${streamId}/complete`);
    expect(await get()).toMatchObject({ status: 'idle', startedAt: null });
    expect(await send(status(streamId, sessionId, d.destinationId, { status: 'stopped', bytesSent: 9500, reconnects: 1 }))).toEqual(['applied']);
    expect(await get()).toMatchObject({ status: 'idle', bytesSent: 9500 });
    await vi.waitFor(async () => {
      const after = await receivedWebhooks(streamId, hooks.length + 1);
      expect(after.filter((h: any) => h.subject?.kind === 'destination').at(-1)).toMatchObject({ type: 'video.live_stream.destination.disconnected', reason: 'stopped' });
    }, { timeout: 5000 });
  }, 20_000);

  it("counts only the session holder's events, of the current revision", async () => {
    const { streamId, streamKey } = await live();
    const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: 'old-key' });
    const { sessionId } = await json(await authorize(streamKey));
    const outcome = async (event: unknown, originId?: string) => (await json(await sendEvents([event], originId))).results[0];

    const stranger = await outcome(status(streamId, sessionId, d.destinationId, { status: 'live' }), 'origin-stranger');
    expect(stranger).toMatchObject({ outcome: 'refused', reason: 'not-session-holder' });
    expect(await outcome(status(streamId, sessionId, 'dst_unknown', { status: 'live' }))).toMatchObject({ outcome: 'refused', reason: 'no such destination' });
    expect(await outcome(status(streamId, 'ses_other', d.destinationId, { status: 'live' }))).toMatchObject({ outcome: 'refused' });
    expect(await outcome(status(streamId, sessionId, d.destinationId, { status: 'live' }))).toMatchObject({ outcome: 'applied' });

    // A new key restarts the target as revision 2: the old relay's reports are ignored, and its end is said at once.
    await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { streamKey: 'new-key' });
    const restarted = (await json(await api(ws, 'GET', `${base(streamId)}/${d.destinationId}`))).data;
    expect(restarted).toMatchObject({ status: 'connecting', startedAt: null });
    expect(await outcome(status(streamId, sessionId, d.destinationId, { status: 'failed', error: 'old relay' }))).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/stale revision 1/),
    });
    expect((await json(await api(ws, 'GET', `${base(streamId)}/${d.destinationId}`))).data.status).toBe('connecting');
    expect(await outcome(status(streamId, sessionId, d.destinationId, { revision: 2, status: 'live' }))).toMatchObject({ outcome: 'applied' });
    const hooks = (await receivedWebhooks(streamId, 5)).filter((h: any) => h.subject?.kind === 'destination');
    expect(hooks.map((h: any) => h.type)).toEqual([
      'video.live_stream.destination.connected',
      'video.live_stream.destination.disconnected',
      'video.live_stream.destination.connected',
    ]);
    expect(hooks[1]!.reason).toMatch(/restarted/);
  });

  it('never logs a stream key', async () => {
    const logs = vi.spyOn(console, 'log');
    try {
      const { streamId, streamKey } = await live();
      const { sessionId } = await json(await authorize(streamKey));
      const d = await createOk(streamId, { platform: 'rtmp', url: 'rtmp://relay.example.net:1936/live', streamKey: 'logged-never-91d2' });
      await api(ws, 'PATCH', `${base(streamId)}/${d.destinationId}`, { streamKey: 'logged-never-73ac' });
      await sendEvents([status(streamId, sessionId, d.destinationId, { revision: 2, status: 'live' })]);
      await vi.waitFor(() => expect(syncs(streamId).length).toBeGreaterThanOrEqual(2));
      const lines = logs.mock.calls.map((args) => args.map(String).join(' ')).join('\n');
      expect(lines).toContain('destinations_sent');
      expect(lines).not.toContain('logged-never');
    } finally {
      logs.mockRestore();
    }
  });
});
