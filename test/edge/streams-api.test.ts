import { describe, it, expect, beforeAll } from 'vitest';
import { api, createWorkspace, createStream, json, call, type Workspace } from './helpers.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace();
});

describe('create', () => {
  it('returns the key and SRT secret once, with complete ingest URLs and defaults', async () => {
    const stream = await createStream(ws, { metadata: { livestream_name: 'launch' } });
    expect(stream.status).toBe('NOT_STARTED');
    expect(stream.enabled).toBe(true);
    expect(stream.reconnectWindow).toBe(60);
    expect(stream.record).toBe(false);
    expect(stream.streamKey).toMatch(/^sk_[A-Za-z0-9]{32}$/);
    expect(stream.srtSecret).toHaveLength(32);
    expect(stream.ingest.rtmp.url).toBe(`rtmp://127.0.0.1:1935/live/${stream.streamKey}`);
    expect(stream.ingest.rtmps.url).toBe(`rtmps://127.0.0.1:1936/live/${stream.streamKey}`);
    const srt = new URL(stream.ingest.srt.url);
    expect(srt.searchParams.get('streamid')).toBe(`#!::r=${stream.streamKey},m=publish`);
    expect(srt.searchParams.get('passphrase')).toBe(stream.srtSecret);
    expect(stream.playbackIds).toEqual([{ id: expect.any(String), accessPolicy: 'public' }]);
    expect(stream.activities.map((a: any) => [a.event, a.status])).toEqual([['CREATED', 'Created']]);

    const fetched = (await json(await api(ws, 'GET', `/live/streams/${stream.streamId}`))).data;
    expect(fetched.streamKey).toBeUndefined();
    expect(fetched.srtSecret).toBeUndefined();
    expect(fetched.ingest.srt.passphrase).toBeUndefined();
    expect(fetched.metadata).toEqual({ livestream_name: 'launch' });
  });

  it('accepts explicit profiles, record and a private playback policy', async () => {
    const stream = await createStream(ws, {
      record: true,
      reconnectWindow: 0,
      accessPolicy: 'private',
      maxResolution: '720p',
      profiles: [{ name: '480p', width: 854, height: 480, bitrate: 1_200_000, fps: 30 }],
    });
    expect(stream.record).toBe(true);
    expect(stream.reconnectWindow).toBe(0);
    expect(stream.playbackIds[0].accessPolicy).toBe('private');
    expect(stream.profiles[0]).toMatchObject({ name: '480p', gop: 2, fpsDen: 1, profile: 'H264High' });
  });

  it('creates with defaults from an empty POST', async () => {
    const response = await api(ws, 'POST', '/live/streams');
    expect(response.status).toBe(201);
  });
});

describe('bad input', () => {
  const problem = async (response: Response) => {
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const body = await json(response);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
    return body;
  };

  it('names unknown fields', async () => {
    const response = await api(ws, 'POST', '/live/streams', { reconectWindow: 30 });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.type).toBe('https://riverhead.dev/problems/invalid-request');
    expect(body.errors).toContainEqual({ field: 'reconectWindow', message: 'unknown field' });
  });

  it('names fields with wrong types and out-of-range values', async () => {
    const response = await api(ws, 'POST', '/live/streams', { reconnectWindow: 5000, record: 'yes' });
    expect(response.status).toBe(400);
    const fields = (await problem(response)).errors.map((e: any) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['reconnectWindow', 'record']));
  });

  it('bounds metadata', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    const response = await api(ws, 'POST', '/live/streams', { metadata });
    expect(response.status).toBe(400);
    expect((await problem(response)).errors[0].field).toBe('metadata');
    const long = await api(ws, 'POST', '/live/streams', { metadata: { name: 'x'.repeat(600) } });
    expect(long.status).toBe(400);
    expect((await problem(long)).errors[0].field).toBe('metadata.name');
  });

  it('refuses duplicate profile names and odd dimensions', async () => {
    const profile = { name: 'a', width: 640, height: 360, bitrate: 800_000, fps: 30 };
    const dup = await api(ws, 'POST', '/live/streams', { profiles: [profile, profile] });
    expect(dup.status).toBe(400);
    expect((await problem(dup)).errors[0].field).toBe('profiles');
    const odd = await api(ws, 'POST', '/live/streams', { profiles: [{ ...profile, width: 641 }] });
    expect((await problem(odd)).errors[0].field).toBe('profiles.0.width');
  });

  it('answers malformed JSON with 400', async () => {
    const response = await call('/v1/live/streams', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: '{"record": tru',
    });
    expect(response.status).toBe(400);
    expect((await problem(response)).type).toBe('https://riverhead.dev/problems/malformed-json');
  });

  it('answers a non-JSON body with 415', async () => {
    const response = await call('/v1/live/streams', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'text/plain' },
      body: 'record=true',
    });
    expect(response.status).toBe(415);
    const body = await problem(response);
    // A stable type clients can switch on, not Hono's generic one with its message as the title.
    expect(body).toMatchObject({ type: 'https://riverhead.dev/problems/unsupported-media-type', title: 'Unsupported media type' });
  });

  it('answers bodies over 64 KiB with 413', async () => {
    const response = await call('/v1/live/streams', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { a: 'x'.repeat(70 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect((await problem(response)).type).toBe('https://riverhead.dev/problems/body-too-large');
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await api(ws, 'GET', '/live/nothing-here/at/all');
    expect(response.status).toBe(404);
    await problem(response);
    const outside = await call('/nope');
    expect(outside.status).toBe(404);
    await problem(outside);
  });

  it('refuses a PATCH with nothing to change', async () => {
    const stream = await createStream(ws);
    const response = await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, {});
    expect(response.status).toBe(400);
  });

  it('refuses bad list parameters', async () => {
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'status=LIVE', 'cursor=%%%', 'bogus=1']) {
      const response = await api(ws, 'GET', `/live/streams?${query}`);
      expect(response.status, query).toBe(400);
      await problem(response);
    }
  });
});

describe('authentication and isolation', () => {
  it('refuses missing, malformed and wrong credentials with 401', async () => {
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      garbage: 'Basic !!!',
      scheme: 'Digest abc',
      wrongSecret: ws.auth.slice(0, -4) + btoa('nope').slice(0, 4),
      unknownId: `Basic ${btoa('at_unknown:secret')}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const response = await call('/v1/live/streams', { headers: authorization ? { authorization } : {} });
      expect(response.status, name).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('accepts Bearer id:secret as well as Basic', async () => {
    const [id, secret] = atob(ws.auth.slice('Basic '.length)).split(':');
    const response = await call('/v1/live/streams', { headers: { authorization: `Bearer ${id}:${secret}` } });
    expect(response.status).toBe(200);
  });

  it("treats another workspace's stream as not found, for every verb", async () => {
    const other = await createWorkspace('other');
    const stream = await createStream(ws);
    const id = stream.streamId;
    const attempts: [string, string, unknown?][] = [
      ['GET', `/live/streams/${id}`],
      ['PATCH', `/live/streams/${id}`, { record: true }],
      ['DELETE', `/live/streams/${id}`],
      ['PUT', `/live/streams/${id}/live-enable`],
      ['PUT', `/live/streams/${id}/live-disable`],
      ['POST', `/live/streams/${id}/complete`],
      ['POST', `/live/streams/${id}/reset-stream-key`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await api(other, method, path, body);
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const list = (await json(await api(other, 'GET', '/live/streams'))).data;
    expect(list.map((s: any) => s.streamId)).not.toContain(id);
    expect((await json(await api(ws, 'GET', `/live/streams/${id}`))).data.status).toBe('NOT_STARTED');
  });

  it('guards /admin with the ADMIN_TOKEN', async () => {
    const response = await call('/admin/workspaces', {
      method: 'POST',
      headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(response.status).toBe(401);
  });
});

describe('list', () => {
  it('pages through every stream newest first without repeats, and filters by status', async () => {
    const mine = await createWorkspace('pager');
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await createStream(mine)).streamId);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const body: any = await json(await api(mine, 'GET', `/live/streams?${query}`));
      expect(body.data.length).toBeLessThanOrEqual(3);
      seen.push(...body.data.map((s: any) => s.streamId));
      cursor = body.pagination.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
    expect(seen.sort()).toEqual([...created].sort());

    await api(mine, 'PUT', `/live/streams/${created[0]}/live-disable`);
    const notStarted = (await json(await api(mine, 'GET', '/live/streams?status=NOT_STARTED&limit=100'))).data;
    expect(notStarted).toHaveLength(7);
    const stopped = (await json(await api(mine, 'GET', '/live/streams?status=STOPPED'))).data;
    expect(stopped).toHaveLength(0);
  });
});

describe('update and delete', () => {
  it('updates settings and records an UPDATED activity', async () => {
    const stream = await createStream(ws);
    const response = await api(ws, 'PATCH', `/live/streams/${stream.streamId}`, {
      reconnectWindow: 30,
      record: true,
      metadata: { title: 'new' },
      accessPolicy: 'private',
    });
    expect(response.status).toBe(200);
    const { data } = await json(response);
    expect(data).toMatchObject({ reconnectWindow: 30, record: true, metadata: { title: 'new' } });
    expect(data.playbackIds[0].accessPolicy).toBe('private');
    expect(data.activities.map((a: any) => a.event)).toEqual(['CREATED', 'UPDATED']);
  });

  it('deletes: gone from get and list, and a second delete is 404', async () => {
    const stream = await createStream(ws);
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `/live/streams/${stream.streamId}`)).status).toBe(404);
    const list = (await json(await api(ws, 'GET', '/live/streams?limit=100'))).data;
    expect(list.map((s: any) => s.streamId)).not.toContain(stream.streamId);
    expect((await api(ws, 'DELETE', `/live/streams/${stream.streamId}`)).status).toBe(404);
  });
});

describe('OpenAPI', () => {
  it('serves a 3.1 document generated from the schemas, and a docs page', async () => {
    const response = await call('/v1/openapi.json');
    expect(response.status).toBe(200);
    const doc = await json(response);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/live/streams',
        '/v1/live/streams/{streamId}',
        '/v1/live/streams/{streamId}/live-enable',
        '/v1/live/streams/{streamId}/reset-stream-key',
      ]),
    );
    expect(doc.components.schemas.CreateLiveStreamRequest.properties.reconnectWindow.maximum).toBe(1800);
    const docs = await call('/v1/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
  });
});
