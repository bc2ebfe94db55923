// Edge → origin requests are signed with that origin's own secret (derived from the master key) over method, path
// with query and body, so the origin's verifier (the same shared/request-signing.ts) accepts them and no other
// origin's secret does; an unknown or disabled origin gets no request at all.
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signedOriginFetch, UnknownOriginError } from '../../edge/origin-fetch.ts';
import { sendOriginCommand } from '../../edge/origin-commands.ts';
import { forgetOrigin } from '../../edge/origin-registry.ts';
import { verifyRequest } from '../../shared/request-signing.ts';
import { provisionOrigin } from './helpers.ts';

/** What reached "the network": each request as the origin would read it. */
function captureFetch(answer: () => Response = () => new Response('ok')) {
  const seen: { url: URL; method: string; headers: Headers; body: string }[] = [];
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    seen.push({ url: new URL(request.url), method: request.method, headers: request.headers, body: await request.text() });
    return answer();
  });
  return { seen, spy };
}

afterEach(() => vi.restoreAllMocks());

describe('signedOriginFetch', () => {
  it('signs a GET over path and query with the origin\'s own secret', async () => {
    const secret = await provisionOrigin('origin-sign-a');
    const other = await provisionOrigin('origin-sign-b');
    const { seen } = captureFetch();
    const response = await signedOriginFetch(env, 'origin-sign-a', 'https://a.origins.example.com/hls/ls_1/ses_1/source/index.m3u8?_HLS_msn=4');
    expect(await response.text()).toBe('ok');
    const [request] = seen;
    expect(request!.method).toBe('GET');
    const target = `${request!.url.pathname}${request!.url.search}`;
    expect(target).toBe('/hls/ls_1/ses_1/source/index.m3u8?_HLS_msn=4');
    expect(await verifyRequest(secret, 'GET', target, '', request!.headers)).toEqual({ ok: true });
    // Not valid for another origin, another query, or as the master key.
    expect(await verifyRequest(other, 'GET', target, '', request!.headers)).toEqual({ ok: false, reason: 'mismatch' });
    expect(await verifyRequest(secret, 'GET', '/hls/ls_1/ses_1/source/index.m3u8?_HLS_msn=5', '', request!.headers)).toEqual({ ok: false, reason: 'mismatch' });
    expect(await verifyRequest(env.ORIGIN_SECRET, 'GET', target, '', request!.headers)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('signs a command\'s body and passes the origin\'s answer back (sendOriginCommand)', async () => {
    const secret = await provisionOrigin('origin-sign-c');
    const { seen } = captureFetch(() => new Response('{}', { status: 429, headers: { 'retry-after': '7' } }));
    const answer = await sendOriginCommand(env, 'origin-sign-c', 'https://c.origins.example.com', '/control/kick', { streamId: 'ls_1', sessionId: 'ses_1', reason: 'test', final: false });
    expect(answer).toEqual({ status: 429, retryAfterSeconds: 7 });
    const [request] = seen;
    expect(request!.method).toBe('POST');
    expect(request!.url.href).toBe('https://c.origins.example.com/control/kick');
    expect(request!.headers.get('content-type')).toBe('application/json');
    expect(await verifyRequest(secret, 'POST', '/control/kick', request!.body, request!.headers)).toEqual({ ok: true });
    expect(await verifyRequest(secret, 'POST', '/control/kick', request!.body.replace('test', 'other'), request!.headers)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('sends nothing for an unknown or disabled origin', async () => {
    const { seen } = captureFetch();
    await expect(signedOriginFetch(env, 'origin-never-issued', 'https://x.example.com/hls/a/b.m3u8')).rejects.toBeInstanceOf(UnknownOriginError);
    await provisionOrigin('origin-sign-d');
    await env.DB.prepare('UPDATE origins SET disabled_at = ? WHERE id = ?').bind(new Date().toISOString(), 'origin-sign-d').run();
    forgetOrigin('origin-sign-d');
    await expect(signedOriginFetch(env, 'origin-sign-d', 'https://d.example.com/hls/a/b.m3u8')).rejects.toBeInstanceOf(UnknownOriginError);
    expect(seen).toEqual([]);
  });
});
