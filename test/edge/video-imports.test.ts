// Video imports (issue 13) inside workerd: POST /v1/videos/imports creates an importing video from an https URL, and
// refuses, naming `url`, every URL webhooks refuse (plain http, credentials, private, link-local, metadata and loopback
// literal hosts in any spelling), plain http to loopback only in local development; the URL (a presigned one's query is
// a credential) is never in the answer, the video, nor a log line.
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { exports } from 'cloudflare:workers';
import { api, call, createWorkspace, json, type Workspace } from './helpers.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('video-imports');
});

/** The API as `npm start` serves it: called on a loopback host, so the local-development switch is on. */
const viaLoopback = (path: string, init: RequestInit) =>
  (exports as unknown as { default: Fetcher }).default.fetch(new Request(`http://127.0.0.1:8787${path}`, init));

describe('POST /v1/videos/imports', () => {
  it('creates an importing video from an https URL, and never shows the URL', async () => {
    const url = 'https://bucket.s3.eu-west-1.amazonaws.com/talks/keynote.mp4?X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeefsecret';
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    let response: Response;
    try {
      response = await api(ws, 'POST', '/videos/imports', { url, title: 'Keynote', metadata: { team: 'events' } });
    } finally {
      spy.mockRestore();
    }
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain('deadbeefsecret');
    const { data: video } = JSON.parse(text);
    expect(video).toMatchObject({ status: 'importing', source: 'import', title: 'Keynote', metadata: { team: 'events' }, error: null, readyAt: null });
    expect(video.videoId).toMatch(/^vid_[A-Za-z0-9]{16}$/);
    expect(video.playbackIds).toEqual([{ id: expect.any(String), accessPolicy: 'public' }]);
    expect(lines.join('\n')).not.toContain('deadbeefsecret');
    expect(lines.join('\n')).toContain('video_import_created');

    const read = await api(ws, 'GET', `/videos/${video.videoId}`);
    expect(read.status).toBe(200);
    const readText = await read.text();
    expect(readText).not.toContain('deadbeefsecret');
    expect(JSON.parse(readText).data).toMatchObject({ videoId: video.videoId, status: 'importing', source: 'import' });
    const listed = await json(await api(ws, 'GET', '/videos?source=import'));
    expect(listed.data.map((v: { videoId: string }) => v.videoId)).toContain(video.videoId);
  });

  it.each([
    ['http://media.example.com/v.mp4', /must be an https:\/\/ URL/],
    ['ftp://media.example.com/v.mp4', /must be an https:\/\/ URL/],
    ['https://user:secret@media.example.com/v.mp4', /credentials in the URL are not allowed/],
    ['https://169.254.169.254/latest/meta-data/', /private, loopback, link-local or reserved address cannot be imported from/],
    ['https://10.0.0.1/v.mp4', /cannot be imported from/],
    ['https://192.168.1.10/v.mp4', /cannot be imported from/],
    ['https://[fd00:ec2::254]/v.mp4', /cannot be imported from/],
    ['https://[::ffff:169.254.169.254]/v.mp4', /cannot be imported from/],
    ['https://metadata.google.internal/v.mp4', /cannot be imported from/],
    ['https://127.0.0.1/v.mp4', /a local address cannot be imported from/],
    ['https://2130706433/v.mp4', /a local address cannot be imported from/],
    ['https://0x7f.1/v.mp4', /a local address cannot be imported from/],
    ['https://[::1]/v.mp4', /a local address cannot be imported from/],
    ['https://localhost/v.mp4', /a local address cannot be imported from/],
    ['http://127.0.0.1:9999/v.mp4', /only allowed in local development/],
    ['https://intranet/v.mp4', /local and internal names cannot be imported from/],
    ['not a url', /not an absolute URL/],
  ])('refuses %s naming url', async (url, detail) => {
    const response = await api(ws, 'POST', '/videos/imports', { url });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = await json(response);
    expect(problem.errors).toEqual([{ field: 'url', message: expect.stringMatching(detail) }]);
    expect(problem.detail).toMatch(/^url: /);
  });

  it('refuses a body without url, with an unknown field, or a URL too long, naming the field', async () => {
    for (const [body, field] of [
      [{}, 'url'],
      [{ url: '' }, 'url'],
      [{ url: `https://media.example.com/${'a'.repeat(4100)}` }, 'url'],
      [{ url: 'https://media.example.com/v.mp4', sourceUrl: 'x' }, 'sourceUrl'],
      [{ url: 'https://media.example.com/v.mp4', accessPolicy: 'secret' }, 'accessPolicy'],
    ] as const) {
      const response = await api(ws, 'POST', '/videos/imports', body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(JSON.stringify((await json(response)).errors), JSON.stringify(body).slice(0, 80)).toContain(field);
    }
  });

  it('takes plain http to loopback only in local development (the API called on loopback)', async () => {
    const response = await viaLoopback('/v1/videos/imports', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9999/v.mp4', accessPolicy: 'private' }),
    });
    expect(response.status).toBe(201);
    const { data } = await json(response);
    expect(data).toMatchObject({ status: 'importing', source: 'import', playbackIds: [{ accessPolicy: 'private' }] });
    expect(data.hlsUrl).toBeNull();
    // Still no private or metadata host there: only loopback is let through.
    const metadata = await viaLoopback('/v1/videos/imports', {
      method: 'POST',
      headers: { authorization: ws.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://169.254.169.254/latest/meta-data/' }),
    });
    expect(metadata.status).toBe(400);
  });

  it('needs credentials', async () => {
    const response = await call('/v1/videos/imports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://media.example.com/v.mp4' }) });
    expect(response.status).toBe(401);
  });
});
